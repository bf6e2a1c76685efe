#!/usr/bin/env python3
"""bench/summarize.py over a synthetic run: every step mode BM_step registers and the baseline families
of the weight kernels reach the tables, and a benchmark that reported an error is left out."""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def bench(name, us, pct=50.0, error=False):
    b = {"name": name + "/manual_time", "run_type": "iteration", "real_time": us, "time_unit": "us",
         "pct_of_copy_bw": pct}
    if error:
        b["error_occurred"] = True
    return b


def main():
    steps = [bench("BM_step<quant::F16>/%d/%d" % (kind, mode), 4000.0 + mode) for kind in (0, 1, 2)
             for mode in range(9)]
    gemv = [bench("BM_gemv<quant::F16>/4096/4096/%d" % m, 20.0 + m) for m in (1, 5)]
    gemv += [bench("BM_gemv_normed<quant::Q8_0>/4096/4096/%d" % m, 30.0 + m) for m in (1, 5)]
    gemv += [bench("BM_gemv_reference<quant::Q4_0>/4096/4096/1", 40.0)]
    gemv += [bench("BM_gemv_residual<quant::F16>/4096/4096/1", 50.0, error=True)]
    with tempfile.TemporaryDirectory() as run:
        for name, data in (("decode_step.json", steps), ("gemv.json", gemv)):
            with open(os.path.join(run, name), "w") as f:
                json.dump({"benchmarks": data}, f)
        out = subprocess.run([sys.executable, os.path.join(HERE, "summarize.py"), run], check=True,
                             capture_output=True, text=True).stdout
    failures = []
    for want in ("graph+fused norms", "graph+early+fused norms", "BM_gemv_normed<quant::Q8_0>",
                 "BM_gemv_reference<quant::Q4_0>", "BM_gemv<quant::F16>"):
        if want not in out:
            failures.append("missing: " + want)
    if "BM_gemv_residual" in out:
        failures.append("an errored benchmark was summarised")
    if failures:
        print(out)
        print("\n".join(failures))
        sys.exit(1)
    print("summarize.py: all step modes and weight-kernel families reported")


if __name__ == "__main__":
    main()
