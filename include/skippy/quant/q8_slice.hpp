#pragma once
// Q8Slices<Q>: the interleaved kernel's slices (slice.hpp) against activations quantised to 8 bits
// (q8_activations.hpp), for Q8_0 and Q4_0 weights. A slice's products are integers summed exactly by
// dot4 (the device's dp4a: four byte products and an add in one instruction), and the slice enters the
// running sum as sum = fma(scale_w * d_a, float(isum), sum). Against the float arithmetic this drops the
// per-value conversions and fused multiply-adds (a float FMA per weight and activation row), the cost
// that made the Q8_0 / Q4_0 kernels issue-bound, and reads a quarter of the activation bytes.
//
// The numbers differ from the float path's: the activations carry the 8-bit quantisation's error (at
// most d / 2 = amax / 254 per value). They stay the same for a row whether it is computed alone or in a
// block (each activation row is quantised on its own), which is what greedy S3D's equality needs. The
// integer sums are exact and every float step is explicit, so interleaved_dot<Q8Slices<Q>> has the
// kernel's bits on the host.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../math/reduce.hpp"
#include "q8_activations.hpp"
#include "slice.hpp"

namespace skippy::quant {

namespace detail {
// sum over k of int8(byte k of a) * int8(byte k of b), plus c: exact, as __dp4a (sm_61 and newer).
SKIPPY_HD_INLINE int dot4(std::uint32_t a, std::uint32_t b, int c) {
#if SKIPPY_DEVICE_PASS && __CUDA_ARCH__ >= 610
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
#else
  for (int k = 0; k < 4; ++k)
    c += static_cast<std::int8_t>(a >> (8 * k) & 0xffu) * static_cast<std::int8_t>(b >> (8 * k) & 0xffu);
  return c;
#endif
}

// Q4_0 nibbles as int8 bytes 16 * (nibble - 8): the nibble under the byte's top four bits (x 16) with
// its top bit flipped (nibble ^ 8 is nibble - 8 modulo 16, and the top four bits read as a signed
// number). One or two instructions per word of eight nibbles; the kernel folds the 16 into the scale.
// xor_and is one LOP3 on the device: written in C++, its two constants made the compiler emit two
// (Q4_0 M = 1: 142 -> 127 instructions per loop iteration, bench/results/sass-2026-11-30).
SKIPPY_HD_INLINE std::uint32_t xor_and(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
#if SKIPPY_DEVICE_PASS
  std::uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0x28;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
#else
  return (a ^ b) & c;
#endif
}
SKIPPY_HD_INLINE std::uint32_t q4_low_x16(std::uint32_t w) { return xor_and(w << 4, 0x80808080u, 0xf0f0f0f0u); }
SKIPPY_HD_INLINE std::uint32_t q4_high_x16(std::uint32_t w) { return xor_and(w, 0x80808080u, 0xf0f0f0f0u); }

// 8 bytes from an 8-byte aligned address, 16 from a 16-byte aligned one, and one float: read-only loads
// on the device.
SKIPPY_HD_INLINE void load8_aligned(const std::int8_t* p, std::uint32_t* w) {
#if SKIPPY_DEVICE_PASS
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  w[0] = u.x;
  w[1] = u.y;
#else
  std::memcpy(w, p, 8);
#endif
}
SKIPPY_HD_INLINE void load16_aligned(const std::int8_t* p, std::uint32_t* w) {
#if SKIPPY_DEVICE_PASS
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  w[0] = u.x;
  w[1] = u.y;
  w[2] = u.z;
  w[3] = u.w;
#else
  std::memcpy(w, p, 16);
#endif
}
SKIPPY_HD_INLINE float load_float(const float* p) {
#if SKIPPY_DEVICE_PASS
  return __ldg(p);
#else
  return *p;
#endif
}

// The arithmetic shared by both types: Derived::dot gives the slice's exact integer sum.
template <class Derived, class Q>
struct Q8SliceBase {
  using Type = Q;
  using Input = Q8Rows;
  struct Activations {
    float d;                                        // the activation block's scale
    std::uint32_t a[Slice<Q>::values / 4];          // the slice's activation bytes, run by run
  };
  SKIPPY_HD_INLINE static Input advance(Input x, int rows, int cols) {
    return {x.q + static_cast<long>(rows) * cols, x.d + static_cast<long>(rows) * (cols / qk)};
  }
  // The slice's runs are stored next to each other (q8_stored): one load of 8 or 16 bytes (q 16-byte
  // aligned for Q4_0).
  SKIPPY_HD_INLINE static Activations load(Input x, int s) {
    static_assert(slice_run == q8_run, "Q8Slices: a slice's runs are the stored runs");
    Activations r;
    r.d = load_float(x.d + Slice<Q>::first(s, 0) / qk);
    // q8_stored(Slice<Q>::first(s, 0)), which for Q4_0 (block s / 2, half s % 2) is 16 s.
    const std::int8_t* p = x.q + (std::is_same_v<Q, Q4_0> ? 16 * s : q8_stored(Slice<Q>::first(s, 0)));
    if constexpr (Slice<Q>::values / slice_run == 2) load16_aligned(p, r.a);
    else load8_aligned(p, r.a);
    return r;
  }
  template <class Weights>
  SKIPPY_HD_INLINE static float step(float sum, const Weights& w, const Activations& a) {
    return math::fma(w.scale * a.d, static_cast<float>(Derived::dot(w, a)), sum);
  }
};
}  // namespace detail

template <class Q>
struct Q8Slices {
  static_assert(sizeof(Q) == 0, "Q8Slices<Q>: 8-bit activations serve the Q8_0 and Q4_0 weight types only");
};

// Q8_0: the slice's eight int8 quants meet eight activation bytes as they are.
template <>
struct Q8Slices<Q8_0> : detail::Q8SliceBase<Q8Slices<Q8_0>, Q8_0> {
  struct Weights {
    float scale;
    std::uint32_t q[2];
  };
  SKIPPY_HD_INLINE static Weights decode(const detail::ScaledBytes& raw) {
    return {detail::scale_float(raw.d), {raw.q[0], raw.q[1]}};
  }
  SKIPPY_HD_INLINE static int dot(const Weights& w, const Activations& x) {
    return detail::dot4(w.q[1], x.a[1], detail::dot4(w.q[0], x.a[0], 0));
  }
};

// Q4_0: low nibbles meet run 0 of the activations, high nibbles run 1, each as 16 * (nibble - 8); the
// scale is d / 16 (exact: a power of two on a half's value).
template <>
struct Q8Slices<Q4_0> : detail::Q8SliceBase<Q8Slices<Q4_0>, Q4_0> {
  struct Weights {
    float scale;
    std::uint32_t low[2], high[2];
  };
  SKIPPY_HD_INLINE static Weights decode(const detail::ScaledBytes& raw) {
    Weights w;
    w.scale = detail::scale_float(raw.d) * 0.0625f;
    for (int j = 0; j < 2; ++j) {
      w.low[j] = detail::q4_low_x16(raw.q[j]);
      w.high[j] = detail::q4_high_x16(raw.q[j]);
    }
    return w;
  }
  SKIPPY_HD_INLINE static int dot(const Weights& w, const Activations& x) {
    int s = detail::dot4(w.low[0], x.a[0], 0);
    s = detail::dot4(w.low[1], x.a[1], s);
    s = detail::dot4(w.high[0], x.a[2], s);
    return detail::dot4(w.high[1], x.a[3], s);
  }
};

}  // namespace skippy::quant
