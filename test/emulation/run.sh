#!/usr/bin/env bash
# Builds and runs the emulated CUDA checks (test/emulation/README.md) with g++ and the CUDA Toolkit's
# headers, in OUT (default build/emulation): about 2 minutes on 2 cores, most of it g++. CTest runs each
# check (CHECKS=name) as a test of its name wherever the CUDA Toolkit is found.
#
#   test/emulation/run.sh [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/emulation}
cuda=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$out"
"${PYTHON:-python3}" "$here/patch_headers.py" "$out/include"
status=0
for check in ${CHECKS:-emulate_gemv_tiled emulate_gemv_swiglu_q8 emulate_fused_norm emulate_forward_int8 emulate_forward_fused_norm emulate_gemm emulate_gemv_half_mma emulate_sample emulate_select}; do
  echo "=== $check"
  g++ -std=c++20 -O1 -w -I "$out/include" -I "$cuda/include" "$here/$check.cpp" -o "$out/$check" \
    -L "$cuda/lib64" -lcudart
  "$out/$check" || status=1
done
exit $status
