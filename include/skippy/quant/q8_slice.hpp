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
// SSE2 intrinsics for the host's byte products; not under nvcc (as math/reduce.hpp's AVX path).
#if defined(__SSE2__) && !defined(__CUDACC__)
#define SKIPPY_HOST_SSE2 1
#include <emmintrin.h>
#endif

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

// The same exact sum over the N (8 or 16) bytes at a and b, for the host's loops (integer sums do not
// depend on their order). With SSE2 (every x86-64) the bytes widen to 16 bits and pmaddwd sums products in
// pairs: a few instructions where GCC compiles the plain loop to a load, a sign extension and a multiply
// per byte.
template <int N>
inline int dot_bytes(const std::int8_t* a, const std::int8_t* b) {
  static_assert(N == 8 || N == 16, "dot_bytes: a slice has 8 or 16 bytes");
#if defined(SKIPPY_HOST_SSE2)
  const auto widen_low = [](__m128i v) { return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8); };
  __m128i p;
  if constexpr (N == 8) {
    const __m128i va = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a));
    const __m128i vb = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b));
    p = _mm_madd_epi16(widen_low(va), widen_low(vb));
  } else {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    const auto widen_high = [](__m128i v) { return _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8); };
    p = _mm_add_epi32(_mm_madd_epi16(widen_low(va), widen_low(vb)), _mm_madd_epi16(widen_high(va), widen_high(vb)));
  }
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));  // + the other 64-bit half
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xb1));  // + the neighbouring word
  return _mm_cvtsi128_si32(p);
#else
  int s = 0;
  for (int k = 0; k < N; ++k) s += a[k] * b[k];
  return s;
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

// The arithmetic shared by both types; each type's decode gives its Weights.
template <class Q>
struct Q8SliceBase {
  using Type = Q;
  using Input = Q8Rows;
  static constexpr int words = Slice<Q>::values / 4;  // 32-bit words of a slice's bytes
  struct Activations {
    float d;                 // the activation block's scale
    std::uint32_t a[words];  // the slice's activation bytes, run by run
  };
  // A slice decoded: word j of q holds the four int8 weights that meet word j of the activations.
  struct Weights {
    float scale;
    std::uint32_t q[words];
  };
  // The slice's exact integer sum (dp4a by dp4a on the device).
  SKIPPY_HD_INLINE static int dot(const Weights& w, const Activations& x) {
    int s = 0;
    for (int j = 0; j < words; ++j) s = dot4(w.q[j], x.a[j], s);
    return s;
  }
  SKIPPY_HD_INLINE static Input advance(Input x, int rows, int cols) {
    return {x.q + static_cast<long>(rows) * cols, x.d + static_cast<long>(rows) * (cols / qk)};
  }
  // Where slice s's activation bytes start in a row's q: its runs are stored next to each other
  // (q8_stored), at q8_stored(Slice<Q>::first(s, 0)), which for Q4_0 (block s / 2, half s % 2) is 16 s.
  // The slices' bytes tile the row.
  SKIPPY_HD_INLINE static int offset(int s) {
    return std::is_same_v<Q, Q4_0> ? 16 * s : q8_stored(Slice<Q>::first(s, 0));
  }
  // One load of 8 or 16 bytes (q 16-byte aligned for Q4_0).
  SKIPPY_HD_INLINE static Activations load(Input x, int s) {
    static_assert(slice_run == q8_run, "Q8Slices: a slice's runs are the stored runs");
    Activations r;
    r.d = load_float(x.d + Slice<Q>::first(s, 0) / qk);
    const std::int8_t* p = x.q + offset(s);
    if constexpr (Slice<Q>::values / slice_run == 2) load16_aligned(p, r.a);
    else load8_aligned(p, r.a);
    return r;
  }
  // The slice's step of a running sum, given its exact integer dot product.
  SKIPPY_HD_INLINE static float step(float sum, float w_scale, float a_scale, int dot) {
    return math::fma(w_scale * a_scale, static_cast<float>(dot), sum);
  }
  SKIPPY_HD_INLINE static float step(float sum, const Weights& w, const Activations& a) {
    return step(sum, w.scale, a.d, dot(w, a));
  }
};
}  // namespace detail

template <class Q>
struct Q8Slices {
  static_assert(sizeof(Q) == 0, "Q8Slices<Q>: 8-bit activations serve the Q8_0 and Q4_0 weight types only");
};

// Q8_0: the slice's eight int8 quants meet eight activation bytes as they are.
template <>
struct Q8Slices<Q8_0> : detail::Q8SliceBase<Q8_0> {
  SKIPPY_HD_INLINE static Weights decode(const detail::ScaledBytes& raw) {
    return {detail::scale_float(raw.d), {raw.q[0], raw.q[1]}};
  }
};

// Q4_0: low nibbles meet run 0 of the activations, high nibbles run 1, each as 16 * (nibble - 8); the
// scale is d / 16 (exact: a power of two on a half's value).
template <>
struct Q8Slices<Q4_0> : detail::Q8SliceBase<Q4_0> {
  SKIPPY_HD_INLINE static Weights decode(const detail::ScaledBytes& raw) {
    Weights w;
    w.scale = detail::scale_float(raw.d) * 0.0625f;
    for (int j = 0; j < 2; ++j) {  // words 0-1 the low nibbles, 2-3 the high ones
      w.q[j] = detail::q4_low_x16(raw.q[j]);
      w.q[2 + j] = detail::q4_high_x16(raw.q[j]);
    }
    return w;
  }
};

}  // namespace skippy::quant
