#pragma once
// The tensor-core weight kernel over 8-bit activations, for Q8_0 / Q4_0 matrices in the tiled layout
// (quant/tiled.hpp): a thread block per 16 weight rows of a batch's matrix, its quant::tiled_warps warps
// sharing the rows' chunks of 4 blocks, one mma m16n8k32 per block for all M <= 8 activation rows (one per
// group of 8 rows in the prefill form, up to 64 rows). What a chunk costs does not depend on M up to 8,
// where the dp4a kernel's integer work and activation loads grow with every activation row (gemv.cuh's
// gemv_interleaved over quant::Q8Slices): the kernel meant for verify blocks. Each (row, activation row)
// sum is quant::tiled_dot's, bit for bit, alone or in a block of rows of either form; the batch's
// epilogues (gemv_batch.cuh) are the dp4a kernel's: RoPE and the cache write for Q/K/V, and for gate/up (a
// second set of warps on up's rows) SwiGLU and its 8-bit output. Launched early, a block first asks L2 for
// its tile (GemvBatch::warm), as gemv's do. gemv_q8 and its batch forms launch it for tiled matrices
// (MatrixView::tiled).

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "../../math/activation.hpp"
#include "../../quant/q8_activations.hpp"
#include "../../quant/q8_slice.hpp"
#include "../../quant/tiled.hpp"
#include "../gemv_batch.cuh"
#include "../launch.cuh"
#include "mma.cuh"

namespace skippy::cuda::kernels {

// Threads of a tiled block: tiled_warps warps per matrix (gate and up for SwiGLU).
template <bool Swiglu>
inline constexpr int tiled_threads = 32 * quant::tiled_warps * (Swiglu ? 2 : 1);

// Activation rows of the prefill form (M = tiled_block_rows): 8 groups of 8 rows, each group one more mma
// per block on the weight fragments already in registers, so a 64-row prefill block reads the weights once
// instead of once per 8 rows. Its rows are the same bits as the decoding forms' (each sum's steps in the
// same order).
inline constexpr int tiled_block_rows = 64;

// b.w[j] points at matrix j's tiled bytes, b.blocks[j] = its tiles of 16 rows. M: the launch's activation
// rows (decoding: 1..8), or tiled_block_rows for the prefill form, whose launch has rows_run <= M rows (the
// decoding forms ignore rows_run).
template <class Q, int M, bool Swiglu>
__global__ void __launch_bounds__(tiled_threads<Swiglu>)
    gemv_tiled_q8(const GemvBatch<Q> b, const quant::Q8Rows x, int rows_run) {
  static_assert((M >= 1 && M <= 8) || M == tiled_block_rows,
                "gemv_tiled_q8: 1..8 activation rows, or tiled_block_rows (the prefill form)");
  using T = quant::Tiled<Q>;
  constexpr int W = quant::tiled_warps, parts = Swiglu ? 2 : 1;
  constexpr int groups = (M + 7) / 8, G = M < 8 ? M : 8;  // groups of 8 activation rows, rows per group
  __shared__ float sums[parts][W][T::tile_rows][G];      // one group's, in turn
  const int m = M <= 8 ? M : rows_run;
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) / 32 % W;
  const int part = static_cast<int>(threadIdx.x) / (32 * W);  // SwiGLU: 0 gate, 1 up
  const int g = lane >> 2, t = lane & 3;
  const Job<Q> jb = job_of(b);
  const int rows = jb.rows, cols = b.cols, blocks = cols / quant::qk, chunks = T::chunks(cols);
  const auto* w = reinterpret_cast<const unsigned char*>(Swiglu ? (part == 0 ? b.w[0] : b.w[1]) : jb.w);
  const unsigned char* tile = w + static_cast<long>(jb.block) * chunks * T::chunk_bytes;
  struct Chunk {
    std::uint32_t q[T::loads][4];  // 16-byte loads at load * 512 + lane * 16
    std::uint32_t s[4];            // rows g's and g + 8's scales
  };
  const auto fetch = [&](int c, Chunk& k) {
    const unsigned char* p = tile + static_cast<long>(c) * T::chunk_bytes;
#pragma unroll
    for (int l = 0; l < T::loads; ++l)
      quant::detail::load16_aligned(reinterpret_cast<const std::int8_t*>(p + l * 512 + lane * 16), k.q[l]);
    quant::detail::load16_aligned(reinterpret_cast<const std::int8_t*>(p + T::quant_bytes + g * 16), k.s);
  };
  if (b.warm && threadIdx.x % (32 * W) == 0)  // each matrix's tile: one span of the tiled layout
    prefetch_l2(tile, static_cast<std::size_t>(chunks) * T::chunk_bytes);
  int c = warp;
  Chunk cur;  // uninitialised, as next: a select on a loaded value would wait for the load
  if (c < chunks) fetch(c, cur);  // the weights are read-only: requested before the wait for the kernel before
  dependent_prologue();
  // Group n's B fragment is activation row 8n + g, its results rows 8n + 2t and 8n + 2t + 1: rows past m
  // repeat the last (their results are not stored), groups past m are skipped.
  const auto row = [m](int i) { return i < m ? i : m - 1; };
  // acc[n]: rows g, g, g + 8, g + 8 at activation rows 8n + 2t, 8n + 2t + 1, 8n + 2t, 8n + 2t + 1.
  float acc[groups][4];
#pragma unroll
  for (int n = 0; n < groups; ++n)
    for (int k = 0; k < 4; ++k) acc[n][k] = 0.0f;
  // Block j of chunk c in k; a padded chunk's blocks past the row read the last block's activations (their
  // weights' scale is 0).
  const auto blocks_of = [&](const Chunk& k, int c, auto padded) {
#pragma unroll
    for (int j = 0; j < T::chunk_blocks; ++j) {
      const int n = c * T::chunk_blocks + j, blk = !decltype(padded)::value || n < blocks ? n : blocks - 1;
      std::uint32_t a[4];
      T::fragment(k.q, j, a);
      const float dw0 = T::scale(k.s, 0, j), dw1 = T::scale(k.s, 1, j);
#pragma unroll
      for (int gi = 0; gi < groups; ++gi) {
        if (8 * gi >= m) break;  // the same for the whole warp
        std::uint32_t xa[2];
        quant::detail::load8_aligned(x.q + static_cast<long>(row(8 * gi + g)) * cols + blk * quant::qk + 8 * t, xa);
        const float dx0 = quant::detail::load_float(x.d + static_cast<long>(row(8 * gi + 2 * t)) * blocks + blk);
        const float dx1 = quant::detail::load_float(x.d + static_cast<long>(row(8 * gi + 2 * t + 1)) * blocks + blk);
        int d[4];
        mma_s8_16x8x32(a, xa, d);
        acc[gi][0] = quant::tiled_step(acc[gi][0], dw0, dx0, d[0]);
        acc[gi][1] = quant::tiled_step(acc[gi][1], dw0, dx1, d[1]);
        acc[gi][2] = quant::tiled_step(acc[gi][2], dw1, dx0, d[2]);
        acc[gi][3] = quant::tiled_step(acc[gi][3], dw1, dx1, d[3]);
      }
    }
  };
  // Software-pipelined: the next chunk's weights are requested before this chunk's arithmetic. The whole
  // chunks first, then the padded one (if any) with the clamps.
  const int whole = blocks / T::chunk_blocks;
#pragma unroll 1
  for (; c < whole; c += W) {
    Chunk next;
    if (c + W < chunks) fetch(c + W, next);
    blocks_of(cur, c, std::false_type{});
    cur = next;
  }
  if (c < chunks) blocks_of(cur, c, std::true_type{});

  static_assert(T::tile_rows == 16, "gemv_tiled_q8: the epilogue takes tiles of 16 rows");
  const int r0 = jb.block * T::tile_rows;
  store_tile<W, G, groups, parts, tiled_threads<Swiglu>>(sums, acc, b, jb, r0, m, T::unit);
  if constexpr (Swiglu) {
    if (b.out.q != nullptr) quantize_group<M, tiled_threads<true>>(jb.y, m, rows, r0, T::tile_rows, b.out);
  }
}

}  // namespace skippy::cuda::kernels
