#pragma once
// Slices: the unit of work of the interleaved weight kernel (cuda/gemv.cuh), on the ggml layout in place.
// A row is cut into slices of 8 values (16 for Q4_0, whose bytes hold two values, and for F8_E4M3); thread
// t of a block of interleaved_warps warps takes slices t, t+128, t+256, ... so each warp reads consecutive
// bytes of the weights and of the activations at once (16-byte loads where the layout is aligned: the float
// types; 2-byte loads inside the 34- and 18-byte blocks of Q8_0 and Q4_0), and all four warps work on one
// row.
// A slice is decoded in registers without its scale, dotted with the activations by a chain of fused
// multiply-adds, and enters the thread's running sum as sum = fma(scale, slice dot, sum); each warp's
// threads are joined by the xor butterfly of warp shuffles, then the warps' sums in warp order. That
// arithmetic is FloatSlices<Q>; quant/q8_slice.hpp holds the other, over 8-bit activations.
//
// interleaved_dot_row (interleaved_dot<A> for either arithmetic) evaluates exactly that on the host.
// With every step an explicit fma it has the kernel's bits, so the kernel's indexing and decoding are
// tested without a GPU, and on a GPU the kernel is compared with it bit for bit (for finite inputs: a
// NaN's payload may differ; and not under --use_fast_math, whose flushed subnormals the host does not
// mimic). The order differs from dot_row's (the host backend's contract): the two agree to rounding, and
// each is independent of how many activation rows are processed together.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../math/reduce.hpp"
#include "dequantize.hpp"

namespace skippy::quant {

inline constexpr int slice_run = 8;  // consecutive values of a slice that meet consecutive activations
// Warps of the interleaved kernel sharing each row's slices (the host arithmetic's order follows it). A
// compile-time experiment knob for benchmarks: -DSKIPPY_GEMV_WARPS=N.
#ifndef SKIPPY_GEMV_WARPS
#define SKIPPY_GEMV_WARPS 4
#endif
inline constexpr int interleaved_warps = SKIPPY_GEMV_WARPS;
static_assert(interleaved_warps >= 1 && interleaved_warps <= 8, "SKIPPY_GEMV_WARPS: 1 to 8 warps per row");
inline constexpr int interleaved_threads = interleaved_warps * math::warp_lanes;

struct alignas(16) Bytes16 {
  std::uint32_t w[4];
};

namespace detail {
// The byte permutation of the device's __byte_perm (PTX prmt, default mode): byte n of the result is byte
// (s >> 4n) & 7 of the 8 bytes {x, y} (x's bytes 0-3, then y's 4-7). The host form states its meaning.
SKIPPY_HD_INLINE std::uint32_t byte_perm(std::uint32_t x, std::uint32_t y, std::uint32_t s) {
#if SKIPPY_DEVICE_PASS
  return __byte_perm(x, y, s);
#else
  const std::uint64_t b = static_cast<std::uint64_t>(y) << 32 | x;
  std::uint32_t r = 0;
  for (int n = 0; n < 4; ++n) r |= static_cast<std::uint32_t>(b >> (8 * ((s >> (4 * n)) & 7u)) & 0xffu) << (8 * n);
  return r;
#endif
}

// float(byte k of w) - bias without an integer-to-float instruction (a quarter-rate unit on GPUs): one
// byte permutation puts the byte in the low mantissa bits of 2^23 (bytes: w's byte k, 0x00, 0x00, 0x4b),
// which is exactly 2^23 + byte, and subtracting 2^23 + bias is exact too. A shift-and-mask form cost the
// device two or three integer instructions per value, in kernels likely bound by issued instructions
// (Q8_0 / Q4_0 loops on sm_90: 7.0 / 5.9 instructions per weight with that form, 5.8 / 4.7 with this;
// bench/results/sass-2026-11-30).
SKIPPY_HD_INLINE float unbias_byte(std::uint32_t w, int k, int bias) {
  return bits_float(byte_perm(w, 0x4b000000u, 0x7650u | static_cast<std::uint32_t>(k))) -
         static_cast<float>(0x800000 + bias);
}

// A block's scale. On the device one conversion instruction, exact for every non-NaN; a NaN scale makes
// the slice's result NaN whatever its payload (to_float's NaN test branched per slice and row).
SKIPPY_HD_INLINE float scale_float(half_t d) {
#if SKIPPY_DEVICE_PASS
  return convert_non_nan(d);
#else
  return to_float(d);
#endif
}

// 16 bytes from a 16-byte aligned address: one vector load on the device. Device loads go through the
// read-only data cache (__ldg): weights and activations do not change while a weight kernel runs.
SKIPPY_HD_INLINE Bytes16 load16(const void* p) {
#if SKIPPY_DEVICE_PASS
  const uint4 u = __ldg(static_cast<const uint4*>(p));
  return {{u.x, u.y, u.z, u.w}};
#else
  Bytes16 b;
  std::memcpy(&b, p, sizeof b);
  return b;
#endif
}
// 8 bytes from a 2-byte aligned address (inside a Q8_0 / Q4_0 block), as four 16-bit loads.
SKIPPY_HD_INLINE void load8(const unsigned char* p, std::uint32_t (&w)[2]) {
  std::uint16_t h[4];
#if SKIPPY_DEVICE_PASS
  for (int k = 0; k < 4; ++k) h[k] = __ldg(reinterpret_cast<const unsigned short*>(p) + k);
#else
  std::memcpy(h, p, sizeof h);
#endif
  w[0] = h[0] | static_cast<std::uint32_t>(h[1]) << 16;
  w[1] = h[2] | static_cast<std::uint32_t>(h[3]) << 16;
}
SKIPPY_HD_INLINE half_t load_half(const unsigned char* p) {
#if SKIPPY_DEVICE_PASS
  return half_t{__ldg(reinterpret_cast<const unsigned short*>(p))};
#else
  half_t h;
  std::memcpy(&h, p, sizeof h);
  return h;
#endif
}
SKIPPY_HD_INLINE const unsigned char* bytes(const void* p) { return static_cast<const unsigned char*>(p); }

struct ScaledBytes {
  half_t d;
  std::uint32_t q[2];
};
// The scale and the quant bytes qs[8 part, 8 part + 8) of block `block` of a Q8_0 or Q4_0 row. The
// block's byte offset is a 32-bit product, the same for every row a kernel reads at once, so each row
// adds it to its start once (a block index added to a row pointer made the compiler repeat a 64-bit
// multiply by the block size per row and slice).
template <class Block>
SKIPPY_HD_INLINE ScaledBytes load_part(const Block* row, int block, int part) {
  const unsigned char* b = bytes(row) + block * static_cast<int>(sizeof(Block));
  ScaledBytes r;
  r.d = load_half(b + offsetof(Block, d));
  load8(b + offsetof(Block, qs) + 8 * part, r.q);
  return r;
}
}  // namespace detail

// Slice<Q>: values per slice; first(s, j), the column of run j of slice s; load(row, s), the slice's raw
// bytes; decode(raw, v), its values without the scale, returning the scale (1 for the float types).
template <class Q>
struct Slice;

template <>
struct Slice<F32> {
  static constexpr int values = 8;
  struct Raw {
    Bytes16 b[2];
  };
  SKIPPY_HD_INLINE static int first(int s, int) { return s * values; }
  SKIPPY_HD_INLINE static Raw load(const float* row, int s) {
    return {{detail::load16(row + s * values), detail::load16(row + s * values + 4)}};
  }
  SKIPPY_HD_INLINE static float decode(const Raw& r, float (&v)[values]) {
    for (int k = 0; k < 4; ++k) {
      v[k] = bits_float(r.b[0].w[k]);
      v[4 + k] = bits_float(r.b[1].w[k]);
    }
    return 1.0f;
  }
};

// F16 and BF16: eight 16-bit values in one 16-byte load, low half of each word first (little endian).
template <class Half>
struct HalfSlice {
  static constexpr int values = 8;
  using Raw = Bytes16;
  SKIPPY_HD_INLINE static int first(int s, int) { return s * values; }
  SKIPPY_HD_INLINE static Raw load(const Half* row, int s) { return detail::load16(row + s * values); }
  SKIPPY_HD_INLINE static float decode(const Raw& r, float (&v)[values]) {
#if SKIPPY_DEVICE_PASS
    // F16 on the device: one NaN test for the 8 values, then one conversion each (to_float's per-value
    // test and fallback would cost several instructions per weight); a slice holding a NaN takes to_float.
    if constexpr (std::is_same_v<Half, half_t>) {
      if (!(any_half_nan(r.w[0]) || any_half_nan(r.w[1]) || any_half_nan(r.w[2]) || any_half_nan(r.w[3]))) {
        for (int k = 0; k < 4; ++k) {
          v[2 * k] = convert_non_nan(half_t{static_cast<std::uint16_t>(r.w[k] & 0xffffu)});
          v[2 * k + 1] = convert_non_nan(half_t{static_cast<std::uint16_t>(r.w[k] >> 16)});
        }
        return 1.0f;
      }
    }
#endif
    for (int k = 0; k < 4; ++k) {
      v[2 * k] = to_float(Half{static_cast<std::uint16_t>(r.w[k] & 0xffffu)});
      v[2 * k + 1] = to_float(Half{static_cast<std::uint16_t>(r.w[k] >> 16)});
    }
    return 1.0f;
  }
};
template <>
struct Slice<F16> : HalfSlice<half_t> {};
template <>
struct Slice<BF16> : HalfSlice<bf16_t> {};

// F8_E4M3: sixteen one-byte values in one 16-byte load (runs 0 and 1: values 16s..16s+7, 16s+8..16s+15),
// decoded as value * 2^-8 with the slice's scale 2^8 (both exact). The E4M3 code S.EEEE.MMM placed in a
// binary16 as S.0EEEE.MMM0000000 is exactly its value * 2^-8 (exponent bias 7 against 15, subnormals
// included), so two codes become a binary16 pair by a byte permutation, a shift and a mask, and then take
// F16's conversion (one instruction each on the device): about 3 operations per weight where to_float
// takes ten. A slice holding a NaN code (which would widen to 480) takes to_float instead.
namespace detail {
// Codes k and k + 1 of w (pair p = k / 2, little endian) as the binary16 pair of their values * 2^-8.
SKIPPY_HD_INLINE std::uint32_t fp8_pair_as_half2(std::uint32_t w, int p) {
  const std::uint32_t x = byte_perm(w, 0u, p == 0 ? 0x1404u : 0x3424u);  // bytes {0, code k, 0, code k+1}
  return (x & 0x80008000u) | ((x >> 1) & 0x3f803f80u);
}
// The top bit of each byte of w whose code is a NaN (S.1111.111): adding 1 to a 7-bit magnitude carries
// into its byte's top bit exactly then (and never into the next byte).
SKIPPY_HD_INLINE std::uint32_t fp8_nan_marks(std::uint32_t w) {
  return ((w & 0x7f7f7f7fu) + 0x01010101u) & 0x80808080u;
}
// A finite binary16 as a float: the device's conversion instruction, the host's formula.
SKIPPY_HD_INLINE float finite_half_value(std::uint32_t h) {
#if SKIPPY_DEVICE_PASS
  return convert_non_nan(half_t{static_cast<std::uint16_t>(h)});
#else
  return to_float(half_t{static_cast<std::uint16_t>(h)});
#endif
}
}  // namespace detail

template <>
struct Slice<F8_E4M3> {
  static constexpr int values = 16;
  using Raw = Bytes16;
  SKIPPY_HD_INLINE static int first(int s, int j) { return s * values + j * slice_run; }
  SKIPPY_HD_INLINE static Raw load(const fp8_e4m3_t* row, int s) { return detail::load16(row + s * values); }
  SKIPPY_HD_INLINE static float decode(const Raw& r, float (&v)[values]) {
    using detail::fp8_nan_marks;
    if (!(fp8_nan_marks(r.w[0]) | fp8_nan_marks(r.w[1]) | fp8_nan_marks(r.w[2]) | fp8_nan_marks(r.w[3]))) {
      for (int k = 0; k < 4; ++k)
        for (int p = 0; p < 2; ++p) {
          const std::uint32_t h = detail::fp8_pair_as_half2(r.w[k], p);
          v[4 * k + 2 * p] = detail::finite_half_value(h & 0xffffu);
          v[4 * k + 2 * p + 1] = detail::finite_half_value(h >> 16);
        }
    } else {
      for (int k = 0; k < values; ++k)  // little endian
        v[k] = to_float(fp8_e4m3_t{static_cast<std::uint8_t>(r.w[k / 4] >> (8 * (k % 4)))}) * 0x1p-8f;
    }
    return 0x1p8f;
  }
};

// Q8_0: four slices per block, slice s = bytes qs[8p, 8p + 8) of block s / 4 (p = s % 4).
template <>
struct Slice<Q8_0> {
  static constexpr int values = 8;
  using Raw = detail::ScaledBytes;
  SKIPPY_HD_INLINE static int first(int s, int) { return s * values; }
  SKIPPY_HD_INLINE static Raw load(const block_q8_0* row, int s) { return detail::load_part(row, s / 4, s % 4); }
  SKIPPY_HD_INLINE static float decode(const Raw& r, float (&v)[values]) {
    for (int j = 0; j < 2; ++j) {  // the int8 q as q + 128 (its byte with the sign bit flipped), less 128
      const std::uint32_t w = r.q[j] ^ 0x80808080u;
      for (int k = 0; k < 4; ++k) v[4 * j + k] = detail::unbias_byte(w, k, 128);
    }
    return detail::scale_float(r.d);
  }
};

// Q4_0: two slices per block, slice s = bytes qs[8p, 8p + 8) of block s / 2 (p = s % 2): their low
// nibbles are values 8p..8p+7 (run 0), their high nibbles values 16+8p..16+8p+7 (run 1).
template <>
struct Slice<Q4_0> {
  static constexpr int values = 16;
  using Raw = detail::ScaledBytes;
  SKIPPY_HD_INLINE static int first(int s, int j) { return (s / 2) * qk + (s % 2) * slice_run + j * (qk / 2); }
  SKIPPY_HD_INLINE static Raw load(const block_q4_0* row, int s) { return detail::load_part(row, s / 2, s % 2); }
  SKIPPY_HD_INLINE static float decode(const Raw& r, float (&v)[values]) {
    for (int j = 0; j < 2; ++j) {  // q4_0_low / q4_0_high, as floats: four low nibbles, four high ones
      const std::uint32_t low = r.q[j] & 0x0f0f0f0fu, high = (r.q[j] >> 4) & 0x0f0f0f0fu;
      for (int k = 0; k < 4; ++k) {
        v[4 * j + k] = detail::unbias_byte(low, k, q4_0_bias);
        v[slice_run + 4 * j + k] = detail::unbias_byte(high, k, q4_0_bias);
      }
    }
    return detail::scale_float(r.d);
  }
};

// The activations a slice meets: run j of slice s is x[first(s, j) .. + 8), 32-byte aligned when x is.
template <class Q>
SKIPPY_HD_INLINE void load_activations(const float* x, int s, float (&xs)[Slice<Q>::values]) {
  for (int j = 0; j < Slice<Q>::values / slice_run; ++j) {
    const float* p = x + Slice<Q>::first(s, j);
    const Bytes16 a = detail::load16(p), b = detail::load16(p + 4);
    for (int k = 0; k < 4; ++k) {
      xs[j * slice_run + k] = bits_float(a.w[k]);
      xs[j * slice_run + 4 + k] = bits_float(b.w[k]);
    }
  }
}

// The slice's dot product, value by value in order, and its step of the lane's running sum.
template <int N>
SKIPPY_HD_INLINE float slice_step(float sum, float scale, const float (&v)[N], const float (&xs)[N]) {
  float d = 0.0f;
  for (int k = 0; k < N; ++k) d = math::fma(v[k], xs[k], d);
  return math::fma(scale, d, sum);
}

// FloatSlices<Q>: how the interleaved kernel's slices meet float activations (m rows of cols floats):
// values decoded to floats, a chain of fused multiply-adds per slice (slice_step). quant/q8_slice.hpp
// holds the other arithmetic, for activations quantised to 8 bits. An arithmetic names the weight type,
// its input, the decoded Weights of one slice and row, the Activations of one slice and activation row,
// and step, the slice's step of a running sum.
template <class Q>
struct FloatSlices {
  using Type = Q;
  using Input = const float*;
  static constexpr int values = Slice<Q>::values;
  struct Weights {
    float scale;
    float v[values];
  };
  struct Activations {
    float x[values];
  };
  SKIPPY_HD_INLINE static Input advance(Input x, int rows, int cols) { return x + static_cast<long>(rows) * cols; }
  SKIPPY_HD_INLINE static Weights decode(const typename Slice<Q>::Raw& raw) {
    Weights w;
    w.scale = Slice<Q>::decode(raw, w.v);
    return w;
  }
  SKIPPY_HD_INLINE static Activations load(Input x, int s) {
    Activations a;
    load_activations<Q>(x, s, a.x);
    return a;
  }
  SKIPPY_HD_INLINE static float step(float sum, const Weights& w, const Activations& a) {
    return slice_step(sum, w.scale, w.v, a.x);
  }
};

// Thread t's running sum over its slices of a row, in arithmetic A (x: one activation row).
template <class A>
SKIPPY_HD float interleaved_thread_sum(const typename A::Type::block* row, typename A::Input x, int cols, int t) {
  using S = Slice<typename A::Type>;
  float sum = 0.0f;
  for (int s = t; s < cols / S::values; s += interleaved_threads)
    sum = A::step(sum, A::decode(S::load(row, s)), A::load(x, s));
  return sum;
}

// The interleaved kernels' join of their threads' sums: each warp's by the butterfly, then the warps' in
// warp order. A caller whose threads from `used` on had no slice (their sums +0, as threads[] must then
// hold up to the end of their warp) may say so: a warp of such threads sums to +0 without its butterfly
// (a row of 128 values has 16 slices of 8, and four butterflies would cost more than its products).
inline float interleaved_join(const float (&threads)[interleaved_threads], int used = interleaved_threads) {
  float total = 0.0f;
  for (int w = 0; w < interleaved_warps; ++w) {
    float warp = 0.0f;
    if (w * math::warp_lanes < used) {
      float lanes[math::warp_lanes];
      for (int l = 0; l < math::warp_lanes; ++l) lanes[l] = threads[w * math::warp_lanes + l];
      warp = math::butterfly_sum(lanes);
    }
    total = w == 0 ? warp : total + warp;
  }
  return total;
}

// sum_i row[i] * x[i] with exactly the interleaved kernel's operations in arithmetic A (cols a multiple
// of dot_chunk).
template <class A>
float interleaved_dot(const typename A::Type::block* row, typename A::Input x, int cols) {
  float threads[interleaved_threads];
  for (int t = 0; t < interleaved_threads; ++t) threads[t] = interleaved_thread_sum<A>(row, x, cols, t);
  return interleaved_join(threads);
}

// The interleaved kernel's sum over float activations.
template <class Q>
float interleaved_dot_row(const typename Q::block* row, const float* x, int cols) {
  return interleaved_dot<FloatSlices<Q>>(row, x, cols);
}

}  // namespace skippy::quant
