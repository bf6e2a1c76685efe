#!/usr/bin/env python3
"""Instruction mix of the weight kernel's slice loop, read from a SASS listing (nvdisasm -c or cuobjdump -sass).

The quantised weight kernels are likely bound by issued instructions rather than bytes when decoding costs
more than a few instructions per weight, so the count per weight in the loop is a figure one can take without a GPU.
Prints, per gemv_interleaved instantiation (type, arithmetic: float or 8-bit activations, M): the loop's
instructions (the longest backward branch), the instructions per weight (the loop handles gemv_rows_per_block rows x one slice each), registers (from a
ptxas -v log, if given) and the most frequent opcodes.

usage: sass_mix.py LISTING [PTXAS_LOG]
"""
import collections
import re
import sys

ROWS_PER_BLOCK = 4  # cuda::gemv_rows_per_block
SLICE_VALUES = {"F32": 8, "F16": 8, "BF16": 8, "F8_E4M3": 16, "Q8_0": 8, "Q4_0": 16}  # quant::Slice<Q>::values
NAME = re.compile(r"gemv_interleavedINS_5quant\d+(\w+?)ELi(\d+)ELb([01])E")


def functions(listing):
    """(mangled name, [(address, instruction)]) per function of the listing."""
    for part in re.split(r"\n\s*\.text\.", listing)[1:]:
        name = part.split(":", 1)[0].split()[0]
        body = [(int(a, 16), t.strip()) for a, t in re.findall(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", part)]
        labels = {m.group(1): int(m.group(2), 16) for m in re.finditer(r"(\.L_x_\d+):\s*\n\s*/\*([0-9a-f]+)\*/", part)}
        yield name, body, labels


def longest_loop(body, labels):
    """The instructions of the longest backward branch's range other than the L2 prefetch loop (bulk
    prefetches, UBLKPF) before the slice loop, and of its shortest path from the loop's head to that
    branch: the path a slice without special cases takes (F16's NaN fallback is off it)."""
    best = None
    addresses = [a for a, _ in body]
    for i, (address, text) in enumerate(body):
        target = re.search(r"BRA\s.*?(\.L_x_\d+)", text)
        if target and labels.get(target.group(1), address + 1) <= address:
            start = labels[target.group(1)]
            prefetch = any("UBLKPF" in t for _, t in body[addresses.index(start):i + 1])
            if not prefetch and (best is None or address - start > body[best[1]][0] - body[best[0]][0]):
                best = (addresses.index(start), i)
    if best is None:
        return [], []
    first, last = best
    loop = body[first:last + 1]
    index = {a: k for k, (a, _) in enumerate(loop)}
    # Breadth-first over the loop's control flow (each instruction one step): fall through unless the
    # instruction is an unpredicated branch; a branch also goes to its target.
    previous = {0: None}
    queue = collections.deque([0])
    while queue:
        k = queue.popleft()
        if k == len(loop) - 1:
            break
        text = loop[k][1]
        nexts = []
        target = re.search(r"BRA\s.*?(\.L_x_\d+)", text)
        if target and labels.get(target.group(1)) in index:
            nexts.append(index[labels[target.group(1)]])
        if not (re.match(r"BRA\b", text) or text.startswith("EXIT")):
            nexts.append(k + 1)
        for n in nexts:
            if n not in previous:
                previous[n] = k
                queue.append(n)
    path, k = [], len(loop) - 1
    while k is not None and k in previous:
        path.append(loop[k][1])
        k = previous[k]
    return [t for _, t in loop], path[::-1]


def registers(log):
    found = {}
    for name, count in re.findall(r"Compiling entry function '(\w+)'.*?Used (\d+) registers", log, re.S):
        found[name] = int(count)
    return found


def main():
    listing = open(sys.argv[1]).read()
    regs = registers(open(sys.argv[2]).read()) if len(sys.argv) > 2 else {}
    rows = []
    for name, body, labels in functions(listing):
        m = NAME.search(name)
        if not m:
            continue
        quant, tile, swiglu = m.group(1), int(m.group(2)), m.group(3) == "1"
        activations = "int8" if "Q8Slices" in name else "float"
        loop, path = longest_loop(body, labels)
        ops = collections.Counter(re.sub(r"^@!?U?P\w+\s+", "", t).split()[0].split(".")[0] for t in path)
        weights = ROWS_PER_BLOCK * SLICE_VALUES[quant]
        mix = ", ".join(f"{op} {n}" for op, n in ops.most_common(6))
        rows.append((quant, activations, tile, swiglu, len(loop), len(path), len(path) / weights,
                     regs.get(name, "-"), mix))
    print("| type | activations | M | SwiGLU | loop instructions | on its path | per weight | registers | "
          "most frequent on the path |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in sorted(rows, key=lambda r: (list(SLICE_VALUES).index(r[0]), r[1], r[2], r[3])):
        print(f"| {r[0]} | {r[1]} | {r[2]} | {'yes' if r[3] else 'no'} | {r[4]} | {r[5]} | {r[6]:.2f} | {r[7]} | "
              f"{r[8]} |")


if __name__ == "__main__":
    main()
