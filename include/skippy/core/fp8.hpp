#pragma once
// FP8 E4M3 storage type (the OCP 8-bit float "E4M3FN", CUDA's __nv_fp8_e4m3): 1 sign, 4 exponent bits
// (bias 7) and 3 mantissa bits; subnormals are multiples of 2^-9; no infinities; S.1111.111 is NaN, so
// the largest finite value is 448. Bit-exact conversions usable on host and device without cuda_fp8.h.

#include <cstdint>

#include "half.hpp"

namespace skippy {

struct fp8_e4m3_t {
  std::uint8_t bits;
};
static_assert(sizeof(fp8_e4m3_t) == 1, "fp8_e4m3_t must be 1 byte");

inline constexpr float fp8_e4m3_max = 448.0f;

// E4M3 -> binary32, exact, without binary32 subnormals (slow on x86 hosts, flushed to zero on the device
// under --use_fast_math): a normal's 7 magnitude bits placed at the top of a binary32's exponent and
// mantissa fields, the exponent rebiased 7 -> 127 by an integer add; a subnormal m * 2^-9 from the integer
// m (a signed conversion: x86 has no vector unsigned one), chosen by select_bits (masks: host loops
// vectorise; no divergent paths in a warp).
SKIPPY_HD_INLINE float to_float(fp8_e4m3_t v) {
  const std::uint32_t b = v.bits, sign = (b & 0x80u) << 24, mag = b & 0x7fu;
  const std::uint32_t normal = (mag << 20) + (120u << 23);
  const std::uint32_t subnormal = float_bits(static_cast<float>(static_cast<std::int32_t>(mag)) * 0x1p-9f);
  return bits_float(sign | select_bits(mag == 0x7fu, 0x7fc00000u, select_bits(mag < 8u, subnormal, normal)));
}

// binary32 -> E4M3, round to nearest even, saturating: magnitudes from 448 up (infinity included) give
// +-448, as CUDA's __NV_SATFINITE conversion does (the format has no infinity; a weight past the range is
// better clipped than turned into a NaN); NaN gives NaN. The sign of zero is kept.
SKIPPY_HD_INLINE fp8_e4m3_t to_fp8_e4m3(float f) {
  const std::uint32_t u = float_bits(f);
  const auto code = [&](std::uint32_t magnitude) {
    return fp8_e4m3_t{static_cast<std::uint8_t>(((u >> 24) & 0x80u) | magnitude)};
  };
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return code(0x7fu);
  if (abs >= 0x43e00000u) return code(0x7eu);  // 448 and up
  if (abs < 0x3c800000u) {                     // below 2^-6: a subnormal q * 2^-9, q = 0..8 (8 is 2^-6)
    if (abs <= 0x3a800000u) return code(0);    // at most 2^-10, half the smallest subnormal (a tie goes to 0)
    const std::uint32_t shift = 141u - (abs >> 23);  // value * 2^9 = mantissa >> shift: 21..24
    const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    std::uint32_t q = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
    return code(q);
  }
  std::uint32_t r = abs - (120u << 23);  // rebias the exponent 127 -> 7
  const std::uint32_t rem = r & 0xfffffu;
  r >>= 20;
  if (rem > 0x80000u || (rem == 0x80000u && (r & 1u))) ++r;  // a carry moves to the next binade; at most 0x7e
  return code(r);
}

}  // namespace skippy
