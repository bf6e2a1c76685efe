#pragma once
// The tensor-core weight kernel over float activations for F16 / BF16 matrices in place (the ggml rows as
// they are): a thread block per 16 weight rows of a batch's matrix, its half_mma_warps warps taking the
// rows' 64-column chunks in turn, and per chunk and 16 columns one mma m16n8k16 per part of the
// activations for all M <= 8 activation rows (one per group of 8 rows in the prefill form, up to 64 rows:
// the weights read once for a prefill block). Each activation enters as a sum of parts of the weights'
// 16-bit type (quant/split.hpp: two f16 parts, three bf16 ones), so every product is exact and the sums
// keep float's precision; what a chunk costs does not depend on M up to 8, where the float kernel's
// arithmetic grows with every activation row (gemv.cuh's gemv_interleaved): the kernel meant for verify
// blocks over F16 / BF16 models.
// Bits: the tensor cores sum in their own order, so a result is not gemv's bit for bit (nor the host's);
// it is the same alone or in a block of either form, as every other weight kernel's: each output element
// of an mma is a function of its weight row and its activation row only, and each activation row takes
// the same steps in the same order whatever M is.
// Column order: a dot product does not care which of an mma's 16 slots a column takes, so lane 4g + t
// gives its slots {2t, 2t+1, 2t+8, 2t+9} of mma j the consecutive columns 16t + 4j .. 16t + 4j + 3 of its
// chunk: weights and activations both come in 16-byte loads, in the fragments' registers as loaded.
// The batch's epilogues are the other weight kernels' (gemv_batch.cuh): RoPE and the cache write for
// Q/K/V, and for gate/up (a second set of warps on up's rows) SwiGLU. Launched early, a block first asks L2
// for its rows (GemvBatch::warm), as gemv's do. gemv_mma and its batch forms (gemv.cuh) launch it.

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "../../quant/split.hpp"
#include "../../quant/types.hpp"
#include "../gemv_batch.cuh"
#include "../launch.cuh"
#include "mma.cuh"

namespace skippy::cuda::kernels {

inline constexpr int half_mma_warps = 8;      // warps per matrix of a block, sharing its rows' chunks
inline constexpr int half_mma_rows = 16;      // weight rows a block (per matrix)
inline constexpr int half_mma_chunk = 64;     // columns a warp takes at a time: 16 per lane, 32 bytes a row
template <bool Swiglu>
inline constexpr int half_mma_threads = 32 * half_mma_warps * (Swiglu ? 2 : 1);

// Activation rows of the prefill form (M = half_mma_block_rows): 8 groups of 8 rows, each group its own mma
// on the weight fragments already in registers.
inline constexpr int half_mma_block_rows = 64;

template <class Q>
inline constexpr bool half_mma_type_v = std::is_same_v<Q, quant::F16> || std::is_same_v<Q, quant::BF16>;

// b.w[j] points at matrix j's rows (16-byte aligned), b.blocks[j] = its blocks of 16 rows; x holds M rows
// of b.cols floats (16-byte aligned). M: the launch's activation rows (decoding: 1..8), or
// half_mma_block_rows for the prefill form, whose launch has rows_run <= M rows (the decoding forms ignore
// rows_run).
template <class Q, int M, bool Swiglu>
__global__ void __launch_bounds__(half_mma_threads<Swiglu>)
    gemv_half_mma(const GemvBatch<Q> b, const float* __restrict__ x, int rows_run) {
  static_assert(half_mma_type_v<Q>, "gemv_half_mma: F16 or BF16 weights");
  static_assert((M >= 1 && M <= 8) || M == half_mma_block_rows,
                "gemv_half_mma: 1..8 activation rows, or half_mma_block_rows (the prefill form)");
  using H = typename Q::block;
  constexpr int W = half_mma_warps, parts = Swiglu ? 2 : 1, splits = quant::Split<H>::parts;
  constexpr int groups = (M + 7) / 8, G = M < 8 ? M : 8;  // groups of 8 activation rows, rows per group
  __shared__ float sums[parts][W][half_mma_rows][G];      // one group's, in turn
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) / 32 % W;
  const int part = static_cast<int>(threadIdx.x) / (32 * W);  // SwiGLU: 0 gate, 1 up
  const int g = lane >> 2, t = lane & 3;
  const Job<Q> jb = job_of(b);
  const int rows = jb.rows, cols = b.cols, chunks = (cols + half_mma_chunk - 1) / half_mma_chunk;
  const H* w = Swiglu ? (part == 0 ? b.w[0] : b.w[1]) : jb.w;
  const int r0 = jb.block * half_mma_rows;
  // This lane's rows g and g + 8 (rows past the end re-read the last row and are not stored).
  const H* row[2] = {w + static_cast<long>(r0 + g < rows ? r0 + g : rows - 1) * cols,
                     w + static_cast<long>(r0 + g + 8 < rows ? r0 + g + 8 : rows - 1) * cols};
  struct Chunk {
    uint4 v[2][2];  // [row g, g + 8][first, second 8 columns]
  };
  // A row of 32-value multiples ends in a whole half chunk: lanes past it read nothing and add zeros.
  const auto fetch = [&](int c, Chunk& k) {
    const int col = c * half_mma_chunk + 16 * t;
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int s = 0; s < 2; ++s)
        k.v[h][s] = col < cols ? __ldg(reinterpret_cast<const uint4*>(row[h] + col + 8 * s)) : make_uint4(0, 0, 0, 0);
  };
  if (b.warm && threadIdx.x % (32 * W) == 0) {  // each matrix's 16 rows: one span in the ggml layout
    const int n = rows - r0 < half_mma_rows ? rows - r0 : half_mma_rows;
    prefetch_l2(w + static_cast<long>(r0) * cols, static_cast<std::size_t>(n) * cols * sizeof(H));
  }
  int c = warp;
  Chunk cur;  // uninitialised, as next: a select on a loaded value would wait for the load
  if (c < chunks) fetch(c, cur);  // the weights are read-only: requested before the wait for the kernel before
  dependent_prologue();
  const int m = M <= 8 ? M : rows_run;
  // acc[n]: rows g, g, g + 8, g + 8 at activation rows 8n + 2t, 8n + 2t + 1, 8n + 2t, 8n + 2t + 1. Group n's
  // B fragments are activation row 8n + g: zeros past m (their results are not stored), groups past m
  // skipped.
  float acc[groups][4];
#pragma unroll
  for (int n = 0; n < groups; ++n)
#pragma unroll
    for (int k = 0; k < 4; ++k) acc[n][k] = 0.0f;
#pragma unroll 1
  for (; c < chunks; c += W) {
    Chunk next;
    if (c + W < chunks) fetch(c + W, next);
    const int col = c * half_mma_chunk + 16 * t;
    const std::uint32_t wg[8] = {cur.v[0][0].x, cur.v[0][0].y, cur.v[0][0].z, cur.v[0][0].w,
                                 cur.v[0][1].x, cur.v[0][1].y, cur.v[0][1].z, cur.v[0][1].w};
    const std::uint32_t wh[8] = {cur.v[1][0].x, cur.v[1][0].y, cur.v[1][0].z, cur.v[1][0].w,
                                 cur.v[1][1].x, cur.v[1][1].y, cur.v[1][1].z, cur.v[1][1].w};
#pragma unroll
    for (int gi = 0; gi < groups; ++gi) {
      if (8 * gi >= m) break;  // the same for the whole warp
      const int i = 8 * gi + g;
      const float* xi = x + static_cast<long>(i < m ? i : 0) * cols + col;
      float4 xv[4];  // activation row i at this lane's 16 columns; zeros past the row or m
#pragma unroll
      for (int q = 0; q < 4; ++q)
        xv[q] = i < m && col < cols ? __ldg(reinterpret_cast<const float4*>(xi + 4 * q)) : make_float4(0, 0, 0, 0);
#pragma unroll
      for (int j = 0; j < 4; ++j) {  // columns 16t + 4j .. + 3: slots 2t, 2t+1 (word 2j) and 2t+8, 2t+9 (2j + 1)
        const std::uint32_t a[4] = {wg[2 * j], wh[2 * j], wg[2 * j + 1], wh[2 * j + 1]};
        std::uint32_t lo[splits], hi[splits];
        quant::split_pair<H>(xv[j].x, xv[j].y, lo);
        quant::split_pair<H>(xv[j].z, xv[j].w, hi);
#pragma unroll
        for (int p = 0; p < splits; ++p) {
          const std::uint32_t bp[2] = {lo[p], hi[p]};
          mma_16x8x16<H>(a, bp, acc[gi]);
        }
      }
    }
    cur = next;
  }
  store_tile<W, G, groups, parts, half_mma_threads<Swiglu>>(sums, acc, b, jb, r0, m, 1.0f);
}

}  // namespace skippy::cuda::kernels
