#!/usr/bin/env python3
"""Markdown tables of a GPU run's benchmark JSON (bench/gpu_check.sh's gemv.json and decode_step.json),
optionally against an earlier run's, with issue 3's targets marked.

    bench/summarize.py RUN_DIR [--base EARLIER_RUN_DIR]

Tables: the weight kernels at M = 1 and 5 (us, % of copy bandwidth, M = 5 / M = 1), the weight kernels back
to back in a graph (BM_gemv_stream) beside their one-launch figure, the prefill kernels, whole steps at 7B dimensions per launch
mode, and the small kernels. A missing file or benchmark leaves its rows out. Standard library only."""

import argparse
import json
import os
import re
import sys

# Issue 3's targets: the weight kernel at M = 1 on the large shapes, M = 5 against M = 1, the AR step.
M1_TARGET = {"F16": 92.0, "BF16": 92.0, "Q8_0": 92.0, "Q4_0": 85.0}
M5_RATIO_TARGET = 1.15
AR_TARGET = 85.0
LARGE_ROWS = 11008  # "large shapes": 11008 x 4096 and up, and the wide rows (cols >= 11008)

STEP_KINDS = {0: "AR", 1: "draft", 2: "verify"}
STEP_MODES = {0: "direct", 1: "graph", 2: "graph+early", 3: "graph+grouped", 4: "graph+early+grouped",
              5: "graph+tensor-core decoding", 6: "graph+early+tensor-core decoding",
              7: "graph+fused norms", 8: "graph+early+fused norms"}
STREAM_PATHS = {"interleaved": "BM_gemv", "int8": "BM_gemv_q8", "packed": "BM_gemv_packed",
                "packed_int8": "BM_gemv_q8_packed", "tiled_int8": "BM_gemv_q8_tiled", "mma": "BM_gemv_mma"}


def parse(text, path):
    """A Google Benchmark JSON file; one cut short (a step killed by its timeout before the closing brackets)
    is read up to its last complete benchmark entry, with a warning, so the other tables still print."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    start, end = text.find('"benchmarks"'), len(text)
    while start >= 0:
        end = text.rfind("}", start, end)  # the next candidate end of an entry, from the back
        if end < 0:
            break
        try:
            data = json.loads(text[:end + 1] + "]}")
        except json.JSONDecodeError:
            continue
        print("summarize: %s is truncated; read its first %d benchmarks" % (path, len(data.get("benchmarks", []))),
              file=sys.stderr)
        return data
    print("summarize: %s is not readable JSON; left out" % path, file=sys.stderr)
    return {}


def load(run_dir, name):
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = parse(f.read(), path)
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        out[re.sub(r"(/iterations:\d+)?/(manual|real)_time$", "", b["name"])] = b
    return out


def us(b):
    """A benchmark's time in microseconds."""
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def fmt(b):
    return "-" if b is None else "%.1f (%.0f%%)" % (us(b), b.get("pct_of_copy_bw", float("nan")))


def versus(b, base):
    return "-" if b is None or base is None else "%.2fx" % (us(b) / us(base))


def type_of(family):
    m = re.search(r"quant::(\w+)", family)
    return m.group(1) if m else "?"


def gemv_tables(g, base):
    families = sorted({n.split("/")[0] for n in g if re.match(r"BM_gemv(_q8)?(_packed|_tiled|_mma|_reference|_normed|_residual)?<", n)})
    if not families:
        return
    print("## Weight kernels, one launch after an L2 flush (BM_gemv*)\n")
    print("M = 1 target: %s %% of copy (large shapes: %d rows or more, or as wide); M = 5 / M = 1 target <= %.2f."
          % (", ".join("%s %g" % kv for kv in M1_TARGET.items()), LARGE_ROWS, M5_RATIO_TARGET))
    head = "| kernel | rows x cols | M=1 us (% copy) | M=5 us (% copy) | M=5 / M=1 | targets |"
    if base:
        head += " M=1 / base | M=5 / base |"
    print("\n" + head)
    print("|" + " --- |" * (head.count("|") - 1))
    for fam in families:
        shapes = sorted({tuple(int(x) for x in n.split("/")[1:3]) for n in g if n.startswith(fam + "/")})
        for r, c in shapes:
            one, five = g.get("%s/%d/%d/1" % (fam, r, c)), g.get("%s/%d/%d/5" % (fam, r, c))
            ratio = us(five) / us(one) if one and five else None
            marks = []
            large = max(r, c) >= LARGE_ROWS
            t = M1_TARGET.get(type_of(fam))
            if one and t is not None and large:
                marks.append("M=1 %s" % ("met" if one["pct_of_copy_bw"] >= t else "not met"))
            if ratio is not None:
                marks.append("ratio %s" % ("met" if ratio <= M5_RATIO_TARGET else "not met"))
            row = "| %s | %d x %d | %s | %s | %s | %s |" % (fam, r, c, fmt(one), fmt(five),
                                                           "-" if ratio is None else "%.2f" % ratio, ", ".join(marks))
            if base:
                row += " %s | %s |" % (versus(one, base.get("%s/%d/%d/1" % (fam, r, c))),
                                       versus(five, base.get("%s/%d/%d/5" % (fam, r, c))))
            print(row)
    print()


def stream_table(g):
    names = [n for n in g if n.startswith("BM_gemv_stream<")]
    if not names:
        return
    print("## Weight kernels back to back in a CUDA Graph (BM_gemv_stream) against one launch (BM_gemv*)\n")
    print("| kernel | rows x cols | M | one launch us (% copy) | back to back us (% copy) |"
          " early launches us (% copy) |")
    print("| --- | --- | --- | --- | --- | --- |")
    keys = sorted({(n.split("/")[0],) + tuple(int(x) for x in n.split("/")[1:4]) for n in names})
    for fam, r, c, m in keys:
        path = re.search(r"Path::(\w+)", fam)
        single_family = STREAM_PATHS.get(path.group(1) if path else "", "?")
        single = "%s<quant::%s>/%d/%d/%d" % (single_family, type_of(fam), r, c, m)
        plain, early = g.get("%s/%d/%d/%d/0" % (fam, r, c, m)), g.get("%s/%d/%d/%d/1" % (fam, r, c, m))
        print("| %s | %d x %d | %d | %s | %s | %s |" % (fam, r, c, m, fmt(g.get(single)), fmt(plain), fmt(early)))
    print()


def step_table(d, base):
    names = [n for n in d if n.startswith("BM_step<")]
    if not names:
        return
    print("## Steps at 7B dimensions (BM_step; AR target %g %% of the roofline)\n" % AR_TARGET)
    head = "| model | launches | AR ms (% roofline) | AR tokens/s | draft ms | verify ms | verify / AR |"
    if base:
        head += " AR / base | verify / base |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    families = sorted({n.split("/")[0] for n in names})
    for fam in families:
        for mode, what in STEP_MODES.items():
            get = lambda kind, src=d: src.get("%s/%d/%d" % (fam, kind, mode))
            ar, draft, verify = get(0), get(1), get(2)
            if ar is None and verify is None:
                continue
            ms = lambda b: "-" if b is None else "%.2f" % (us(b) / 1e3)
            arcell = "-" if ar is None else "%.2f (%.1f%%)" % (us(ar) / 1e3, ar.get("pct_of_copy_bw", float("nan")))
            ratio = "-" if not (ar and verify) else "%.2f" % (us(verify) / us(ar))
            tps = "-" if ar is None else "%.0f" % (1e6 / us(ar))  # an AR step emits one token
            row = "| %s | %s | %s | %s | %s | %s | %s |" % (fam, what, arcell, tps, ms(draft), ms(verify), ratio)
            if base:
                row += " %s | %s |" % (versus(ar, get(0, base)), versus(verify, get(2, base)))
            print(row)
    print()


def other_table(d, base, g):
    names = [n for n in list(d) + list(g)
             if re.match(r"BM_(attention|rmsnorm|argmax|sample|speculative_verify|empty_launch|quantize_activations|"
                         r"layer_fusion)", n)]
    if not names:
        return
    print("## Other kernels\n")
    print("Arguments: BM_attention/context/rows/grouped, BM_rmsnorm/rows/8-bit output, BM_argmax/vocabulary/rows, "
          "BM_sample/vocabulary/rows/(0 temperature, 1 top-k and top-p, 2 top-p alone), "
          "BM_speculative_verify/vocabulary/(same), "
          "BM_layer_fusion/(0 Q/K/V, 1 gate/up)/M/fused, BM_quantize_activations/columns/rows.\n")
    head = "| benchmark | us |" + (" / base |" if base else "")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for n in sorted(names, key=lambda s: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]):
        b = d.get(n) or g.get(n)
        row = "| %s | %.1f |" % (n, us(b))
        if base:
            row += " %s |" % versus(b, base.get(n))
        print(row)
    print()


def prefill_table(g):
    """The TF32 gemm against the tensor-core gemv kernels' prefill forms per shape and M."""
    names = [n for n in g if re.match(r"BM_(gemm|prefill_q8_tiled|prefill_mma)<", n)]
    if not names:
        return
    print("## Prefill blocks: TF32 gemm (BM_gemm) and the prefill forms of the tiled kernel (BM_prefill_q8_tiled, "
          "8-bit activations) and of gemv_mma (BM_prefill_mma, F16 / BF16)\n")
    print("| kernel | rows x cols | M | weight rows a block | us | TFLOP/s | rows/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in sorted(names, key=lambda s: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]):
        b = g[n]
        parts = n.split("/")
        fam, r, c, m = parts[:4]
        # BM_gemm's fifth part: the tile of weight rows (0: gemm's choice; before 2026-12-02, no part: 64).
        tile = "-"
        if fam.startswith("BM_gemm"):
            tile = {"0": "gemm's choice"}.get(parts[4], parts[4]) if len(parts) > 4 else "64"
        print("| %s | %s x %s | %s | %s | %.1f | %.1f | %.0f |" % (fam, r, c, m, tile, us(b),
                                                               b.get("flop_per_second", 0) / 1e12,
                                                               b.get("rows_per_second", 0)))
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run's folder: gemv.json and/or decode_step.json")
    p.add_argument("--base", help="an earlier run's folder to compare against")
    a = p.parse_args()
    g, d = load(a.run, "gemv.json"), load(a.run, "decode_step.json")
    if not g and not d:
        sys.exit("summarize: no gemv.json or decode_step.json in %s" % a.run)
    bg = load(a.base, "gemv.json") if a.base else None
    bd = load(a.base, "decode_step.json") if a.base else None
    gemv_tables(g, bg)
    stream_table(g)
    prefill_table(g)
    step_table(d, bd)
    other_table(d, {**(bg or {}), **(bd or {})} if a.base else None, g)


if __name__ == "__main__":
    main()
