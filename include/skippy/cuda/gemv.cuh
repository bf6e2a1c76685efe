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

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../math/activation.hpp"
#include "../math/rope.hpp"
#include "../model/view.hpp"
#include "../quant/dot.hpp"
#include "../quant/packed.hpp"
#include "../quant/q8_slice.hpp"
#include "../quant/slice.hpp"
#include "kernels/elementwise.cuh"
#include "kernels/position.cuh"
#include "kernels/warp.cuh"
#include "launch.cuh"

namespace skippy::cuda {

inline constexpr int gemv_max_tile = 8;         // activation rows per launch; larger m is tiled
// Interleaved kernel: weight rows sharing each activation load (experiment knob -DSKIPPY_GEMV_ROWS=2 or 4:
// the final sums of rows x gemv_max_tile activation rows are written by one warp).
#ifndef SKIPPY_GEMV_ROWS
#define SKIPPY_GEMV_ROWS 4
#endif
inline constexpr int gemv_rows_per_block = SKIPPY_GEMV_ROWS;
inline constexpr int gemv_warps_per_block = 4;  // reference kernel: one row per warp
inline constexpr int gemv_max_jobs = 3;         // matrices one interleaved launch may take
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

// The matrices of one interleaved launch, all cols wide, over the same activations: matrix j has rows[j]
// rows and writes m rows of rows[j] values to y[j]; its rows go to blocks[j] consecutive thread blocks.
// For SwiGLU, matrices 0 and 1 are gate and up (equal shapes) and y[0] receives swiglu(gate, up).
// warm: each block asks L2 for its rows before it waits for the kernel before it (SKIPPY_GEMV_L2_PREFETCH).
// rope: matrices 0, 1 and 2 are a layer's Q, K and V; Q's rows leave rotated (RoPE) to y[0], K's rotated
// and V's as they are to the KV cache (gemv_qkv_rope).
struct GemvRope {
  kernels::Position start;  // of activation row 0
  int head_dim;
  float theta;
  float* k_cache;  // one layer's [capacity][kv]
  float* v_cache;
};
// Where a SwiGLU launch over 8-bit activations also leaves its output quantised to 8 bits, as the next
// weight launch reads it (gemv_swiglu_q8): q (m rows of `rows` bytes, 16-byte aligned), d (m rows of
// rows / 32 scales), neither the launch's input, and one arrival counter per 32 rows (zero before the
// first launch; each launch leaves them zero; launches that may run at the same time need their own).
// All null: not quantised.
struct Q8Output {
  std::int8_t* q = nullptr;
  float* d = nullptr;
  unsigned* counters = nullptr;
};
// Arrival counters a Q8Output needs for a matrix of `rows` rows.
inline int q8_output_counters(int rows) { return rows / quant::qk; }

template <class Q>
struct GemvBatch {
  const typename Q::block* w[gemv_max_jobs];
  float* y[gemv_max_jobs];
  int rows[gemv_max_jobs];
  int blocks[gemv_max_jobs];
  int jobs;
  int cols;
  bool warm;
  bool rope;
  GemvRope r;
  Q8Output out;  // SwiGLU over 8-bit activations only
};

namespace kernels {

// After a block has stored its rows r0.. of y (m rows of `rows` floats): the last of the qk / per_block
// blocks of its 32-row group to arrive quantises the group's M rows of 32 values into out
// (threadFenceReduction's pattern, as the attention's merge), with quantize_activations' bits over y and
// without its launch. Every thread of the block calls it.
template <int M, int Threads>
__device__ __forceinline__ void quantize_group(const float* y, int rows, int r0, int per_block, Q8Output out) {
  __shared__ bool last;
  __shared__ float staged[M][quant::qk + 1];  // + 1: thread i reads row i, a bank apart from row i + 1
  const int t = static_cast<int>(threadIdx.x), group = r0 / quant::qk;
  __threadfence();  // this block's y, before its arrival
  __syncthreads();
  if (t == 0) last = atomicAdd(&out.counters[group], 1u) == static_cast<unsigned>(quant::qk / per_block - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  for (int e = t; e < M * quant::qk; e += Threads) {  // L2's copy: other blocks wrote it
    const int i = e / quant::qk, c = e % quant::qk;
    staged[i][c] = __ldcg(y + static_cast<long>(i) * rows + group * quant::qk + c);
  }
  if (t == 0) out.counters[group] = 0u;  // ready for the next launch
  __syncthreads();
  if (t < M) {
    std::int8_t v[quant::qk];
    out.d[static_cast<long>(t) * (rows / quant::qk) + group] = quant::quantize_q8(staged[t], v);
    quant::store_q8_block(v, out.q + static_cast<long>(t) * rows + group * quant::qk);
  }
}

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
  // This block's matrix, chosen with constant indices only (a run-time index into the parameter struct
  // would copy it to local memory in every thread).
  int block = static_cast<int>(blockIdx.x), rows = b.rows[0], job = 0;
  const typename Q::block* wj = b.w[0];
  float* yj = b.y[0];
  bool found = false;
#pragma unroll
  for (int k = 0; k + 1 < gemv_max_jobs; ++k) {
    found = found || k + 1 >= b.jobs || block < b.blocks[k];
    if (!found) {
      block -= b.blocks[k];
      rows = b.rows[k + 1];
      wj = b.w[k + 1];
      yj = b.y[k + 1];
      job = k + 1;
    }
  }
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
  constexpr bool prefetch = gemv_prefetch<Q, M, !std::is_same_v<A, quant::FloatSlices<Q>>>;
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
      if (r < rows) {
        float x0 = joined(q, i), x1 = joined(q + 1, i);
        const int pos = b.r.start.get() + i;
        if (job < 2) math::rotate_pair(x0, x1, (r % b.r.head_dim) / 2, pos, b.r.head_dim, b.r.theta);
        float* out = job == 0 ? yj + static_cast<long>(i) * rows + r
                              : (job == 1 ? b.r.k_cache : b.r.v_cache) + static_cast<long>(pos) * rows + r;
        out[0] = x0;
        out[1] = x1;
      }
    }
    return;
  }
  if (t < per_matrix * M) {
    const int q = t / M, i = t % M;
    if (r0 + q < rows) {
      float* out = yj + static_cast<long>(i) * rows + r0 + q;  // SwiGLU: yj is y[0], the gate's
      *out = Swiglu ? math::swiglu(joined(q, i), joined(q + per_matrix, i)) : joined(q, i);
    }
  }
  if constexpr (Swiglu && !std::is_same_v<A, quant::FloatSlices<Q>>) {
    static_assert(quant::qk % per_matrix == 0, "gemv: a 32-row group is whole blocks");
    if (b.out.q != nullptr) quantize_group<M, quant::interleaved_threads>(yj, rows, r0, per_matrix, b.out);
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
inline bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

// A packed matrix (MatrixView::packed) is read 8 bytes at a time, and only Q8_0 / Q4_0 have that layout.
template <class Q>
cudaError_t check_operands(const MatrixView<Q>& w, const float* x, const float* y) {
  if (w.cols < quant::dot_chunk || w.cols % quant::dot_chunk != 0 || w.rows < 1) return cudaErrorInvalidValue;
  if (w.packed && !quant::is_int_blocks_v<Q>) return cudaErrorInvalidValue;
  if (!aligned(w.data, w.packed ? 8 : alignof(typename Q::block)) || !aligned(x, alignof(float)) ||
      !aligned(y, alignof(float)))
    return cudaErrorMisalignedAddress;
  return cudaSuccess;
}
// 8-bit activations: q is read 16 bytes at a time (Q4_0; 8 for Q8_0), d a float at a time.
template <class Q>
cudaError_t check_operands(const MatrixView<Q>& w, const quant::Q8Rows& x, const float* y) {
  const cudaError_t e = check_operands(w, x.d, y);
  return e != cudaSuccess ? e : aligned(x.q, 16) ? cudaSuccess : cudaErrorMisalignedAddress;
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

// One interleaved launch per tile over the batch's matrices (their y advanced to the tile's rows), in
// arithmetic A.
template <bool Swiglu, class A, class Q, class L = quant::InPlace<Q>>
cudaError_t launch_interleaved(GemvBatch<Q> b, typename A::Input x, int m, const Launch& on) {
  constexpr int per_matrix = Swiglu ? gemv_rows_per_block / 2 : gemv_rows_per_block;
  b.warm = SKIPPY_GEMV_L2_PREFETCH == 2 || (SKIPPY_GEMV_L2_PREFETCH == 1 && on.early && early_launch_supported());
  int grid = 0;
  for (int j = 0; j < b.jobs; ++j) grid += b.blocks[j] = (b.rows[j] + per_matrix - 1) / per_matrix;
  if (Swiglu) grid = b.blocks[0];  // gate and up share the blocks
  return for_tiles(m, [&](auto M, int i0) {
    GemvBatch<Q> tile = b;
    for (int j = 0; j < b.jobs; ++j) tile.y[j] = b.y[j] + static_cast<long>(i0) * b.rows[j];
    tile.r.start.offset += i0;  // RoPE: the tile's first position
    if (tile.out.q != nullptr) {
      tile.out.q += static_cast<long>(i0) * b.rows[0];
      tile.out.d += static_cast<long>(i0) * (b.rows[0] / quant::qk);
    }
    return launch(kernels::gemv_interleaved<Q, decltype(M)::value, Swiglu, A, L>, grid, quant::interleaved_threads, 0,
                  on, tile, A::advance(x, i0, b.cols));
  });
}

// launch_interleaved in the layout the batch's matrices share (packed: quant::Packed<Q>).
template <bool Swiglu, class A, class Q>
cudaError_t launch_layout(const GemvBatch<Q>& b, bool packed, typename A::Input x, int m, const Launch& on) {
  if constexpr (quant::is_int_blocks_v<Q>) {
    if (packed) return launch_interleaved<Swiglu, A, Q, quant::Packed<Q>>(b, x, m, on);
  }
  return launch_interleaved<Swiglu, A, Q>(b, x, m, on);
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
    if (w[j].packed != w[0].packed) return cudaErrorNotSupported;
  }
  b = batch_of(w, y, 3);
  b.rope = true;
  b.r = rope;
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
  if (w.packed) return cudaErrorInvalidValue;
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
  if (fits) return detail::launch_layout<false, A>(detail::batch_of(w, y, n), w[0].packed, x, m, on);
  for (int j = 0; j < n; ++j) {
    const cudaError_t e =
        gemv_interleaved_fits(w[j], x)
            ? detail::launch_layout<false, A>(detail::batch_of(&w[j], &y[j], 1), w[j].packed, x, m, on)
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
    return detail::launch_layout<true, quant::FloatSlices<Q>>(detail::batch_of(w, out, 2), gate.packed, x, m, on);
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
  return detail::launch_layout<false, quant::FloatSlices<Q>>(b, w[0].packed, x, m, on);
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
// n <= gemv_max_jobs matrices of equal width, one launch per tile of 8 rows (one per matrix where their
// layouts differ). Any Q8_0 / Q4_0 matrix fits the interleaved kernel, so there is no fallback. Errors as
// gemv_batch.
template <class Q>
cudaError_t gemv_batch_q8(const MatrixView<Q>* w, float* const* y, int n, const quant::Q8Rows& x, int m,
                          const Launch& on = {}) {
  using A = quant::Q8Slices<Q>;  // refuses other weight types at compile time
  if (n < 1 || n > gemv_max_jobs) return cudaErrorInvalidValue;
  bool same = true;
  for (int j = 0; j < n; ++j) {
    if (w[j].cols != w[0].cols) return cudaErrorInvalidValue;
    const cudaError_t e = detail::check_operands(w[j], x, y[j]);
    if (e != cudaSuccess) return e;
    same = same && w[j].packed == w[0].packed;
  }
  if (same) return detail::launch_layout<false, A>(detail::batch_of(w, y, n), w[0].packed, x, m, on);
  for (int j = 0; j < n; ++j) {
    const cudaError_t e = detail::launch_layout<false, A>(detail::batch_of(&w[j], &y[j], 1), w[j].packed, x, m, on);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
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
  if (gate.rows != up.rows || gate.cols != up.cols || gate.packed != up.packed) return cudaErrorInvalidValue;
  const MatrixView<Q> w[2] = {gate, up};
  for (const MatrixView<Q>& v : w) {
    const cudaError_t e = detail::check_operands(v, x, y);
    if (e != cudaSuccess) return e;
  }
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
  return detail::launch_layout<true, A>(b, gate.packed, x, m, on);
}

// gemv_qkv_rope over 8-bit activations (x from quantize_activations). Errors as gemv_qkv_rope.
template <class Q>
cudaError_t gemv_qkv_rope_q8(const MatrixView<Q>* w, float* q_out, const quant::Q8Rows& x, int m,
                             const GemvRope& rope, const Launch& on = {}) {
  using A = quant::Q8Slices<Q>;
  GemvBatch<Q> b{};
  const cudaError_t e = detail::qkv_rope_batch(w, q_out, x, rope, b);
  return e != cudaSuccess ? e : detail::launch_layout<false, A>(b, w[0].packed, x, m, on);
}

}  // namespace skippy::cuda
