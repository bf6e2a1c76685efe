#pragma once
// Dequantisation of one block, shared by host and device.

#include "types.hpp"

namespace skippy::quant {

// Value i (0 <= i < Q::block_size) of a block.
SKIPPY_HD_INLINE float dequantize(const float& b, int) { return b; }
SKIPPY_HD_INLINE float dequantize(const half_t& b, int) { return to_float(b); }
SKIPPY_HD_INLINE float dequantize(const bf16_t& b, int) { return to_float(b); }
SKIPPY_HD_INLINE float dequantize(const fp8_e4m3_t& b, int) { return to_float(b); }
// A quantised value times its block's scale (Q8_0 and Q4_0, whatever layout holds them).
SKIPPY_HD_INLINE float scaled(half_t d, int q) { return to_float(d) * static_cast<float>(q); }
SKIPPY_HD_INLINE float dequantize(const block_q8_0& b, int i) { return scaled(b.d, b.qs[i]); }
// The signed 4-bit values of a Q4_0 byte: its low nibble is element j, its high nibble element j + 16,
// each less q4_0_bias.
inline constexpr int q4_0_bias = 8;
SKIPPY_HD_INLINE int q4_0_low(std::uint8_t byte) { return (byte & 0x0f) - q4_0_bias; }
SKIPPY_HD_INLINE int q4_0_high(std::uint8_t byte) { return (byte >> 4) - q4_0_bias; }
// Signed 4-bit value of element i of a block's 16 quant bytes.
SKIPPY_HD_INLINE int q4_0_value(const std::uint8_t* qs, int i) {
  return i < qk / 2 ? q4_0_low(qs[i]) : q4_0_high(qs[i - qk / 2]);
}
SKIPPY_HD_INLINE int q4_0_value(const block_q4_0& b, int i) { return q4_0_value(b.qs, i); }
SKIPPY_HD_INLINE float dequantize(const block_q4_0& b, int i) { return scaled(b.d, q4_0_value(b, i)); }

// Dequantises a row of n values (n a multiple of Q::block_size) into out.
template <class Q>
SKIPPY_HD void dequantize_row(const typename Q::block* row, float* out, int n) {
  for (int b = 0; b < n / Q::block_size; ++b)
    for (int i = 0; i < Q::block_size; ++i) out[b * Q::block_size + i] = dequantize(row[b], i);
}

}  // namespace skippy::quant
