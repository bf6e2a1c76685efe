#pragma once
// The tiled layout of a Q8_0 / Q4_0 matrix and the arithmetic of the tensor-core weight kernel over 8-bit
// activations (cuda/gemv_tiled.cuh). One warp instruction (mma m16n8k32: int8 in, int32 out) multiplies
// 16 weight rows by one 32-value block of up to 8 activation rows. Its k is exactly one block, so its
// results are the blocks' exact integer dot products, and each enters its (weight row, activation row)
// sum as sum = fma(d_w * d_x, float(dot), sum). The instructions issued do not grow with the activation
// rows up to 8, where the dp4a kernel's integer work and activation loads grow with each row
// (q8_slice.hpp): the kernel meant for verify blocks (M = 5 at the cost of M = 1).
//
// The fragment (PTX's m16n8k32 integer layout): lane 4g + t holds k = 4t..4t+3 and 16+4t..16+4t+3 of
// weight rows g and g + 8 and of activation row g, and receives the results of rows g and g + 8 for
// activation rows 2t and 2t + 1. The activations are stored with run q8_stored_run(t) at bytes 8t..8t+7 of
// each block (q8_activations.hpp), so a lane's activation fragment is one 8-byte load when k 4t + i is
// value 8r + i and k 16 + 4t + i is value 8r + 4 + i (r = q8_stored_run(t)). The weights follow: the
// lane's bytes of a row are the same 8 values, 8 bytes for Q8_0 and 4 for Q4_0 (byte i: value 8r + i's
// nibble low, 8r + 4 + i's high; a repack of the nibbles).
//
// Layout: rows in tiles of 16 (the last padded), each row's blocks in chunks of 4 (the last padded), a
// tile's chunks consecutive. A chunk is its quant bytes, placed so that each 16-byte load of a warp reads
// 512 contiguous bytes and gives lane 4g + t its bytes of row g (or g + 8) for the chunk's blocks, then
// the 16 rows' scales, row g's four and row g + 8's four in 16 bytes. Padding: Q8_0 bytes 0, Q4_0
// nibbles 8 (value 0), scales 0, so a padded block adds nothing to a finite sum.
//
// tiled_dot is the kernel's result on the host, bit for bit, computed from the ggml blocks, so that a test
// of the kernel against it also tests the layout and the fragments.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../core/half.hpp"
#include "../math/reduce.hpp"
#include "dequantize.hpp"
#include "q8_activations.hpp"
#include "q8_slice.hpp"
#include "types.hpp"

namespace skippy::quant {

// Warps of the tiled kernel sharing a tile's chunks (warp w takes chunks w, w + tiled_warps, ...; the host
// arithmetic's order follows it). A compile-time experiment knob: -DSKIPPY_GEMV_TILED_WARPS=N.
#ifndef SKIPPY_GEMV_TILED_WARPS
#define SKIPPY_GEMV_TILED_WARPS 8
#endif
inline constexpr int tiled_warps = SKIPPY_GEMV_TILED_WARPS;
static_assert(tiled_warps >= 4 && tiled_warps <= 16, "SKIPPY_GEMV_TILED_WARPS: 4 to 16 warps per tile");

// float(v) for |v| < 2^22 without an integer-to-float instruction (a quarter-rate unit on GPUs): v in the
// low mantissa bits of 1.5 * 2^23, minus 1.5 * 2^23. Exact, so equal to static_cast<float>(v). A block's
// integer dot is at most 32 * 128 * 127 < 2^19 in magnitude.
SKIPPY_HD_INLINE float small_int_float(int v) {
  return bits_float(0x4b400000u + static_cast<std::uint32_t>(v)) - 12582912.0f;
}

// One block's product entering its sum: the kernel's step and the host's.
SKIPPY_HD_INLINE float tiled_step(float sum, float dw, float dx, int dot) {
  return math::fma(dw * dx, small_int_float(dot), sum);
}

template <class Q>
struct Tiled {
  static_assert(is_int_blocks_v<Q>, "quant::Tiled: the tiled layout holds Q8_0 and Q4_0 matrices only");
  using block = typename Q::block;
  static constexpr bool q4 = std::is_same_v<Q, Q4_0>;
  static constexpr int tile_rows = 16, chunk_blocks = 4;
  static constexpr int lane_bytes = q4 ? 4 : 8;                // a lane's bytes of one row and block
  static constexpr int loads = 2 * chunk_blocks * lane_bytes / 16;  // a lane's 16-byte loads per chunk
  static constexpr int quant_bytes = loads * 512;
  static constexpr int scale_bytes = tile_rows * chunk_blocks * 2;
  static constexpr int chunk_bytes = quant_bytes + scale_bytes;  // 1152 (Q4_0) or 2176 (Q8_0)
  static_assert(chunk_bytes % 16 == 0, "quant::Tiled: chunks keep 16-byte alignment");

  SKIPPY_HD_INLINE static int tiles(int rows) { return (rows + tile_rows - 1) / tile_rows; }
  SKIPPY_HD_INLINE static int chunks(int cols) { return (cols / qk + chunk_blocks - 1) / chunk_blocks; }
  SKIPPY_HD_INLINE static std::size_t bytes(int rows, int cols) {
    return static_cast<std::size_t>(tiles(rows)) * static_cast<std::size_t>(chunks(cols)) * chunk_bytes;
  }
  // Offset in a chunk of lane 4g + t's byte i of block j of tile row g + 8h, and of that row's scale.
  SKIPPY_HD_INLINE static int quant_offset(int h, int g, int t, int j, int i) {
    return (h * (loads / 2) + j * lane_bytes / 16) * 512 + (4 * g + t) * 16 + j * lane_bytes % 16 + i;
  }
  SKIPPY_HD_INLINE static int scale_offset(int h, int g, int j) { return quant_bytes + g * 16 + h * 8 + j * 2; }

  // Q4_0's stored nibble of value v (0..31) of a block (q4_0_value, the dequantiser's, plus its bias).
  SKIPPY_HD_INLINE static int nibble(const block& b, int v) { return q4_0_value(b, v) + q4_0_bias; }
  // The weight of value v of a ggml block as the integer the instruction multiplies: Q8_0's byte, Q4_0's
  // 16 * (nibble - 8). The blocks' scales enter as they are, and the sum leaves times unit (Q4_0's 1/16:
  // exact, one multiply per result instead of one per block).
  SKIPPY_HD_INLINE static int weight(const block& b, int v) {
    if constexpr (q4) return 16 * q4_0_value(b, v);
    else return b.qs[v];
  }
  static constexpr float unit = q4 ? 0.0625f : 1.0f;
  SKIPPY_HD_INLINE static float weight_scale(half_t d) { return detail::scale_float(d); }

  // Row rr of tile `tile`, block j of chunk c, from the ggml blocks src (rows x cols) into the tiled bytes
  // at dst: its lanes' bytes and its scale, padding past the matrix. The host's tile loop and the device's
  // tile kernel (one call per row and block of a chunk).
  SKIPPY_HD_INLINE static void tile_block(const block* src, int rows, int cols, long tile, int c, int rr, int j,
                                          unsigned char* dst) {
    unsigned char* chunk = dst + (tile * chunks(cols) + c) * static_cast<long>(chunk_bytes);
    const long r = tile * tile_rows + rr;
    const int b = c * chunk_blocks + j, h = rr / 8, g = rr % 8;
    const bool real = r < rows && b < cols / qk;
    const block* s = real ? src + r * (cols / qk) + b : nullptr;
    for (int t = 0; t < 4; ++t) {
      const int run = 8 * q8_stored_run(t);
      for (int i = 0; i < lane_bytes; ++i) {
        unsigned char byte = q4 ? q4_0_bias * 0x11 : 0;  // Q4_0: both nibbles the bias, value 0
        if constexpr (q4) {
          if (real) byte = static_cast<unsigned char>(nibble(*s, run + i) | nibble(*s, run + 4 + i) << 4);
        } else {
          if (real) byte = static_cast<unsigned char>(s->qs[run + i]);
        }
        chunk[quant_offset(h, g, t, j, i)] = byte;
      }
    }
    const half_t d = real ? s->d : half_t{0};
    std::memcpy(chunk + scale_offset(h, g, j), &d, sizeof d);
  }

  // The instruction's A fragment for block j from a lane's chunk words (w[load][word], the loads at
  // load * 512 + lane * 16): rows g and g + 8, k 4t.. in a[0] / a[1], k 16 + 4t.. in a[2] / a[3].
  SKIPPY_HD_INLINE static void fragment(const std::uint32_t (&w)[loads][4], int j, std::uint32_t (&a)[4]) {
    for (int h = 0; h < 2; ++h) {
      if constexpr (q4) {
        const std::uint32_t word = w[h][j];
        a[h] = detail::q4_low_x16(word);
        a[2 + h] = detail::q4_high_x16(word);
      } else {
        a[h] = w[2 * h + j / 2][2 * (j % 2)];
        a[2 + h] = w[2 * h + j / 2][2 * (j % 2) + 1];
      }
    }
  }
  // Row g's (h = 0) or g + 8's (h = 1) scale of block j from the lane's 16 scale bytes.
  SKIPPY_HD_INLINE static float scale(const std::uint32_t (&s)[4], int h, int j) {
    const std::uint32_t pair = s[2 * h + j / 2];
    return weight_scale(half_t{static_cast<std::uint16_t>(j % 2 ? pair >> 16 : pair & 0xffffu)});
  }
};

// The tiled kernel's result for one ggml weight row against activation row x (q: cols bytes, d: cols / 32
// scales), bit for bit: warp w's sum over its chunks' blocks in order, the warps' sums in warp order, times
// Tiled<Q>::unit.
template <class Q>
float tiled_dot(const typename Q::block* row, const std::int8_t* xq, const float* xd, int cols) {
  using T = Tiled<Q>;
  const int blocks = cols / qk;
  float total = 0.0f;
  for (int w = 0; w < tiled_warps; ++w) {
    float sum = 0.0f;
    for (int c = w; c < T::chunks(cols); c += tiled_warps)
      for (int b = c * T::chunk_blocks; b < (c + 1) * T::chunk_blocks && b < blocks; ++b) {
        int dot = 0;
        for (int v = 0; v < qk; ++v) dot += T::weight(row[b], v) * xq[b * qk + q8_stored(v)];
        sum = tiled_step(sum, T::weight_scale(row[b].d), xd[b], dot);
      }
    total = w == 0 ? sum : total + sum;
  }
  return total * T::unit;
}

// The tiled bytes of a rows x cols ggml matrix on the host (dst: Tiled<Q>::bytes(rows, cols) bytes).
template <class Q>
void tile_matrix(const typename Q::block* src, int rows, int cols, unsigned char* dst) {
  using T = Tiled<Q>;
  for (long tile = 0; tile < T::tiles(rows); ++tile)
    for (int c = 0; c < T::chunks(cols); ++c)
      for (int rr = 0; rr < T::tile_rows; ++rr)
        for (int j = 0; j < T::chunk_blocks; ++j) T::tile_block(src, rows, cols, tile, c, rr, j, dst);
}

}  // namespace skippy::quant
