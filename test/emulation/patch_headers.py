#!/usr/bin/env python3
"""Copies include/skippy to OUT/skippy with the edits that let g++ run its CUDA kernels on the host, each
block's threads as fibers (test/emulation/README.md):

- every CUDA header includes shim.hpp after <cuda_runtime.h>;
- __shared__ variables become static (one block runs at a time), dynamic shared memory a static array;
- launch() runs the grid in skippy::emulation::launch, and no launch is early (no programmatic dependent
  launch to emulate);
- gemm.cuh's tensor-core kernel compiles its sm_80 body over shim.hpp's nvcuda::wmma;
- CUB's block reduction and scan are cub_block.hpp's stand-ins (thread-order folds), so the kernels
  built on them (kernels::attention, sampling, selection) run, with other float sums than a GPU's;
- kernel<<<...>>>(args); becomes a call of shim.hpp's Chevron, and the umbrella header includes the CUDA
  backend under g++.

With --tests, the CUDA tests too: OUT/../test/cuda/*.cpp, beside copies of test/support and examples/*.hpp.

    test/emulation/patch_headers.py OUT [--tests]"""

import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIM = pathlib.Path(__file__).resolve().parent / "shim.hpp"
CUB = pathlib.Path(__file__).resolve().parent / "cub_block.hpp"


def replace(text, old, new, path):
    if old not in text:
        sys.exit("patch_headers: %s no longer contains %r: update the patch" % (path, old[:60]))
    return text.replace(old, new)


def shared_static(text):
    """__shared__ variables become static (one block runs at a time), dynamic shared memory a static array."""
    text = re.sub(r"extern __shared__ (__align__\(16\) )?float (\w+)\[\];", r"alignas(16) static float \2[65536];", text)
    return text.replace("__shared__ ", "static ")


def chevrons(text):
    """kernel<<<grid, threads[, bytes[, stream]]>>>(args); in code (not in a comment) becomes shim.hpp's
    Chevron(grid, threads, ...).run over a call of the kernel as a function (its default arguments and
    deduced template arguments as in the launch). The arguments are those of the statement, up to its ");"."""
    def call(m):
        line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
        if "//" in line:
            return m.group(0)
        return "skippy::emulation::Chevron(%s).run([&] { %s(%s); });" % (m.group(2), m.group(1), m.group(3))
    return re.sub(r"([\w:]+(?:<[^<>;]*>)?)<<<([^;]*?)>>>\(([^;]*?)\);", call, text)


def patch_tests(out):
    """The CUDA tests (test/cuda/*.cu) as C++ sources OUT/test/cuda/*.cpp, beside copies of the headers they
    include (test/support, examples/*.hpp)."""
    shutil.rmtree(out / "test", ignore_errors=True)
    shutil.copytree(ROOT / "test" / "support", out / "test" / "support")
    (out / "examples").mkdir(exist_ok=True)
    for header in (ROOT / "examples").glob("*.hpp"):
        shutil.copy(header, out / "examples" / header.name)
    (out / "test" / "cuda").mkdir()
    for source in sorted((ROOT / "test" / "cuda").glob("*.cu")):
        text = chevrons(shared_static(source.read_text()))
        (out / "test" / "cuda" / (source.stem + ".cpp")).write_text(
            '#include <cuda_runtime.h>\n#include "%s"\n%s' % (SHIM, text))


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--tests"):
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    shutil.rmtree(out / "skippy", ignore_errors=True)
    shutil.copytree(ROOT / "include" / "skippy", out / "skippy")
    # CUB's block primitives: the stand-ins of cub_block.hpp (thread-order folds, not CUB's order).
    cub = out / "cub" / "block"
    cub.mkdir(parents=True, exist_ok=True)
    for name in ("block_reduce", "block_scan"):
        (cub / (name + ".cuh")).write_text('#pragma once\n#include "%s"\n' % CUB)
    for path in (out / "skippy").rglob("*"):
        if path.suffix not in (".cuh", ".hpp"):
            continue
        text = chevrons(shared_static(path.read_text()))
        if path.suffix == ".cuh" and "#include <cuda_runtime.h>" in text:
            text = text.replace("#include <cuda_runtime.h>", '#include <cuda_runtime.h>\n#include "%s"' % SHIM, 1)
        if path.name == "skippy.hpp":  # the umbrella's CUDA backend, as nvcc sees it
            text = replace(text, "#if defined(__CUDACC__)\n", "#if 1\n", path)
        if path.name == "gemm.cuh":  # the kernel's sm_80 body, over shim.hpp's nvcuda::wmma
            text = replace(text, "#include <mma.h>\n", "", path)
            text = replace(text, "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800", "#if 1", path)
        if path.name == "launch.cuh":
            launch = "const cudaError_t e = cudaLaunchKernelEx(&config, kernel, std::forward<A>(args)...);\n"
            text = replace(text, launch +
                           "  const cudaError_t last = cudaGetLastError();\n  return e != cudaSuccess ? e : last;",
                           "(void)config;\n  return emulation::launch(grid, block, kernel, std::forward<A>(args)...);",
                           path)
            text = re.sub(r"inline bool early_launch_supported\(\) \{.*?\n\}\n",
                          "inline bool early_launch_supported() { return false; }\n", text, flags=re.S)
        path.write_text(text)
    if len(sys.argv) == 3:
        patch_tests(out.parent)


if __name__ == "__main__":
    main()
