#pragma once
// Weight x activation for m = 1..K+1 activation rows, on the ggml block layout in place.
//
// One warp per weight row; lane l takes the 32-value chunks l, l+32, l+64, ... in order, evaluating
// quant::chunk_dot (the host's formula) for each activation row, then a fixed butterfly reduction. Each
// (weight row, activation row) result therefore uses the same operations in the same order whatever m
// is, so a token's row is bit-identical alone or inside a verify block (DESIGN.md §1). This is the
// reference layout; tuned variants keep that property.

#include <cuda_runtime.h>

#include <utility>

#include "../model/view.hpp"
#include "../quant/dot.hpp"

namespace skippy::cuda {

inline constexpr int gemv_warps_per_block = 4;
inline constexpr int gemv_max_tile = 8;  // activation rows per launch; larger m is tiled

namespace kernels {

template <class Q, int M>
__global__ void __launch_bounds__(32 * gemv_warps_per_block)
    gemv(const typename Q::block* __restrict__ w, int rows, int cols, const float* __restrict__ x,
         float* __restrict__ y) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int r = static_cast<int>(blockIdx.x) * gemv_warps_per_block + static_cast<int>(threadIdx.x >> 5);
  if (r >= rows) return;
  constexpr int blocks_per_chunk = quant::dot_chunk / Q::block_size;
  const int chunks = cols / quant::dot_chunk;
  const typename Q::block* row = w + static_cast<long>(r) * (cols / Q::block_size);
  float acc[M];
#pragma unroll
  for (int i = 0; i < M; ++i) acc[i] = 0.0f;
  for (int c = lane; c < chunks; c += 32) {
#pragma unroll
    for (int i = 0; i < M; ++i)
      acc[i] += quant::chunk_dot(row + c * blocks_per_chunk, x + static_cast<long>(i) * cols + c * quant::dot_chunk);
  }
#pragma unroll
  for (int i = 0; i < M; ++i) {
    float v = acc[i];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) y[static_cast<long>(i) * rows + r] = v;
  }
}

}  // namespace kernels

namespace detail {
template <class Q, int M>
cudaError_t launch_gemv(const MatrixView<Q>& w, const float* x, float* y, cudaStream_t stream) {
  const int grid = (w.rows + gemv_warps_per_block - 1) / gemv_warps_per_block;
  kernels::gemv<Q, M><<<grid, 32 * gemv_warps_per_block, 0, stream>>>(w.data, w.rows, w.cols, x, y);
  return cudaGetLastError();
}

template <class Q, int... M>
cudaError_t dispatch_gemv(int m, const MatrixView<Q>& w, const float* x, float* y, cudaStream_t stream,
                          std::integer_sequence<int, M...>) {
  cudaError_t e = cudaErrorInvalidValue;
  ((m == M + 1 ? (e = launch_gemv<Q, M + 1>(w, x, y, stream), true) : false) || ...);
  return e;
}
}  // namespace detail

// y[i][r] = W[r] . x[i] for i < m: x is m rows of w.cols floats, y is m rows of w.rows floats, all in
// device memory. Returns the launch error, cudaErrorInvalidValue for m < 1 or a bad shape.
template <class Q>
cudaError_t gemv(const MatrixView<Q>& w, const float* x, int m, float* y, cudaStream_t stream = nullptr) {
  if (m < 1 || w.cols % quant::dot_chunk != 0 || w.rows < 1) return cudaErrorInvalidValue;
  for (int i0 = 0; i0 < m; i0 += gemv_max_tile) {
    const int tile = m - i0 < gemv_max_tile ? m - i0 : gemv_max_tile;
    const cudaError_t e = detail::dispatch_gemv<Q>(tile, w, x + static_cast<long>(i0) * w.cols,
                                                   y + static_cast<long>(i0) * w.rows, stream,
                                                   std::make_integer_sequence<int, gemv_max_tile>{});
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace skippy::cuda
