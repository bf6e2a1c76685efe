#!/usr/bin/env bash
# Static instruction counts of the weight kernel, no GPU needed: compiles gemv_interleaved for every type
# and M in {1, 2, 5, 8} to an sm_90 cubin, disassembles it and prints bench/sass_mix.py's table.
#   bench/sass_mix.sh [OUTDIR]     (NVCC and NVDISASM may name the tools; defaults: the CUDA toolkit's)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/sass}
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
nvdisasm=${NVDISASM:-/usr/local/cuda/bin/nvdisasm}
mkdir -p "$out"
{
  echo '#include <skippy/cuda/gemv.cuh>'
  echo '#include <skippy/quant/q8_slice.hpp>'
  for q in F32 F16 BF16 F8_E4M3 Q8_0 Q4_0; do
    for m in 1 2 5 8; do
      echo "template __global__ void skippy::cuda::kernels::gemv_interleaved<skippy::quant::$q, $m, false>("
      echo "    skippy::cuda::GemvBatch<skippy::quant::$q>, const float*);"
    done
  done
  for q in Q8_0 Q4_0; do  # the 8-bit activation arithmetic (cuda::gemv_q8)
    for m in 1 2 5 8; do
      echo "template __global__ void skippy::cuda::kernels::gemv_interleaved<skippy::quant::$q, $m, false,"
      echo "    skippy::quant::Q8Slices<skippy::quant::$q>>(skippy::cuda::GemvBatch<skippy::quant::$q>,"
      echo "    skippy::quant::Q8Rows);"
    done
  done
} > "$out/gemv_kernels.cu"
"$nvcc" -std=c++17 -arch=sm_90 -cubin -Xptxas -v -Iinclude -o "$out/gemv_kernels.cubin" "$out/gemv_kernels.cu" \
  2> "$out/ptxas.txt"
"$nvdisasm" -c "$out/gemv_kernels.cubin" > "$out/gemv_kernels.sass"
python3 bench/sass_mix.py "$out/gemv_kernels.sass" "$out/ptxas.txt"
