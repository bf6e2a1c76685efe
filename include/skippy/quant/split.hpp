#pragma once
// Float activations as sums of 16-bit parts, for the tensor-core kernel over F16 / BF16 weights in place
// (cuda/kernels/gemv_half_mma.cuh). Tensor cores multiply 16-bit operands; a product of two 16-bit values
// is exact in float, so splitting each activation into parts of the weights' type keeps float's precision
// in every product:
//   F16: two parts, hi = f16(x) and lo = f16(x - hi); |x - (hi + lo)| <= max(2^-22 |x|, 2^-25). |x| must
//     stay below 65520 (F16's range): beyond it hi is infinite and the result not finite (a decoder
//     reports non-finite logits).
//   BF16: three parts, each bf16 of what the parts before left; |x - (p0 + p1 + p2)| <= 2^-24 |x| for
//     |x| below 0x1.ff8p127 (float's top half-ulp of bf16): above it p0 rounds to infinity and the sum is
//     NaN, as on the device (cvt.rn.bf16x2), and a decoder reports non-finite logits.
// x - part is exact at every step (each part is its remainder rounded to fewer bits), so the remainders
// are the host's and the device's alike: the same parts, bit for bit, from the same conversions.

#include <cstdint>

#include "../core/half.hpp"

namespace skippy::quant {

template <class H>
struct Split;
template <>
struct Split<half_t> {
  static constexpr int parts = 2;
};
template <>
struct Split<bf16_t> {
  static constexpr int parts = 3;
};

namespace detail {
// {lo, hi} rounded to 16 bits (nearest even) in one word, lo in the low half (the order in memory).
SKIPPY_HD_INLINE std::uint32_t pack_pair(float lo, float hi, half_t) {
#if SKIPPY_DEVICE_PASS && __CUDA_ARCH__ >= 800
  std::uint32_t w;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
  return w;
#else
  return to_half(lo).bits | static_cast<std::uint32_t>(to_half(hi).bits) << 16;
#endif
}
SKIPPY_HD_INLINE std::uint32_t pack_pair(float lo, float hi, bf16_t) {
#if SKIPPY_DEVICE_PASS && __CUDA_ARCH__ >= 800
  std::uint32_t w;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
  return w;
#else
  return to_bf16(lo).bits | static_cast<std::uint32_t>(to_bf16(hi).bits) << 16;
#endif
}
// The 16-bit value in the low (h = 0) or high half of w, as a float: exact. NaN payloads may differ
// between host and device (a NaN part only arises from a NaN activation, and leaves the result NaN).
SKIPPY_HD_INLINE float unpack_half(std::uint32_t w, int h, half_t) {
  const half_t v{static_cast<std::uint16_t>(w >> (16 * h))};
#if SKIPPY_DEVICE_PASS
  return convert_non_nan(v);
#else
  return to_float(v);
#endif
}
SKIPPY_HD_INLINE float unpack_half(std::uint32_t w, int h, bf16_t) {
  return bits_float(h == 0 ? w << 16 : w & 0xffff0000u);
}
}  // namespace detail

// Parts of two activations x0, x1, packed two to a word as an mma operand holds them: word p has part p of
// x0 in its low half and of x1 in its high half.
template <class H>
SKIPPY_HD_INLINE void split_pair(float x0, float x1, std::uint32_t (&w)[Split<H>::parts]) {
  for (int p = 0; p < Split<H>::parts; ++p) {  // unrolled: parts is a constant
    w[p] = detail::pack_pair(x0, x1, H{});
    if (p + 1 < Split<H>::parts) {
      x0 -= detail::unpack_half(w[p], 0, H{});
      x1 -= detail::unpack_half(w[p], 1, H{});
    }
  }
}

// The parts of one activation as floats (host accounts and tests).
template <class H>
SKIPPY_HD_INLINE void split_parts(float x, float (&part)[Split<H>::parts]) {
  std::uint32_t w[Split<H>::parts];
  split_pair<H>(x, 0.0f, w);
  for (int p = 0; p < Split<H>::parts; ++p) part[p] = detail::unpack_half(w[p], 0, H{});
}

}  // namespace skippy::quant
