#pragma once
// What the weight kernels' launches share (gemv.cuh: the interleaved kernel; kernels/gemv_tiled.cuh: the
// tensor-core kernel over 8-bit activations): the batch of matrices one launch takes, with its fused
// epilogues (RoPE and the KV cache write, SwiGLU, the SwiGLU output quantised to 8 bits), and the device
// helpers that pick a block's matrix and run those epilogues.

#include <cuda_runtime.h>

#include <cstdint>

#include "../math/activation.hpp"
#include "../math/rope.hpp"
#include "../quant/normed_slice.hpp"
#include "../quant/q8_activations.hpp"
#include "../quant/types.hpp"
#include "kernels/arrival.cuh"
#include "kernels/position.cuh"
#include "kernels/warp.cuh"

namespace skippy::cuda {

inline constexpr int gemv_max_tile = 8;  // activation rows per launch; larger m is tiled
inline constexpr int gemv_max_jobs = 3;  // matrices one launch may take

// The matrices of one weight launch, all cols wide, over the same activations: matrix j has rows[j]
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

// Where a weight launch that adds its products to the residual stream (gemv_residual: y += W x, one
// matrix) leaves each updated row's RMSNorm scale, for the next weight launch to normalise its input
// as it loads it (quant::NormedSlices): scale (m floats), the norm's eps, and one arrival counter (zero
// before the first launch; each launch leaves it zero; launches that may run at the same time need their
// own). The last block to arrive computes the scales (quant::norm_scale's bits). Null: none.
struct NormScales {
  float* scale = nullptr;
  unsigned* counter = nullptr;
  float eps = 0.0f;
};

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
  NormScales norm;  // a residual launch (gemv_residual) only
};

namespace kernels {

// After a block has stored its rows r0.. of y (m <= M rows of `rows` floats): the last of the qk / per_block
// blocks of its 32-row group to arrive quantises the group's m rows of 32 values into out
// (threadFenceReduction's pattern, as the attention's merge), with quantize_activations' bits over y and
// without its launch. Every thread of the block calls it.
template <int M, int Threads>
__device__ __forceinline__ void quantize_group(const float* y, int m, int rows, int r0, int per_block, Q8Output out) {
  __shared__ bool last;
  __shared__ float staged[M][quant::qk + 1];  // + 1: thread i reads row i, a bank apart from row i + 1
  const int t = static_cast<int>(threadIdx.x), group = r0 / quant::qk;
  __threadfence();  // this block's y, before its arrival
  __syncthreads();
  if (t == 0) last = atomicAdd(&out.counters[group], 1u) == static_cast<unsigned>(quant::qk / per_block - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  for (int e = t; e < m * quant::qk; e += Threads) {  // L2's copy: other blocks wrote it
    const int i = e / quant::qk, c = e % quant::qk;
    staged[i][c] = __ldcg(y + static_cast<long>(i) * rows + group * quant::qk + c);
  }
  if (t == 0) out.counters[group] = 0u;  // ready for the next launch
  __syncthreads();
  if (t < m) {
    std::int8_t v[quant::qk];
    out.d[static_cast<long>(t) * (rows / quant::qk) + group] = quant::quantize_q8(staged[t], v);
    quant::store_q8_block(v, out.q + static_cast<long>(t) * rows + group * quant::qk);
  }
}

// The RMSNorm scales of rows i < m of y (m <= M rows of `rows` floats, rows a multiple of 4, y 16-byte
// aligned) into scale[i], quant::norm_scale's bits, reading y through L2 (other blocks of the launch may
// have written it). Every thread of the block calls it; Threads = quant::interleaved_threads, the order
// norm_sum_squares writes down.
template <int M, int Threads>
__device__ __forceinline__ void row_norm_scales(const float* y, int m, int rows, float eps, float* scale) {
  static_assert(Threads == quant::interleaved_threads, "row_norm_scales: the fused norm's order is for "
                "quant::interleaved_threads threads");
  __shared__ float sums[Threads / 32][M];
  const int t = static_cast<int>(threadIdx.x);
  float part[M];
  quant::norm_thread_sums<M>(y, m, rows, t, part);
#pragma unroll
  for (int i = 0; i < M; ++i) {
    if (i >= m) break;
    const float s = warp_sum(part[i]);
    if (t % 32 == 0) sums[t / 32][i] = s;
  }
  __syncthreads();
  if (t < m) {
    float total = sums[0][t];
#pragma unroll
    for (int w = 1; w < Threads / 32; ++w) total += sums[w][t];
    scale[t] = math::rms_scale(total, rows, eps);
  }
}

// After every block has added its rows to y (the residual stream, m <= M rows): the last block to arrive
// writes the rows' scales to norm.scale (row_norm_scales). Every thread of the block calls it.
template <int M, int Threads>
__device__ __forceinline__ void store_norm_scales(const float* y, int m, int rows, const NormScales& norm) {
  __shared__ int last;
  if (last_to_arrive(norm.counter, &last)) row_norm_scales<M, Threads>(y, m, rows, norm.eps, norm.scale);
}

// A thread block's matrix (job) in its batch, the block's index among that matrix's blocks, and the
// matrix's rows, weights and output, chosen with constant indices only (a run-time index into the
// parameter struct would copy it to local memory in every thread).
template <class Q>
struct Job {
  int job, block, rows;
  const typename Q::block* w;
  float* y;
};
template <class Q>
__device__ __forceinline__ Job<Q> job_of(const GemvBatch<Q>& b) {
  Job<Q> j{0, static_cast<int>(blockIdx.x), b.rows[0], b.w[0], b.y[0]};
  bool found = false;
#pragma unroll
  for (int k = 0; k + 1 < gemv_max_jobs; ++k) {
    found = found || k + 1 >= b.jobs || j.block < b.blocks[k];
    if (!found) {
      j.block -= b.blocks[k];
      j.rows = b.rows[k + 1];
      j.w = b.w[k + 1];
      j.y = b.y[k + 1];
      j.job = k + 1;
    }
  }
  return j;
}

// The RoPE epilogue of a Q/K/V launch for rows r, r + 1 (r even) of matrix `job` at activation row i:
// Q's pair rotated to y, K's rotated and V's as they are to the cache slot of the row's position.
__device__ __forceinline__ void store_rope_pair(const GemvRope& rope, int job, float* y, int rows, int r, int i,
                                                float x0, float x1) {
  const int pos = rope.start.get() + i;
  if (job < 2) math::rotate_pair(x0, x1, (r % rope.head_dim) / 2, pos, rope.head_dim, rope.theta);
  float* out = job == 0 ? y + static_cast<long>(i) * rows + r
                        : (job == 1 ? rope.k_cache : rope.v_cache) + static_cast<long>(pos) * rows + r;
  out[0] = x0;
  out[1] = x1;
}

// The tensor-core kernels' epilogue (kernels/gemv_tiled.cuh, kernels/gemv_half_mma.cuh) for one group of
// n <= G activation rows starting at i0: each warp's mma accumulators (rows g, g + 8 of the block's 16 at
// activation rows 2t, 2t + 1, warps W of each of Parts matrices) through shared memory, joined in warp
// order and times unit, then stored as the batch asks: Q/K/V with RoPE and the cache write, gate/up as
// swiglu(gate, up) into y[0], else as they are. Every thread of the block calls it; a later group's call
// must follow a barrier (it rewrites sums).
template <int W, int G, int Parts, int Threads, class Q>
__device__ __forceinline__ void store_tile_group(float (&sums)[Parts][W][16][G], const float (&acc)[4],
                                                 const GemvBatch<Q>& b, const Job<Q>& jb, int r0, int i0, int n,
                                                 float unit) {
  constexpr bool swiglu = Parts == 2;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid / 32 % W, part = tid / (32 * W);
  const int g = lane >> 2, t = lane & 3, rows = jb.rows;
  if (2 * t < n) {
    sums[part][warp][g][2 * t] = acc[0];
    sums[part][warp][g + 8][2 * t] = acc[2];
  }
  if (2 * t + 1 < n) {
    sums[part][warp][g][2 * t + 1] = acc[1];
    sums[part][warp][g + 8][2 * t + 1] = acc[3];
  }
  __syncthreads();
  const auto joined = [&](int p, int rr, int col) {
    float sum = sums[p][0][rr][col];
#pragma unroll
    for (int k = 1; k < W; ++k) sum += sums[p][k][rr][col];
    return sum * unit;
  };
  if (!swiglu && b.rope) {  // a thread per pair of rows and activation row (r0 and rows are even)
    for (int e = tid; e < 8 * n; e += Threads) {
      const int rr = 2 * (e % 8), col = e / 8;
      if (r0 + rr < rows)
        store_rope_pair(b.r, jb.job, jb.y, rows, r0 + rr, i0 + col, joined(0, rr, col), joined(0, rr + 1, col));
    }
    return;
  }
  for (int e = tid; e < 16 * n; e += Threads) {
    const int rr = e % 16, col = e / 16;
    if (r0 + rr < rows)  // SwiGLU: jb.y is y[0], the gate's
      jb.y[static_cast<long>(i0 + col) * rows + r0 + rr] =
          swiglu ? math::swiglu(joined(0, rr, col), joined(1, rr, col)) : joined(0, rr, col);
  }
}

// The whole epilogue of a tensor-core kernel: store_tile_group for each group of up to G of the m
// activation rows (acc[n]: group n's accumulators), a barrier between groups.
template <int W, int G, int Groups, int Parts, int Threads, class Q>
__device__ __forceinline__ void store_tile(float (&sums)[Parts][W][16][G], const float (&acc)[Groups][4],
                                           const GemvBatch<Q>& b, const Job<Q>& jb, int r0, int m, float unit) {
#pragma unroll
  for (int gi = 0; gi < Groups; ++gi) {
    const int i0 = 8 * gi, n = m - i0 < G ? m - i0 : G;  // the group's first activation row and its rows
    if (n <= 0) break;
    if (gi > 0) __syncthreads();  // the group before has read sums
    store_tile_group<W, G, Parts, Threads>(sums, acc[gi], b, jb, r0, i0, n, unit);
  }
}

}  // namespace kernels

}  // namespace skippy::cuda
