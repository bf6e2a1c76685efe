#pragma once
// Weight x activation for m = 1..K+1 activation rows, on the ggml block layout in place, one pass over
// the weights for all m rows. Two kernels, one contract: each (weight row, activation row) result uses
// the same operations in the same order whatever m is, so a token's row is bit-identical alone or inside
// a verify block (DESIGN.md §1).
//
// - interleaved (used wherever its alignment holds: activations 16-byte aligned, float-type weights
//   16-byte aligned): the slices of quant/slice.hpp. Thread t of a block takes slices t, t+128, ... of
//   gemv_rows_per_block rows at once, so a warp's loads are consecutive bytes (16-byte vectors for the
//   float types, 2-byte loads inside Q8_0 / Q4_0 blocks), each activation load serves all the block's
//   rows, and four warps share a row: 2 KB of weights in flight per block and row at M = 1, enough to
//   cover memory latency with a few hundred rows. quant::interleaved_dot_row is its arithmetic on the
//   host, bit for bit.
// - reference: one warp per row, lane l evaluates quant::chunk_dot (the host backend's formula) on the
//   32-value chunks l, l+32, ...; its 2-byte loads stride across the lanes. Any alignment; the fallback,
//   and the benchmarks' baseline.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../model/view.hpp"
#include "../quant/dot.hpp"
#include "../quant/slice.hpp"

namespace skippy::cuda {

inline constexpr int gemv_max_tile = 8;         // activation rows per launch; larger m is tiled
inline constexpr int gemv_rows_per_block = 4;   // interleaved kernel: weight rows sharing each activation load
inline constexpr int gemv_warps_per_block = 4;  // reference kernel: one row per warp

namespace kernels {

// The xor butterfly of quant::interleaved_dot_row (math::butterfly_sum); every lane ends with the sum.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

template <class Q, int M>
__global__ void __launch_bounds__(quant::interleaved_threads)
    gemv_interleaved(const typename Q::block* __restrict__ w, int rows, int cols, const float* __restrict__ x,
                     float* __restrict__ y) {
  using S = quant::Slice<Q>;
  constexpr int R = gemv_rows_per_block, W = quant::interleaved_warps;
  static_assert(R * M <= 32, "gemv: the final sums are written by one warp");
  __shared__ float warp_sums[W][R][M];
  const int t = static_cast<int>(threadIdx.x), lane = t & 31, warp = t >> 5;
  const int r0 = static_cast<int>(blockIdx.x) * R;  // < rows: the grid has ceil(rows / R) blocks
  const typename Q::block* row[R];
#pragma unroll
  for (int q = 0; q < R; ++q)  // rows past the end re-read the last row and are not stored
    row[q] = w + static_cast<long>(r0 + q < rows ? r0 + q : rows - 1) * (cols / Q::block_size);
  float acc[R][M];
#pragma unroll
  for (int q = 0; q < R; ++q)
#pragma unroll
    for (int i = 0; i < M; ++i) acc[q][i] = 0.0f;
  const int slices = cols / S::values;
  // Not unrolled: unrolling doubles the registers (ptxas: up to 255, with spills), and more resident
  // warps keep as many bytes in flight.
#pragma unroll 1
  for (int s = t; s < slices; s += quant::interleaved_threads) {
    typename S::Raw raw[R];
#pragma unroll
    for (int q = 0; q < R; ++q) raw[q] = S::load(row[q], s);
    float v[R][S::values], scale[R];
#pragma unroll
    for (int q = 0; q < R; ++q) scale[q] = S::decode(raw[q], v[q]);
#pragma unroll
    for (int i = 0; i < M; ++i) {
      float xs[S::values];
      quant::load_activations<Q>(x + static_cast<long>(i) * cols, s, xs);
#pragma unroll
      for (int q = 0; q < R; ++q) acc[q][i] = quant::slice_step(acc[q][i], scale[q], v[q], xs);
    }
  }
#pragma unroll
  for (int q = 0; q < R; ++q)
#pragma unroll
    for (int i = 0; i < M; ++i) {
      const float v = warp_sum(acc[q][i]);
      if (lane == 0) warp_sums[warp][q][i] = v;
    }
  __syncthreads();
  if (t < R * M) {  // the warps' sums in warp order
    const int q = t / M, i = t % M;
    float sum = warp_sums[0][q][i];
#pragma unroll
    for (int k = 1; k < W; ++k) sum += warp_sums[k][q][i];
    if (r0 + q < rows) y[static_cast<long>(i) * rows + r0 + q] = sum;
  }
}

template <class Q, int M>
__global__ void __launch_bounds__(32 * gemv_warps_per_block)
    gemv_reference(const typename Q::block* __restrict__ w, int rows, int cols, const float* __restrict__ x,
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
    const float v = warp_sum(acc[i]);
    if (lane == 0) y[static_cast<long>(i) * rows + r] = v;
  }
}

}  // namespace kernels

namespace detail {
enum class GemvKernel { interleaved, reference };

template <GemvKernel K, class Q, int M>
cudaError_t launch_gemv(const MatrixView<Q>& w, const float* x, float* y, cudaStream_t stream) {
  if constexpr (K == GemvKernel::interleaved) {
    const int grid = (w.rows + gemv_rows_per_block - 1) / gemv_rows_per_block;
    kernels::gemv_interleaved<Q, M><<<grid, quant::interleaved_threads, 0, stream>>>(w.data, w.rows, w.cols, x, y);
  } else {
    const int grid = (w.rows + gemv_warps_per_block - 1) / gemv_warps_per_block;
    kernels::gemv_reference<Q, M><<<grid, 32 * gemv_warps_per_block, 0, stream>>>(w.data, w.rows, w.cols, x, y);
  }
  return cudaGetLastError();
}

template <GemvKernel K, class Q, int... M>
cudaError_t dispatch_gemv(int m, const MatrixView<Q>& w, const float* x, float* y, cudaStream_t stream,
                          std::integer_sequence<int, M...>) {
  cudaError_t e = cudaErrorInvalidValue;
  ((m == M + 1 ? (e = launch_gemv<K, Q, M + 1>(w, x, y, stream), true) : false) || ...);
  return e;
}

inline bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

template <GemvKernel K, class Q>
cudaError_t gemv_tiles(const MatrixView<Q>& w, const float* x, int m, float* y, cudaStream_t stream) {
  if (m < 1 || w.cols % quant::dot_chunk != 0 || w.rows < 1) return cudaErrorInvalidValue;
  if (!aligned(w.data, alignof(typename Q::block)) || !aligned(x, alignof(float)) || !aligned(y, alignof(float)))
    return cudaErrorMisalignedAddress;
  for (int i0 = 0; i0 < m; i0 += gemv_max_tile) {
    const int tile = m - i0 < gemv_max_tile ? m - i0 : gemv_max_tile;
    const cudaError_t e = dispatch_gemv<K, Q>(tile, w, x + static_cast<long>(i0) * w.cols,
                                              y + static_cast<long>(i0) * w.rows, stream,
                                              std::make_integer_sequence<int, gemv_max_tile>{});
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}
}  // namespace detail

// Whether gemv runs the interleaved kernel for these operands: the activations 16-byte aligned, and for
// the float types the weights too (Q8_0 / Q4_0 blocks are read with 2-byte loads). Rows of a multiple of
// 32 values keep every row and activation row aligned once the first is.
template <class Q>
bool gemv_interleaved_fits(const MatrixView<Q>& w, const float* x) {
  if (!detail::aligned(x, 16)) return false;
  if constexpr (std::is_same_v<Q, quant::Q8_0> || std::is_same_v<Q, quant::Q4_0>) return true;
  else return detail::aligned(w.data, 16);
}

// y[i][r] = W[r] . x[i] for i < m: x is m rows of w.cols floats, y is m rows of w.rows floats, all in
// device memory. Returns the launch error, cudaErrorInvalidValue for m < 1 or a bad shape,
// cudaErrorMisalignedAddress for a pointer not aligned to its type. Which kernel runs depends on the
// operands' alignment (gemv_interleaved_fits), and the two round differently: keep the buffers a decoder
// compares across its passes equally aligned (cuda::Forward requires a 16-byte aligned workspace).
template <class Q>
cudaError_t gemv(const MatrixView<Q>& w, const float* x, int m, float* y, cudaStream_t stream = nullptr) {
  if (gemv_interleaved_fits(w, x)) return detail::gemv_tiles<detail::GemvKernel::interleaved>(w, x, m, y, stream);
  return detail::gemv_tiles<detail::GemvKernel::reference>(w, x, m, y, stream);
}

// The reference kernel whatever the alignment (tests, benchmarks' baseline).
template <class Q>
cudaError_t gemv_reference(const MatrixView<Q>& w, const float* x, int m, float* y, cudaStream_t stream = nullptr) {
  return detail::gemv_tiles<detail::GemvKernel::reference>(w, x, m, y, stream);
}

}  // namespace skippy::cuda
