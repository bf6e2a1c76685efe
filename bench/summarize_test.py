#!/usr/bin/env python3
"""bench/summarize.py over a synthetic run: every step mode BM_step registers and the baseline families
of the weight kernels reach the tables, the AR step's tokens/s is given, a benchmark that reported an error
is left out, and a decode_step.json cut short is read up to its last complete entry."""

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
    if "| 250 |" not in out:  # the AR step of 4000 us: 250 tokens/s
        failures.append("no AR tokens/s")
    # A decode_step.json cut short by its step's timeout: the complete entries before the cut are read, and
    # the weight-kernel tables still print.
    with tempfile.TemporaryDirectory() as run:
        with open(os.path.join(run, "gemv.json"), "w") as f:
            json.dump({"benchmarks": gemv}, f)
        text = json.dumps({"context": {"host_name": "x"}, "benchmarks": steps}, indent=2)
        cut = text.index('"BM_step<quant::F16>/1/0') + 10  # inside the tenth entry (kinds 0, modes 0..8 first)
        with open(os.path.join(run, "decode_step.json"), "w") as f:
            f.write(text[:cut])
        r = subprocess.run([sys.executable, os.path.join(HERE, "summarize.py"), run], capture_output=True, text=True)
        if r.returncode != 0 or "truncated; read its first 9 benchmarks" not in r.stderr:
            failures.append("truncated JSON: rc %d, stderr %s" % (r.returncode, r.stderr))
        if "BM_gemv<quant::F16>" not in r.stdout or "## Steps" not in r.stdout:
            failures.append("truncated JSON: tables missing")
    if failures:
        print(out)
        print("\n".join(failures))
        sys.exit(1)
    print("summarize.py: all step modes and weight-kernel families reported")


if __name__ == "__main__":
    main()
