#pragma once
// Where the interleaved weight kernel finds slice s of a row (slice.hpp), in two layouts of a Q8_0 /
// Q4_0 matrix of the same size:
// - InPlace<Q>: the ggml blocks as they are (every type). A slice's 8 quant bytes inside 34- or 18-byte
//   blocks are only 2-byte aligned, so a thread reads them with four 16-bit loads plus one for the scale,
//   and a warp's load instruction spans about three cache lines for 64 useful bytes.
// - Packed<Q>: a one-time repack (cuda::PackedMatrix): each row's quant bytes contiguous (slice s at byte
//   8s, one aligned 8-byte load), then every row's scales. Same bytes, same values, same order of
//   arithmetic: the kernel's result is the in-place kernel's, bit for bit, with two load instructions
//   per slice and row instead of five, each spanning a warp's 256 contiguous bytes.
// A layout names its Row (what a kernel keeps per weight row), row(base, r, rows, cols), load(row, s),
// which returns the slice's Slice<Q>::Raw, and value(row, k), element k dequantised (the tensor-core
// kernel's tiles), and spans(first, n, cols, f), the memory n consecutive rows occupy (the weight
// kernel's L2 prefetch). A MatrixView says which layout its data has (MatrixView::packed).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "dequantize.hpp"
#include "q8_slice.hpp"
#include "slice.hpp"

namespace skippy::quant {

template <class Q>
struct InPlace {
  using Row = const typename Q::block*;
  SKIPPY_HD_INLINE static Row row(const void* base, int r, int, int cols) {
    return static_cast<const typename Q::block*>(base) + static_cast<long>(r) * (cols / Q::block_size);
  }
  SKIPPY_HD_INLINE static typename Slice<Q>::Raw load(Row row, int s) { return Slice<Q>::load(row, s); }
  SKIPPY_HD_INLINE static float value(Row row, int k) {
    return dequantize(row[k / Q::block_size], k % Q::block_size);
  }
  // f(pointer, bytes) for each contiguous span of memory rows first.. (n consecutive rows) occupy.
  template <class F>
  SKIPPY_HD_INLINE static void spans(Row first, int n, int cols, F&& f) {
    f(static_cast<const void*>(first), static_cast<std::size_t>(n) * static_cast<std::size_t>(cols / Q::block_size) *
                                           sizeof(typename Q::block));
  }
};

template <class Q>
struct Packed {
  static_assert(is_int_blocks_v<Q>, "quant::Packed: the packed layout holds Q8_0 and Q4_0 matrices only");
  using block = typename Q::block;
  static constexpr int qs_bytes = static_cast<int>(sizeof(block::qs));  // 32 (Q8_0) or 16 (Q4_0)
  static constexpr int parts = qs_bytes / 8;                            // slices per block
  struct Row {
    const std::int8_t* qs;
    const half_t* d;
  };
  // Bytes before the scales: rows x cols / 32 blocks' quant bytes (a multiple of 16).
  SKIPPY_HD_INLINE static std::size_t scales_offset(int rows, int cols) {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols / qk) * qs_bytes;
  }
  SKIPPY_HD_INLINE static Row row(const void* base, int r, int rows, int cols) {
    const auto* p = static_cast<const unsigned char*>(base);
    const long blocks = cols / qk;
    return {reinterpret_cast<const std::int8_t*>(p) + r * blocks * qs_bytes,
            reinterpret_cast<const half_t*>(p + scales_offset(rows, cols)) + r * blocks};
  }
  SKIPPY_HD_INLINE static detail::ScaledBytes load(Row row, int s) {
    detail::ScaledBytes raw;
    raw.d = detail::load_half(reinterpret_cast<const unsigned char*>(row.d + s / parts));
    detail::load8_aligned(row.qs + 8 * s, raw.q);
    return raw;
  }
  SKIPPY_HD_INLINE static float value(Row row, int k) {
    const half_t d = row.d[k / qk];
    if constexpr (std::is_same_v<Q, Q8_0>) {
      return scaled(d, row.qs[k]);
    } else {
      const auto* qs = reinterpret_cast<const std::uint8_t*>(row.qs) + (k / qk) * qs_bytes;
      return scaled(d, q4_0_value(qs, k % qk));
    }
  }
  // f(pointer, bytes) for each contiguous span of memory rows first.. (n consecutive rows) occupy: their
  // quant bytes and their scales.
  template <class F>
  SKIPPY_HD_INLINE static void spans(Row first, int n, int cols, F&& f) {
    const std::size_t blocks = static_cast<std::size_t>(n) * static_cast<std::size_t>(cols / qk);
    f(static_cast<const void*>(first.qs), blocks * qs_bytes);
    f(static_cast<const void*>(first.d), blocks * sizeof(half_t));
  }
  // Block i (row-major over a rows x cols matrix) of src into the packed matrix at dst: the host's pack
  // loop and the device's pack kernel.
  SKIPPY_HD_INLINE static void pack_block(const block* src, int rows, int cols, long i, unsigned char* dst) {
    std::memcpy(dst + i * qs_bytes, src[i].qs, qs_bytes);
    std::memcpy(dst + scales_offset(rows, cols) + i * static_cast<long>(sizeof(half_t)), &src[i].d, sizeof(half_t));
  }
};

// The packed bytes of a rows x cols matrix on the host (cuda::DeviceModel's packed upload, tests; a
// matrix already on the device is packed there by cuda::pack_matrix). dst holds rows * row_bytes<Q>(cols)
// bytes and does not overlap src.
template <class Q>
void pack_matrix(const typename Q::block* src, int rows, int cols, unsigned char* dst) {
  const long blocks = static_cast<long>(rows) * (cols / qk);
  for (long i = 0; i < blocks; ++i) Packed<Q>::pack_block(src, rows, cols, i, dst);
}

}  // namespace skippy::quant
