#pragma once
// IEEE binary16 and bfloat16 storage types with bit-exact conversions, usable on host and device
// without cuda_fp16.h (the host build needs no CUDA). Layouts match ggml's ggml_fp16_t / ggml_bf16_t.

#include <cstdint>
#include <cstring>

#include "config.hpp"

namespace skippy {

struct half_t {
  std::uint16_t bits;
};
struct bf16_t {
  std::uint16_t bits;
};
static_assert(sizeof(half_t) == 2 && sizeof(bf16_t) == 2, "16-bit storage types must be 2 bytes");

SKIPPY_HD_INLINE std::uint32_t float_bits(float f) {
#if SKIPPY_DEVICE_PASS
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

SKIPPY_HD_INLINE float bits_float(std::uint32_t u) {
#if SKIPPY_DEVICE_PASS
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// binary16 -> binary32, exact for every input (subnormals, infinities, NaN payloads kept). Written as
// selects rather than branches so host loops vectorise: rebias the exponent; Inf/NaN get the maximal
// exponent; subnormals are renormalised by one exact float subtraction. The device converts every
// non-NaN in one instruction (exact: binary32 holds every binary16 value), which keeps weight kernels
// off the integer pipes; NaNs take the formula, so payloads match the host whatever the hardware does.
#if SKIPPY_DEVICE_PASS
// The conversion instruction: exact for every non-NaN half.
__device__ __forceinline__ float convert_non_nan(half_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
  return f;
}
#endif

// Whether either binary16 in the word w is a NaN: |h| + 0x3ff carries into bit 15 exactly when
// |h| > 0x7c00 (and never into the other half). Lets a kernel test 8 values with a few integer operations.
SKIPPY_HD_INLINE bool any_half_nan(std::uint32_t w) { return (((w & 0x7fff7fffu) + 0x03ff03ffu) & 0x80008000u) != 0; }

// c ? a : b by masks. GCC 12 keeps a ?: between computed values as a branch, and a host loop of
// conversions then does not vectorise (BM_matvec<F16> 4096 x 4096, M = 1: 22.7 ms with ?:, 12.7 ms with
// masks); the device compiles either form to a select.
SKIPPY_HD_INLINE std::uint32_t select_bits(bool c, std::uint32_t a, std::uint32_t b) {
  const std::uint32_t m = 0u - static_cast<std::uint32_t>(c);
  return (a & m) | (b & ~m);
}

SKIPPY_HD_INLINE float to_float(half_t h) {
#if SKIPPY_DEVICE_PASS
  if ((h.bits & 0x7fffu) <= 0x7c00u) return convert_non_nan(h);
#endif
  constexpr std::uint32_t shifted_exp = 0x7c00u << 13;
  const std::uint32_t o = static_cast<std::uint32_t>(h.bits & 0x7fffu) << 13;
  const std::uint32_t exp = o & shifted_exp;
  const std::uint32_t normal = o + ((127u - 15u) << 23);
  const std::uint32_t inf_nan = normal + ((128u - 16u) << 23);
  const std::uint32_t subnormal = float_bits(bits_float(o + (113u << 23)) - bits_float(113u << 23));
  const std::uint32_t r = select_bits(exp == shifted_exp, inf_nan, select_bits(exp == 0, subnormal, normal));
  return bits_float(r | (static_cast<std::uint32_t>(h.bits & 0x8000u) << 16));
}

// binary32 -> binary16, round to nearest even; overflow gives infinity; NaN stays (quiet) NaN.
SKIPPY_HD_INLINE half_t to_half(float f) {
  const std::uint32_t u = float_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return half_t{static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu))};
  if (abs >= 0x477ff000u) return half_t{static_cast<std::uint16_t>(sign | 0x7c00u)};  // rounds past 65504
  if (abs < 0x38800000u) {                                                              // below 2^-14: subnormal
    if (abs < 0x33000000u) return half_t{sign};                                         // below half of 2^-24
    const std::uint32_t exp = abs >> 23;
    const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exp;  // 14..24
    std::uint32_t q = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
    return half_t{static_cast<std::uint16_t>(sign | q)};
  }
  std::uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  const std::uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return half_t{static_cast<std::uint16_t>(sign | r)};
}

SKIPPY_HD_INLINE float to_float(bf16_t b) { return bits_float(static_cast<std::uint32_t>(b.bits) << 16); }

// binary32 -> bfloat16 as ggml rounds it: nearest even, NaN forced quiet.
SKIPPY_HD_INLINE bf16_t to_bf16(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t{static_cast<std::uint16_t>((u >> 16) | 64u)};
  return bf16_t{static_cast<std::uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16)};
}

}  // namespace skippy
