#pragma once
// NormedSlices<Q>: the interleaved kernel's float arithmetic (slice.hpp) over activations that are an
// RMSNorm's output, normalised as they are loaded: the weight launch reads the residual stream x, the
// norm's weights and each row's rms scale, and meets the values math::rms_apply(x, w, scale), so the
// norm needs no launch of its own and no pass writing its output. The products are FloatSlices<Q>'s
// over those values, bit for bit.
//
// The scale comes from the weight launch that last added to x (its last block, cuda::NormScales) or from
// a launch of its own after the embedding. Its sum of squares has an order of its own (norm_sum_squares,
// written for the kernel's threads: float4 groups t, t + interleaved_threads, ... per thread, the xor
// butterfly, the warps in order), which differs from math::sum_squares' by rounding: a row's bits
// differ between a fused and an unfused norm, and are the same alone or in a block either way.

#include <cstring>

#include "../math/reduce.hpp"
#include "../math/rmsnorm.hpp"
#include "slice.hpp"

namespace skippy::quant {

// m rows of x (cols floats each, 16-byte aligned), the norm's cols weights (16-byte aligned), shared by
// the rows, and one scale per row (math::rms_scale of norm_sum_squares).
struct NormedRows {
  const float* x;
  const float* w;
  const float* scale;
};

template <class Q>
struct NormedSlices {
  using Type = Q;
  using Input = NormedRows;
  using Float = FloatSlices<Q>;
  static constexpr int values = Float::values;
  using Weights = typename Float::Weights;
  using Activations = typename Float::Activations;
  SKIPPY_HD_INLINE static Input advance(const Input& x, int rows, int cols) {
    return {x.x + static_cast<long>(rows) * cols, x.w, x.scale + rows};
  }
  SKIPPY_HD_INLINE static Weights decode(const typename Slice<Q>::Raw& raw) { return Float::decode(raw); }
  SKIPPY_HD_INLINE static Activations load(const Input& x, int s) {
    Activations a;
    float w[values];
    load_activations<Q>(x.x, s, a.x);
    load_activations<Q>(x.w, s, w);
    const float scale = *x.scale;
    for (int k = 0; k < values; ++k) a.x[k] = math::rms_apply(a.x[k], w[k], scale);
    return a;
  }
  SKIPPY_HD_INLINE static float step(float sum, const Weights& w, const Activations& a) {
    return Float::step(sum, w, a);
  }
};

namespace detail {
// Four floats at p (16-byte aligned); on the device through L2 (ld.global.cg): the row was written by
// other blocks of the same launch, which a read-only or L1 load might not see.
SKIPPY_HD_INLINE Bytes16 load16_l2(const float* p) {
#if SKIPPY_DEVICE_PASS
  const float4 v = __ldcg(reinterpret_cast<const float4*>(p));
  return {{__float_as_uint(v.x), __float_as_uint(v.y), __float_as_uint(v.z), __float_as_uint(v.w)}};
#else
  Bytes16 b;
  std::memcpy(&b, p, sizeof b);
  return b;
#endif
}
}  // namespace detail

// Thread t's parts of the sums of squares of rows i < m <= M of x (n values each, n a multiple of 4, x
// 16-byte aligned) into s[i]: the float4 groups t, t + interleaved_threads, ...
// of each row in order, each value's square added by fma. The rows' chains are independent (the same bits
// as one row at a time); interleaved, a thread has every row's loads of a group in flight at once.
template <int M>
SKIPPY_HD_INLINE void norm_thread_sums(const float* x, int m, int n, int t, float (&s)[M]) {
  for (int i = 0; i < M; ++i) s[i] = 0.0f;
  for (int g = t; g < n / 4; g += interleaved_threads) {
    Bytes16 b[M];
    for (int i = 0; i < M; ++i)
      if (i < m) b[i] = detail::load16_l2(x + static_cast<long>(i) * n + 4 * g);
    for (int i = 0; i < M; ++i) {
      if (i >= m) break;
      for (int k = 0; k < 4; ++k) {
        const float v = bits_float(b[i].w[k]);
        s[i] = math::fma(v, v, s[i]);
      }
    }
  }
}

// Thread t's part of one row's sum of squares (norm_thread_sums of one row).
SKIPPY_HD_INLINE float norm_thread_sum(const float* x, int n, int t) {
  float s[1];
  norm_thread_sums<1>(x, 1, n, t, s);
  return s[0];
}

// sum_i x[i]^2 in the fused norm's order (the kernel's bits, on the host).
inline float norm_sum_squares(const float* x, int n) {
  float threads[interleaved_threads];
  for (int t = 0; t < interleaved_threads; ++t) threads[t] = norm_thread_sum(x, n, t);
  return interleaved_join(threads);
}

// The fused norm's scale of a row of n values.
inline float norm_scale(const float* x, int n, float eps) { return math::rms_scale(norm_sum_squares(x, n), n, eps); }

}  // namespace skippy::quant
