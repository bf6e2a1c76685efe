#pragma once
// Weight x activation for m = 1..K+1 activation rows, on the ggml block layout in place, one pass over
// the weights for all m rows. Two kernels, one contract: each (weight row, activation row) result uses
// the same operations in the same order whatever m is, so a token's row is bit-identical alone or inside
// a verify block (README §1).
//
// - interleaved (used wherever its alignment holds: activations 16-byte aligned, float-type weights
//   16-byte aligned): the slices of quant/slice.hpp. Thread t of a block takes slices t, t+128, ... of
//   gemv_rows_per_block rows at once, so a warp's loads are consecutive bytes (16-byte vectors for the
//   float types, 2-byte loads inside Q8_0 / Q4_0 blocks), each activation load serves all the block's
//   rows, and four warps share a row: 2 KB of weights in flight per block and row at M = 1, enough to
//   cover memory latency with a few hundred rows. quant::interleaved_dot_row is its arithmetic on the
//   host, bit for bit. One launch may take several matrices over the same activations (a layer's Q, K
//   and V, optionally leaving with RoPE applied and K and V in the cache), or a gate/up pair whose
//   results leave as swiglu(gate, up): fewer launches per layer, and the same bits as one launch per
//   matrix followed by the elementwise kernel.
//   The same kernel runs a second arithmetic for Q8_0 / Q4_0 (gemv_q8, at the end of this file): the
//   activations quantised to 8 bits once per vector, integer dot products of four byte pairs per
//   instruction (quant/q8_slice.hpp); there the gate/up launch may also leave its output quantised for
//   the next weight launch (Q8Output).
// - reference: one warp per row, lane l evaluates quant::chunk_dot (the host backend's formula) on the
//   32-value chunks l, l+32, ...; its 2-byte loads stride across the lanes. Any alignment; the fallback,
//   and the benchmarks' baseline.
// Two tensor-core kernels keep the contract in their own arithmetic: over tiled Q8_0 / Q4_0 matrices and
// 8-bit activations (kernels/gemv_tiled.cuh, through gemv_q8), and over F16 / BF16 matrices in place and
// float activations split into 16-bit parts (kernels/gemv_half_mma.cuh, gemv_mma and its batch forms).

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../math/activation.hpp"
#include "../math/rope.hpp"
#include "../model/view.hpp"
#include "../quant/dot.hpp"
#include "../quant/normed_slice.hpp"
#include "../quant/packed.hpp"
#include "../quant/q8_slice.hpp"
#include "../quant/slice.hpp"
#include "kernels/elementwise.cuh"
#include "kernels/gemv_half_mma.cuh"
#include "kernels/gemv_tiled.cuh"
#include "kernels/position.cuh"
#include "kernels/warp.cuh"
#include "gemv_batch.cuh"
#include "launch.cuh"

namespace skippy::cuda {

// Interleaved kernel: weight rows sharing each activation load (experiment knob -DSKIPPY_GEMV_ROWS=2 or 4:
// the final sums of rows x gemv_max_tile activation rows are written by one warp).
#ifndef SKIPPY_GEMV_ROWS
#define SKIPPY_GEMV_ROWS 4
#endif
inline constexpr int gemv_rows_per_block = SKIPPY_GEMV_ROWS;
inline constexpr int gemv_warps_per_block = 4;  // reference kernel: one row per warp
// Interleaved kernel: whether type Q at M activation rows in arithmetic A requests the next slice's
// weights before this slice's arithmetic. Measured on an H200 (bench/results/h200-2026-11-30, runs 4 and
// 6): it pays for F16 at every M (M = 5 up to 21% faster); at M = 1 it pays for Q8_0 (6-18% faster at the
// seven shapes), Q4_0 (5-11%), Q4_0 with 8-bit activations (8-16%) and BF16 (up to 5%), and at M = 5 it
// costs them (up to 23%, 8-bit Q4_0 up to 54%); Q8_0 with 8-bit activations and F32 are left without. A
// compile-time experiment knob: -DSKIPPY_GEMV_PREFETCH=0 never, 1 always, 2 (default) as measured.
#ifndef SKIPPY_GEMV_PREFETCH
#define SKIPPY_GEMV_PREFETCH 2
#endif
template <class Q, int M, bool Int8>
inline constexpr bool gemv_prefetch =
    SKIPPY_GEMV_PREFETCH == 1 ||
    (SKIPPY_GEMV_PREFETCH == 2 &&
     (std::is_same_v<Q, quant::F16> ||
      (M == 1 && (Int8 ? std::is_same_v<Q, quant::Q4_0>
                       : std::is_same_v<Q, quant::BF16> || std::is_same_v<Q, quant::Q8_0> ||
                             std::is_same_v<Q, quant::Q4_0>))));
// Whether a weight launch's blocks first ask L2 for all of their rows (kernels::prefetch_l2): launched
// early (launch.cuh), their first weights then stream in while the kernel before them finishes. A
// compile-time experiment knob: -DSKIPPY_GEMV_L2_PREFETCH=0 never, 1 early launches (default), 2 every
// launch (more bytes in flight at the start of a latency-bound M = 1 kernel).
#ifndef SKIPPY_GEMV_L2_PREFETCH
#define SKIPPY_GEMV_L2_PREFETCH 1
#endif

// ResidualSlices<Q>: the float arithmetic (quant::FloatSlices) in a launch that adds its products to y,
// the residual stream, and may leave the updated rows' RMSNorm scales (gemv_residual). An arithmetic of
// its own so that the other launches' kernels stay as they were.
template <class Q>
struct ResidualSlices : quant::FloatSlices<Q> {};
template <class A>
inline constexpr bool adds_residual = false;
template <class Q>
inline constexpr bool adds_residual<ResidualSlices<Q>> = true;
// Whether arithmetic A reads 8-bit activations (quant/q8_slice.hpp).
template <class A>
inline constexpr bool int8_arithmetic = std::is_same_v<typename A::Input, quant::Q8Rows>;

namespace kernels {

// A block's gemv_rows_per_block row slots: rows r0.. of matrix j, or for SwiGLU half of them rows r0.. of
// the gate and half the same rows of up. Every slot's sum is quant::interleaved_dot_row's, in either
// layout L of the weights (quant/packed.hpp).
template <class Q, int M, bool Swiglu, class A = quant::FloatSlices<Q>, class L = quant::InPlace<Q>>
__global__ void __launch_bounds__(quant::interleaved_threads)
    gemv_interleaved(const GemvBatch<Q> b, const typename A::Input x) {
  static_assert(std::is_same_v<typename A::Type, Q>, "gemv_interleaved: the arithmetic's weight type must be Q");
  using S = quant::Slice<Q>;
  constexpr int R = gemv_rows_per_block, W = quant::interleaved_warps;
  constexpr int per_matrix = Swiglu ? R / 2 : R;  // rows of each matrix a block takes
  static_assert(R * M <= 32, "gemv: the final sums are written by one warp");
  __shared__ float warp_sums[W][R][M];
  const int t = static_cast<int>(threadIdx.x), lane = t & 31, warp = t >> 5;
  const Job<Q> jb = job_of(b);
  const int block = jb.block, rows = jb.rows, job = jb.job;
  const typename Q::block* wj = jb.w;
  float* yj = jb.y;
  const int cols = b.cols, r0 = block * per_matrix;  // r0 < rows: a matrix's blocks fit its rows
  typename L::Row row[R];
#pragma unroll
  for (int q = 0; q < R; ++q) {  // rows past the end re-read the last row and are not stored
    const int r = r0 + q % per_matrix < rows ? r0 + q % per_matrix : rows - 1;
    row[q] = L::row(Swiglu ? b.w[q / per_matrix] : wj, r, rows, cols);
  }
  if (b.warm && t == 0) {  // the weights are read-only: no need to wait for the kernel before
    const int n = rows - r0 < per_matrix ? rows - r0 : per_matrix;
#pragma unroll
    for (int part = 0; part < (Swiglu ? 2 : 1); ++part)
      L::spans(row[part * per_matrix], n, cols, [](const void* p, std::size_t bytes) { prefetch_l2(p, bytes); });
  }
  dependent_prologue();
  float acc[R][M];
#pragma unroll
  for (int q = 0; q < R; ++q)
#pragma unroll
    for (int i = 0; i < M; ++i) acc[q][i] = 0.0f;
  const int slices = cols / S::values;
  constexpr bool prefetch = gemv_prefetch<Q, M, int8_arithmetic<A>>;
  // Software-pipelined: the next slice's weights are requested before this slice's arithmetic, so their
  // memory latency overlaps it (gemv_prefetch: where it pays). Not unrolled: unrolling doubles the
  // registers (ptxas: up to 255, with spills).
  typename S::Raw raw[R];
  if constexpr (prefetch) {
#pragma unroll
    for (int q = 0; q < R; ++q) raw[q] = L::load(row[q], t < slices ? t : 0);
  }
#pragma unroll 1
  for (int s = t; s < slices; s += quant::interleaved_threads) {
    typename S::Raw next[R];
    if constexpr (prefetch) {
      if (s + quant::interleaved_threads < slices) {  // no select on the loaded value: it would wait for it
#pragma unroll
        for (int q = 0; q < R; ++q) next[q] = L::load(row[q], s + quant::interleaved_threads);
      }
    } else {
#pragma unroll
      for (int q = 0; q < R; ++q) raw[q] = L::load(row[q], s);
    }
    typename A::Weights v[R];
#pragma unroll
    for (int q = 0; q < R; ++q) v[q] = A::decode(raw[q]);
#pragma unroll
    for (int i = 0; i < M; ++i) {
      const typename A::Activations xs = A::load(A::advance(x, i, cols), s);
#pragma unroll
      for (int q = 0; q < R; ++q) acc[q][i] = A::step(acc[q][i], v[q], xs);
    }
    if constexpr (prefetch) {
#pragma unroll
      for (int q = 0; q < R; ++q) raw[q] = next[q];
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
  const auto joined = [&](int q, int i) {  // the warps' sums in warp order
    float sum = warp_sums[0][q][i];
#pragma unroll
    for (int k = 1; k < W; ++k) sum += warp_sums[k][q][i];
    return sum;
  };
  if (!Swiglu && b.rope) {  // a thread per pair of rows (r0 and rows are even) and activation row
    static_assert(Swiglu || per_matrix % 2 == 0, "gemv: RoPE takes the rows of a block in pairs");
    if (t < per_matrix / 2 * M) {
      const int q = 2 * (t / M), i = t % M, r = r0 + q;
      if (r < rows) store_rope_pair(b.r, job, yj, rows, r, i, joined(q, i), joined(q + 1, i));
    }
    return;
  }
  constexpr bool residual = adds_residual<A>;
  static_assert(!residual || !Swiglu, "gemv: a residual launch takes one matrix");
  if (t < per_matrix * M) {
    const int q = t / M, i = t % M;
    if (r0 + q < rows) {
      float* out = yj + static_cast<long>(i) * rows + r0 + q;  // SwiGLU: yj is y[0], the gate's
      float v = Swiglu ? math::swiglu(joined(q, i), joined(q + per_matrix, i)) : joined(q, i);
      if constexpr (residual) v = __ldcg(out) + v;  // kernels::add_rmsnorm's residual add, its bits
      *out = v;
    }
  }
  if constexpr (residual) {
    if (b.norm.scale != nullptr) store_norm_scales<M, quant::interleaved_threads>(yj, M, rows, b.norm);
  }
  if constexpr (Swiglu && int8_arithmetic<A>) {
    static_assert(quant::qk % per_matrix == 0, "gemv: a 32-row group is whole blocks");
    if (b.out.q != nullptr) quantize_group<M, quant::interleaved_threads>(yj, M, rows, r0, per_matrix, b.out);
  }
}

template <class Q, int M>
__global__ void __launch_bounds__(32 * gemv_warps_per_block)
    gemv_reference(const typename Q::block* __restrict__ w, int rows, int cols, const float* __restrict__ x,
                   float* __restrict__ y) {
  dependent_prologue();
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

// The layout of a matrix's data (MatrixView::packed, MatrixView::tiled).
enum class WeightLayout { in_place, packed, tiled };
template <class Q>
WeightLayout layout_of(const MatrixView<Q>& w) {
  return w.tiled ? WeightLayout::tiled : w.packed ? WeightLayout::packed : WeightLayout::in_place;
}

// A packed matrix is read 8 bytes at a time, a tiled one 16; only Q8_0 / Q4_0 have those layouts.
template <class Q>
cudaError_t check_matrix(const MatrixView<Q>& w, const float* y) {
  if (w.cols < quant::dot_chunk || w.cols % quant::dot_chunk != 0 || w.rows < 1) return cudaErrorInvalidValue;
  if ((w.packed || w.tiled) && (!quant::is_int_blocks_v<Q> || (w.packed && w.tiled))) return cudaErrorInvalidValue;
  if (!aligned(w.data, w.tiled ? 16 : w.packed ? 8 : alignof(typename Q::block)) || !aligned(y, alignof(float)))
    return cudaErrorMisalignedAddress;
  return cudaSuccess;
}
// Float activations: any layout but the tiled one (8-bit activations only).
template <class Q>
cudaError_t check_operands(const MatrixView<Q>& w, const float* x, const float* y) {
  if (w.tiled) return cudaErrorInvalidValue;
  const cudaError_t e = check_matrix(w, y);
  return e != cudaSuccess ? e : aligned(x, alignof(float)) ? cudaSuccess : cudaErrorMisalignedAddress;
}
// 8-bit activations: q is read 16 bytes at a time (Q4_0; 8 for Q8_0), d a float at a time.
template <class Q>
cudaError_t check_operands(const MatrixView<Q>& w, const quant::Q8Rows& x, const float* y) {
  const cudaError_t e = check_matrix(w, y);
  if (e != cudaSuccess) return e;
  return aligned(x.q, 16) && aligned(x.d, alignof(float)) ? cudaSuccess : cudaErrorMisalignedAddress;
}

// A fused norm's input (quant::NormedRows): x and the norm's weights 16-byte aligned, a scale per row,
// and matrices the interleaved kernel takes (cudaErrorNotSupported: the only kernel over that input).
template <class Q>
cudaError_t check_operands(const MatrixView<Q>& w, const quant::NormedRows& x, const float* y) {
  if (x.x == nullptr || x.w == nullptr || x.scale == nullptr) return cudaErrorInvalidValue;
  const cudaError_t e = check_operands(w, x.x, y);
  if (e != cudaSuccess) return e;
  if (!aligned(x.x, 16) || !aligned(x.w, 16) || !aligned(x.scale, alignof(float))) return cudaErrorMisalignedAddress;
  return quant::is_int_blocks_v<Q> || aligned(w.data, 16) ? cudaSuccess : cudaErrorNotSupported;
}

// f(integral_constant<int, M>, i0) for the tiles i0, i0 + 8, ... of m activation rows (M = the tile's rows).
template <class F, int... M>
cudaError_t for_tiles(int m, F&& f, std::integer_sequence<int, M...>) {
  if (m < 1) return cudaErrorInvalidValue;
  for (int i0 = 0; i0 < m; i0 += gemv_max_tile) {
    const int tile = m - i0 < gemv_max_tile ? m - i0 : gemv_max_tile;
    cudaError_t e = cudaErrorInvalidValue;
    ((tile == M + 1 ? (e = f(std::integral_constant<int, M + 1>{}, i0), true) : false) || ...);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}
template <class F>
cudaError_t for_tiles(int m, F&& f) {
  return for_tiles(m, std::forward<F>(f), std::make_integer_sequence<int, gemv_max_tile>{});
}

// The batch of the activation rows i0.. (a tile): outputs, 8-bit output and RoPE positions advanced.
template <class Q>
GemvBatch<Q> tile_of(const GemvBatch<Q>& b, int i0) {
  GemvBatch<Q> tile = b;
  for (int j = 0; j < b.jobs; ++j) tile.y[j] = b.y[j] + static_cast<long>(i0) * b.rows[j];
  tile.r.start.offset += i0;  // RoPE: the tile's first position
  if (tile.norm.scale != nullptr) tile.norm.scale += i0;
  if (tile.out.q != nullptr) {
    tile.out.q += static_cast<long>(i0) * b.rows[0];
    tile.out.d += static_cast<long>(i0) * (b.rows[0] / quant::qk);
  }
  return tile;
}

// Whether a weight launch's blocks ask L2 for their rows first (GemvBatch::warm, SKIPPY_GEMV_L2_PREFETCH).
inline bool warms(const Launch& on) {
  return SKIPPY_GEMV_L2_PREFETCH == 2 || (SKIPPY_GEMV_L2_PREFETCH == 1 && on.early && early_launch_supported());
}

// One interleaved launch per tile over the batch's matrices (their y advanced to the tile's rows), in
// arithmetic A.
template <bool Swiglu, class A, class Q, class L = quant::InPlace<Q>>
cudaError_t launch_interleaved(GemvBatch<Q> b, typename A::Input x, int m, const Launch& on) {
  constexpr int per_matrix = Swiglu ? gemv_rows_per_block / 2 : gemv_rows_per_block;
  b.warm = warms(on);
  int grid = 0;
  for (int j = 0; j < b.jobs; ++j) grid += b.blocks[j] = (b.rows[j] + per_matrix - 1) / per_matrix;
  if (Swiglu) grid = b.blocks[0];  // gate and up share the blocks
  return for_tiles(m, [&](auto M, int i0) {
    return launch(kernels::gemv_interleaved<Q, decltype(M)::value, Swiglu, A, L>, grid, quant::interleaved_threads, 0,
                  on, tile_of(b, i0), A::advance(x, i0, b.cols));
  });
}

// The launches of a tensor-core kernel with a prefill form: f(integral_constant<int, M>, i0, rows) for the
// tiles of up to 8 activation rows where m <= 8 (M = rows = the tile's), else for blocks of Block rows
// (M = Block, rows <= Block: the prefill form's rows_run).
template <int Block, class F>
cudaError_t for_tiles_or_blocks(int m, F&& f) {
  if (m <= gemv_max_tile)
    return for_tiles(m, [&](auto M, int i0) { return f(M, i0, static_cast<int>(decltype(M)::value)); });
  for (int i0 = 0; i0 < m; i0 += Block) {
    const cudaError_t e = f(std::integral_constant<int, Block>{}, i0, m - i0 < Block ? m - i0 : Block);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// The tensor-core launches over the batch's tiled matrices (kernels/gemv_tiled.cuh): one per tile of up to
// 8 activation rows, or for m > 8 one of the prefill form per kernels::tiled_block_rows rows.
template <bool Swiglu, class Q>
cudaError_t launch_tiled(GemvBatch<Q> b, const quant::Q8Rows& x, int m, const Launch& on) {
  b.warm = warms(on);
  int grid = 0;
  for (int j = 0; j < b.jobs; ++j) grid += b.blocks[j] = quant::Tiled<Q>::tiles(b.rows[j]);
  if (Swiglu) grid = b.blocks[0];  // gate and up share the blocks
  return for_tiles_or_blocks<kernels::tiled_block_rows>(m, [&](auto M, int i0, int rows) {
    return launch(kernels::gemv_tiled_q8<Q, decltype(M)::value, Swiglu>, grid, kernels::tiled_threads<Swiglu>, 0, on,
                  tile_of(b, i0), quant::Q8Slices<Q>::advance(x, i0, b.cols), rows);
  });
}

// The launch for the layout the batch's matrices share: launch_interleaved (packed: over quant::Packed<Q>)
// or, for tiled matrices under 8-bit activations, launch_tiled.
template <bool Swiglu, class A, class Q>
cudaError_t launch_layout(const GemvBatch<Q>& b, WeightLayout layout, typename A::Input x, int m, const Launch& on) {
  if constexpr (quant::is_int_blocks_v<Q>) {
    if (layout == WeightLayout::packed) return launch_interleaved<Swiglu, A, Q, quant::Packed<Q>>(b, x, m, on);
    if constexpr (std::is_same_v<typename A::Input, quant::Q8Rows>) {
      if (layout == WeightLayout::tiled) return launch_tiled<Swiglu>(b, x, m, on);
    }
  }
  if (layout == WeightLayout::tiled) return cudaErrorInvalidValue;
  return launch_interleaved<Swiglu, A, Q>(b, x, m, on);
}

// The tensor-core launches over float activations for F16 / BF16 matrices in place
// (kernels/gemv_half_mma.cuh): one per tile of up to 8 activation rows, or for m > 8 one of the prefill
// form per kernels::half_mma_block_rows rows.
template <bool Swiglu, class Q>
cudaError_t launch_half_mma(GemvBatch<Q> b, const float* x, int m, const Launch& on) {
  b.warm = warms(on);
  int grid = 0;
  for (int j = 0; j < b.jobs; ++j)
    grid += b.blocks[j] = (b.rows[j] + kernels::half_mma_rows - 1) / kernels::half_mma_rows;
  if (Swiglu) grid = b.blocks[0];  // gate and up share the blocks
  return for_tiles_or_blocks<kernels::half_mma_block_rows>(m, [&](auto M, int i0, int rows) {
    return launch(kernels::gemv_half_mma<Q, decltype(M)::value, Swiglu>, grid, kernels::half_mma_threads<Swiglu>, 0,
                  on, tile_of(b, i0), x + static_cast<long>(i0) * b.cols, rows);
  });
}

template <class Q>
cudaError_t launch_reference(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on) {
  return for_tiles(m, [&](auto M, int i0) {
    const int grid = (w.rows + gemv_warps_per_block - 1) / gemv_warps_per_block;
    return launch(kernels::gemv_reference<Q, decltype(M)::value>, grid, 32 * gemv_warps_per_block, 0, on, w.data,
                  w.rows, w.cols, x + static_cast<long>(i0) * w.cols, y + static_cast<long>(i0) * w.rows);
  });
}

template <class Q>
GemvBatch<Q> batch_of(const MatrixView<Q>* w, float* const* y, int n) {
  GemvBatch<Q> b{};
  b.jobs = n;
  b.cols = w[0].cols;
  for (int j = 0; j < n; ++j) {
    b.w[j] = w[j].data;
    b.y[j] = y[j];
    b.rows[j] = w[j].rows;
  }
  return b;
}

// The fused Q/K/V batch of gemv_qkv_rope: cudaErrorInvalidValue for shapes that are not a layer's,
// cudaErrorNotSupported where the three matrices' layouts differ.
template <class Q, class X>
cudaError_t qkv_rope_batch(const MatrixView<Q>* w, float* q_out, const X& x, const GemvRope& rope, GemvBatch<Q>& b) {
  const int hd = rope.head_dim;
  if (hd < 2 || hd % 2 != 0 || w[1].rows != w[2].rows || rope.k_cache == nullptr || rope.v_cache == nullptr)
    return cudaErrorInvalidValue;
  float* const y[3] = {q_out, rope.k_cache, rope.v_cache};
  for (int j = 0; j < 3; ++j) {
    if (w[j].rows % hd != 0 || w[j].cols != w[0].cols) return cudaErrorInvalidValue;
    const cudaError_t e = check_operands(w[j], x, y[j]);
    if (e != cudaSuccess) return e;
    if (layout_of(w[j]) != layout_of(w[0])) return cudaErrorNotSupported;
  }
  b = batch_of(w, y, 3);
  b.rope = true;
  b.r = rope;
  return cudaSuccess;
}

// A gate/up pair over input x into y for a one-launch SwiGLU: equal shapes, one layout, operands x takes.
template <class Q, class X>
cudaError_t check_pair(const MatrixView<Q>& gate, const MatrixView<Q>& up, const X& x, const float* y) {
  if (gate.rows != up.rows || gate.cols != up.cols || layout_of(gate) != layout_of(up)) return cudaErrorInvalidValue;
  const cudaError_t e = check_operands(gate, x, y);
  return e != cudaSuccess ? e : check_operands(up, x, y);
}

// gemv_batch in arithmetic A for operands only the interleaved (or tiled) kernels take (8-bit activations,
// a fused norm's input): one launch per tile where the matrices share a layout, else one per matrix.
template <class A, class Q>
cudaError_t launch_by_layout(const MatrixView<Q>* w, float* const* y, int n, const typename A::Input& x, int m,
                             const Launch& on) {
  if (n < 1 || n > gemv_max_jobs) return cudaErrorInvalidValue;
  bool same = true;
  for (int j = 0; j < n; ++j) {
    if (w[j].cols != w[0].cols) return cudaErrorInvalidValue;
    const cudaError_t e = check_operands(w[j], x, y[j]);
    if (e != cudaSuccess) return e;
    same = same && layout_of(w[j]) == layout_of(w[0]);
  }
  if (same) return launch_layout<false, A>(batch_of(w, y, n), layout_of(w[0]), x, m, on);
  for (int j = 0; j < n; ++j) {
    const cudaError_t e = launch_layout<false, A>(batch_of(&w[j], &y[j], 1), layout_of(w[j]), x, m, on);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}
}  // namespace detail

// Whether gemv runs the interleaved kernel for these operands: the activations 16-byte aligned, and for
// the float types the weights too (Q8_0 / Q4_0 blocks are read with 2-byte loads, packed ones with
// aligned 8-byte loads). Rows of a multiple of 32 values keep every row and activation row aligned once
// the first is. A packed matrix has no other kernel: its activations must be aligned.
template <class Q>
bool gemv_interleaved_fits(const MatrixView<Q>& w, const float* x) {
  if (!detail::aligned(x, 16)) return false;
  if constexpr (quant::is_int_blocks_v<Q>) return true;
  else return detail::aligned(w.data, 16);
}

// The reference kernel whatever the alignment (tests, benchmarks' baseline); the ggml blocks in place only.
template <class Q>
cudaError_t gemv_reference(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on = {}) {
  if (w.packed || w.tiled) return cudaErrorInvalidValue;
  const cudaError_t e = detail::check_operands(w, x, y);
  return e != cudaSuccess ? e : detail::launch_reference(w, x, m, y, on);
}

// y[j][i][r] = W_j[r] . x[i] for n <= gemv_max_jobs matrices of equal width and i < m: x is m rows of
// cols floats, y[j] m rows of w[j].rows floats, all in device memory. One launch per tile of 8 activation
// rows where every matrix fits the interleaved kernel in one layout, else one gemv per matrix (each
// matrix's bits are gemv's either way: the kernel follows each matrix's own alignment and layout).
// Returns the launch error, cudaErrorInvalidValue for m < 1 or a bad shape, cudaErrorMisalignedAddress
// for a pointer not aligned to its type or activations a packed matrix cannot take. Which kernel runs
// depends on the operands' alignment (gemv_interleaved_fits), and the two round differently: keep the
// buffers a decoder compares across its passes equally aligned (cuda::Forward requires a 16-byte aligned
// workspace).
template <class Q>
cudaError_t gemv_batch(const MatrixView<Q>* w, float* const* y, int n, const float* x, int m,
                       const Launch& on = {}) {
  if (n < 1 || n > gemv_max_jobs) return cudaErrorInvalidValue;
  bool fits = true;
  for (int j = 0; j < n; ++j) {
    if (w[j].cols != w[0].cols) return cudaErrorInvalidValue;
    const cudaError_t e = detail::check_operands(w[j], x, y[j]);
    if (e != cudaSuccess) return e;
    if (w[j].packed && !gemv_interleaved_fits(w[j], x)) return cudaErrorMisalignedAddress;
    fits = fits && gemv_interleaved_fits(w[j], x) && w[j].packed == w[0].packed;
  }
  using A = quant::FloatSlices<Q>;
  if (fits) return detail::launch_layout<false, A>(detail::batch_of(w, y, n), detail::layout_of(w[0]), x, m, on);
  for (int j = 0; j < n; ++j) {
    const cudaError_t e =
        gemv_interleaved_fits(w[j], x)
            ? detail::launch_layout<false, A>(detail::batch_of(&w[j], &y[j], 1), detail::layout_of(w[j]), x, m, on)
            : detail::launch_reference(w[j], x, m, y[j], on);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// y[i][r] = W[r] . x[i] for i < m (gemv_batch of one matrix).
template <class Q>
cudaError_t gemv(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on = {}) {
  return gemv_batch(&w, &y, 1, x, m, on);
}

// y[i][r] = swiglu(gate[r] . x[i], up[r] . x[i]): the two products and SwiGLU in one launch per tile
// where both matrices fit the interleaved kernel; otherwise the gate product goes to y, the up product to
// scratch (m rows of up.rows floats) and a SwiGLU kernel joins them. The same bits as gemv of each
// matrix followed by kernels::swiglu.
template <class Q>
cudaError_t gemv_swiglu(const MatrixView<Q>& gate, const MatrixView<Q>& up, const float* x, int m, float* y,
                        float* scratch, const Launch& on = {}) {
  if (gate.rows != up.rows || gate.cols != up.cols) return cudaErrorInvalidValue;
  const MatrixView<Q> w[2] = {gate, up};
  float* const out[2] = {y, scratch};
  for (int j = 0; j < 2; ++j) {
    const cudaError_t e = detail::check_operands(w[j], x, out[j]);
    if (e != cudaSuccess) return e;
  }
  if (gemv_interleaved_fits(gate, x) && gemv_interleaved_fits(up, x) && gate.packed == up.packed)
    return detail::launch_layout<true, quant::FloatSlices<Q>>(detail::batch_of(w, out, 2), detail::layout_of(gate), x,
                                                              m, on);
  for (int j = 0; j < 2; ++j) {
    const cudaError_t e = gemv(w[j], x, m, out[j], on);
    if (e != cudaSuccess) return e;
  }
  return kernels::launch_swiglu(y, scratch, static_cast<long>(m) * gate.rows, on);
}

// A decoding layer's first launch, with RoPE and the KV cache write fused (kernels::rope_store's work and
// bits, without its launch): w = {wq, wk, wv} over x (m rows at positions rope.start, rope.start + 1, ...);
// q_out receives the m rotated query rows (wq.rows each), the cache slots of those positions the rotated
// keys and the values (wk.rows = wv.rows floats each). Row counts must be multiples of rope.head_dim (even).
// Returns cudaErrorNotSupported, launching nothing, where the matrices do not fit one interleaved launch
// (alignment or mixed layouts): run gemv_batch and kernels::rope_store then. Other errors as gemv_batch.
template <class Q>
cudaError_t gemv_qkv_rope(const MatrixView<Q>* w, float* q_out, const float* x, int m, const GemvRope& rope,
                          const Launch& on = {}) {
  GemvBatch<Q> b{};
  const cudaError_t e = detail::qkv_rope_batch(w, q_out, x, rope, b);
  if (e != cudaSuccess) return e;
  for (int j = 0; j < 3; ++j)
    if (!gemv_interleaved_fits(w[j], x)) return w[j].packed ? cudaErrorMisalignedAddress : cudaErrorNotSupported;
  return detail::launch_layout<false, quant::FloatSlices<Q>>(b, detail::layout_of(w[0]), x, m, on);
}

// --- The RMSNorm fused into the weight launches (quant/normed_slice.hpp) ---------------------------------
// A decoding layer's norms then cost no launch: the weight launch that adds to the residual stream
// (gemv_residual: y += W x) leaves each updated row's rms scale (its last block), and the launches that
// read the norm's output take quant::NormedRows (the stream, the norm's weights, the scales) and
// normalise as they load: the products of gemv over math::rms_apply(x, w, scale), bit for bit. The
// interleaved kernel only: cudaErrorNotSupported, launching nothing, for operands it cannot take.

namespace kernels {
// The fused norm's scales of m rows of x, a block per row (for a residual stream no weight launch has
// left scales for: after the embedding).
template <int Threads = quant::interleaved_threads>
__global__ void __launch_bounds__(Threads) norm_scales(const float* __restrict__ x, int cols, float eps,
                                                       float* __restrict__ scale) {
  dependent_prologue();
  const long i = blockIdx.x;
  row_norm_scales<1, Threads>(x + i * cols, 1, cols, eps, scale + i);
}
}  // namespace kernels

// scale[i] = the fused norm's scale of row i of x (m rows of cols floats, cols a multiple of 4, x 16-byte
// aligned): quant::norm_scale's bits.
inline cudaError_t norm_scales(const float* x, int m, int cols, float eps, float* scale, const Launch& on = {}) {
  if (m < 1 || cols < 4 || cols % 4 != 0 || x == nullptr || scale == nullptr) return cudaErrorInvalidValue;
  if (!detail::aligned(x, 16) || !detail::aligned(scale, alignof(float))) return cudaErrorMisalignedAddress;
  return launch(kernels::norm_scales<>, static_cast<unsigned>(m), quant::interleaved_threads, 0, on, x, cols, eps,
                scale);
}

// y[i] += W . x[i] for i < m (y: m rows of w.rows floats, the residual stream, neither x nor overlapping
// it), each sum added as kernels::add_rmsnorm adds its residual (the same bits). With norm.scale given,
// norm.scale[i] then receives updated row i's scale for a fused norm (w.rows a multiple of 4, y 16-byte
// aligned). Errors as gemv, cudaErrorInvalidValue for a partial norm, cudaErrorNotSupported where the
// interleaved kernel cannot take the operands.
template <class Q>
cudaError_t gemv_residual(const MatrixView<Q>& w, const float* x, int m, float* y, const NormScales& norm = {},
                          const Launch& on = {}) {
  cudaError_t e = detail::check_operands(w, x, y);
  if (e != cudaSuccess) return e;
  if (!gemv_interleaved_fits(w, x)) return w.packed ? cudaErrorMisalignedAddress : cudaErrorNotSupported;
  if ((norm.scale == nullptr) != (norm.counter == nullptr)) return cudaErrorInvalidValue;
  if (norm.scale != nullptr) {
    if (w.rows % 4 != 0) return cudaErrorInvalidValue;
    if (!detail::aligned(y, 16) || !detail::aligned(norm.scale, alignof(float)) ||
        !detail::aligned(norm.counter, alignof(unsigned)))
      return cudaErrorMisalignedAddress;
  }
  GemvBatch<Q> b = detail::batch_of(&w, &y, 1);
  b.norm = norm;
  return detail::launch_layout<false, ResidualSlices<Q>>(b, detail::layout_of(w), x, m, on);
}

// gemv_batch over a fused norm's output: y[j][i][r] = W_j[r] . rmsnorm(x[i]), one launch per tile where
// the matrices share a layout (else one per matrix). Errors as gemv_batch, and cudaErrorNotSupported.
template <class Q>
cudaError_t gemv_batch(const MatrixView<Q>* w, float* const* y, int n, const quant::NormedRows& x, int m,
                       const Launch& on = {}) {
  return detail::launch_by_layout<quant::NormedSlices<Q>>(w, y, n, x, m, on);
}

// gemv over a fused norm's output (gemv_batch of one matrix).
template <class Q>
cudaError_t gemv(const MatrixView<Q>& w, const quant::NormedRows& x, int m, float* y, const Launch& on = {}) {
  return gemv_batch(&w, &y, 1, x, m, on);
}

// gemv_swiglu over a fused norm's output, in one launch per tile (gate and up in one layout). Errors as
// gemv_batch, and cudaErrorNotSupported.
template <class Q>
cudaError_t gemv_swiglu(const MatrixView<Q>& gate, const MatrixView<Q>& up, const quant::NormedRows& x, int m,
                        float* y, const Launch& on = {}) {
  const cudaError_t e = detail::check_pair(gate, up, x, y);
  if (e != cudaSuccess) return e;
  const MatrixView<Q> w[2] = {gate, up};
  float* const out[2] = {y, y};  // SwiGLU writes y[0] only
  return detail::launch_layout<true, quant::NormedSlices<Q>>(detail::batch_of(w, out, 2), detail::layout_of(gate), x,
                                                            m, on);
}

// gemv_qkv_rope over a fused norm's output. Errors as gemv_qkv_rope.
template <class Q>
cudaError_t gemv_qkv_rope(const MatrixView<Q>* w, float* q_out, const quant::NormedRows& x, int m,
                          const GemvRope& rope, const Launch& on = {}) {
  GemvBatch<Q> b{};
  const cudaError_t e = detail::qkv_rope_batch(w, q_out, x, rope, b);
  return e != cudaSuccess ? e
                          : detail::launch_layout<false, quant::NormedSlices<Q>>(b, detail::layout_of(w[0]), x, m, on);
}

// --- Tensor cores over float activations for F16 and BF16 weights (kernels/gemv_half_mma.cuh) -----------
// The same products as gemv's, each activation split into 16-bit parts of the weights' type
// (quant/split.hpp: F16 activations must stay below 65520 in magnitude), summed in the tensor cores'
// order: results differ from gemv's in the last bits, and are the same alone or in a block. What a launch
// costs hardly depends on m up to 8, where gemv's grows with m: the kernels for verify blocks; blocks of
// more than 8 rows take the prefill form, which reads the weights once per 64 rows (the same bits). Needs
// sm_80 or newer (gemv_mma_supported).

namespace detail {
// Operands of the tensor-core kernel: an F16 / BF16 matrix in place, weights and activations 16-byte aligned.
template <class Q>
cudaError_t check_mma_operands(const MatrixView<Q>& w, const float* x, const float* y) {
  static_assert(kernels::half_mma_type_v<Q>, "gemv_mma: tensor cores over float activations take F16 or BF16 weights");
  const cudaError_t e = check_operands(w, x, y);
  if (e != cudaSuccess) return e;
  return aligned(w.data, 16) && aligned(x, 16) ? cudaSuccess : cudaErrorMisalignedAddress;
}
// Whether the kernel was built for tensor cores (a build for an older architecture compiles the
// shuffle fallback of kernels::mma_16x8x16, for the emulation only).
template <class Q>
cudaError_t half_mma_attributes(cudaFuncAttributes& attr) {
  return cudaFuncGetAttributes(&attr, kernels::gemv_half_mma<Q, 1, false>);
}
}  // namespace detail

// True where the tensor-core kernel for Q runs here: a device of sm_80 or newer and the kernel built for one.
template <class Q>
bool gemv_mma_supported() {
  return tensor_core_kernel_runs(detail::half_mma_attributes<Q>);
}

// gemv_batch on tensor cores: y[j][i][r] = W_j[r] . x[i] for n <= gemv_max_jobs F16 / BF16 matrices in
// place of equal width, one launch per tile of 8 activation rows (per 64 where m > 8). Errors as
// gemv_batch, and cudaErrorMisalignedAddress for weights or activations not 16-byte aligned.
template <class Q>
cudaError_t gemv_batch_mma(const MatrixView<Q>* w, float* const* y, int n, const float* x, int m,
                           const Launch& on = {}) {
  if (n < 1 || n > gemv_max_jobs) return cudaErrorInvalidValue;
  for (int j = 0; j < n; ++j) {
    if (w[j].cols != w[0].cols) return cudaErrorInvalidValue;
    const cudaError_t e = detail::check_mma_operands(w[j], x, y[j]);
    if (e != cudaSuccess) return e;
  }
  return detail::launch_half_mma<false>(detail::batch_of(w, y, n), x, m, on);
}

// y[i][r] = W[r] . x[i] on tensor cores (gemv_batch_mma of one matrix).
template <class Q>
cudaError_t gemv_mma(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on = {}) {
  return gemv_batch_mma(&w, &y, 1, x, m, on);
}

// y[i][r] = swiglu(gate[r] . x[i], up[r] . x[i]) on tensor cores, in one launch per tile: the same bits as
// gemv_mma of each matrix followed by kernels::swiglu. Errors as gemv_batch_mma.
template <class Q>
cudaError_t gemv_swiglu_mma(const MatrixView<Q>& gate, const MatrixView<Q>& up, const float* x, int m, float* y,
                            const Launch& on = {}) {
  if (gate.rows != up.rows || gate.cols != up.cols) return cudaErrorInvalidValue;
  const MatrixView<Q> w[2] = {gate, up};
  for (const MatrixView<Q>& v : w) {
    const cudaError_t e = detail::check_mma_operands(v, x, y);
    if (e != cudaSuccess) return e;
  }
  float* const out[2] = {y, y};  // SwiGLU writes y[0] only
  return detail::launch_half_mma<true>(detail::batch_of(w, out, 2), x, m, on);
}

// gemv_qkv_rope on tensor cores: the same bits as gemv_batch_mma followed by kernels::rope_store. Errors as
// gemv_batch_mma, and cudaErrorInvalidValue for shapes that are not a layer's.
template <class Q>
cudaError_t gemv_qkv_rope_mma(const MatrixView<Q>* w, float* q_out, const float* x, int m, const GemvRope& rope,
                              const Launch& on = {}) {
  GemvBatch<Q> b{};
  cudaError_t e = detail::qkv_rope_batch(w, q_out, x, rope, b);
  if (e != cudaSuccess) return e;
  float* const y[3] = {q_out, rope.k_cache, rope.v_cache};
  for (int j = 0; j < 3; ++j)
    if ((e = detail::check_mma_operands(w[j], x, y[j])) != cudaSuccess) return e;
  return detail::launch_half_mma<false>(b, x, m, on);
}

// --- 8-bit activations for Q8_0 and Q4_0 weights (quant/q8_slice.hpp) ----------------------------------
// The activations are quantised once per vector (quantize_activations), then every weight kernel over
// them takes integer dot products: fewer instructions per weight than the float arithmetic, for an
// activation error of at most amax / 254 per 32-value block. Rows stay bit-identical whatever m is, and
// each kernel equals its host account (quant::interleaved_dot<quant::Q8Slices<Q>>) bit for bit.

namespace kernels {
// One thread per 32-value block: quant::quantize_q8, the host's formula. (A template, like every kernel
// in these headers, so that several translation units may include it.)
template <int Threads>
__global__ void __launch_bounds__(Threads)
    quantize_q8(const float* __restrict__ x, long blocks, std::int8_t* __restrict__ q, float* __restrict__ d) {
  dependent_prologue();
  const long b = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= blocks) return;
  std::int8_t v[quant::qk];
  d[b] = quant::quantize_q8(x + b * quant::qk, v);
  quant::store_q8_block(v, q + b * quant::qk);
}
}  // namespace kernels

// Quantises m rows of cols floats (cols a multiple of 32) into q (m * cols bytes, 8-byte aligned; the
// weight kernels read it 16-byte aligned) and d (m * cols / 32 floats): quant::quantize_activations on
// the device, bit for bit. Returns
// cudaErrorInvalidValue for a bad shape, cudaErrorMisalignedAddress for a misaligned pointer.
inline cudaError_t quantize_activations(const float* x, int m, int cols, std::int8_t* q, float* d,
                                        const Launch& on = {}) {
  if (m < 1 || cols < quant::qk || cols % quant::qk != 0) return cudaErrorInvalidValue;
  if (!detail::aligned(x, alignof(float)) || !detail::aligned(q, 8) || !detail::aligned(d, alignof(float)))
    return cudaErrorMisalignedAddress;
  const long blocks = static_cast<long>(m) * (cols / quant::qk);
  constexpr int threads = 128;
  return launch(kernels::quantize_q8<threads>, static_cast<unsigned>((blocks + threads - 1) / threads), threads, 0, on,
                x, blocks, q, d);
}

// gemv_batch over 8-bit activations (x: m rows from quantize_activations): y[j][i][r] = W_j[r] . x[i] for
// n <= gemv_max_jobs matrices of equal width, one launch per tile of 8 rows (tiled matrices with m > 8: per
// 64 rows; one per matrix where their layouts differ). Any Q8_0 / Q4_0 matrix fits the interleaved kernel,
// so there is no fallback. Errors as gemv_batch.
template <class Q>
cudaError_t gemv_batch_q8(const MatrixView<Q>* w, float* const* y, int n, const quant::Q8Rows& x, int m,
                          const Launch& on = {}) {
  return detail::launch_by_layout<quant::Q8Slices<Q>>(w, y, n, x, m, on);  // refuses other weight types
}

// y[i][r] = W[r] . x[i] over 8-bit activations (gemv_batch_q8 of one matrix).
template <class Q>
cudaError_t gemv_q8(const MatrixView<Q>& w, const quant::Q8Rows& x, int m, float* y, const Launch& on = {}) {
  return gemv_batch_q8(&w, &y, 1, x, m, on);
}

// y[i][r] = swiglu(gate[r] . x[i], up[r] . x[i]) over 8-bit activations, in one launch per tile: the same
// bits as gemv_q8 of each matrix followed by kernels::swiglu. gate and up must share a layout. With q8
// given (gate.rows a multiple of 32), the launch also leaves y quantised there: quantize_activations'
// bits over y, for the next weight launch, without a launch of its own. Errors as gemv_batch_q8, and
// cudaErrorInvalidValue for a partial q8, rows it cannot take or q8 over the input x,
// cudaErrorMisalignedAddress for q8.q not 16-byte aligned.
template <class Q>
cudaError_t gemv_swiglu_q8(const MatrixView<Q>& gate, const MatrixView<Q>& up, const quant::Q8Rows& x, int m,
                           float* y, const Launch& on = {}, const Q8Output& q8 = {}) {
  using A = quant::Q8Slices<Q>;
  const cudaError_t e = detail::check_pair(gate, up, x, y);
  if (e != cudaSuccess) return e;
  const MatrixView<Q> w[2] = {gate, up};
  if (q8.q != nullptr || q8.d != nullptr || q8.counters != nullptr) {
    if (q8.q == nullptr || q8.d == nullptr || q8.counters == nullptr || gate.rows % quant::qk != 0 ||
        q8.q == x.q || q8.d == x.d)  // a group's last block would overwrite what other blocks still read
      return cudaErrorInvalidValue;
    if (!detail::aligned(q8.q, 16) || !detail::aligned(q8.d, alignof(float)) ||
        !detail::aligned(q8.counters, alignof(unsigned)))
      return cudaErrorMisalignedAddress;
  }
  float* const out[2] = {y, y};  // SwiGLU writes y[0] only
  GemvBatch<Q> b = detail::batch_of(w, out, 2);
  b.out = q8;
  return detail::launch_layout<true, A>(b, detail::layout_of(gate), x, m, on);
}

// gemv_qkv_rope over 8-bit activations (x from quantize_activations). Errors as gemv_qkv_rope.
template <class Q>
cudaError_t gemv_qkv_rope_q8(const MatrixView<Q>* w, float* q_out, const quant::Q8Rows& x, int m,
                             const GemvRope& rope, const Launch& on = {}) {
  using A = quant::Q8Slices<Q>;
  GemvBatch<Q> b{};
  const cudaError_t e = detail::qkv_rope_batch(w, q_out, x, rope, b);
  return e != cudaSuccess ? e : detail::launch_layout<false, A>(b, detail::layout_of(w[0]), x, m, on);
}

}  // namespace skippy::cuda

#include "instances.cuh"
#ifdef SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS
SKIPPY_CUDA_STANDARD_GEMV_KERNELS(extern)  // compiled once, by skippy/cuda/instantiate.cuh
#endif
