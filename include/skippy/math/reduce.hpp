#pragma once
// Fixed-order reductions: the order is part of the result, so it is written down once. Lane l of 8
// accumulates elements l, l+8, l+16, ... in order; a fixed pairwise tree joins the lanes. A device
// kernel may give each lane to its own thread and get the same bits as the host's interleaved loop.

#include <cmath>
#if defined(__GNUC__) && !defined(__CUDACC__) && defined(__FP_FAST_FMAF) && defined(__FMA__) && defined(__AVX__)
#include <immintrin.h>
#endif

#include "../core/config.hpp"

namespace skippy::math {

inline constexpr int reduce_lanes = 8;

// a * b + c rounded once, on host and device alike, so a chain of them has the same bits on both.
SKIPPY_HD_INLINE float fma(float a, float b, float c) {
#if SKIPPY_DEVICE_PASS
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// The dot contract's multiply-add a * b + c: rounded once where the target has a fused multiply-add (the
// device; a host compiled for FMA hardware, which GCC marks __FP_FAST_FMAF), otherwise as the compiler
// evaluates the one expression a * b + c, the same wherever it stands (twice without FMA hardware; Clang,
// which does not define the macro, fuses it unless told -ffp-contract=off).
// Written out because GCC, left to contract across statements, may fuse in one loop and not in another,
// and a row's bits then depend on how many rows a product had (host::matmul's two loops disagreed with
// -march=native at -O2).
SKIPPY_HD_INLINE float madd(float a, float b, float c) {
#if SKIPPY_DEVICE_PASS
  return __fmaf_rn(a, b, c);
#elif defined(__FP_FAST_FMAF)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// Only where float arithmetic is plain IEEE single precision in registers: not on the x87 (excess
// precision in the scalar loop would differ from the vector one) and not under -ffast-math (free to
// reassociate each loop differently). GCC 8 or Clang: host::matmul's loop uses #pragma GCC unroll.
#if defined(__GNUC__) && !defined(__CUDACC__) && (defined(__x86_64__) || defined(__aarch64__)) && \
    defined(__FLT_EVAL_METHOD__) && __FLT_EVAL_METHOD__ == 0 && !defined(__FAST_MATH__) && \
    (defined(__clang__) || __GNUC__ >= 8)
#define SKIPPY_HOST_ROW_VECTORS 1
// Independent sums side by side, one per element (host::matmul's weight rows): a GCC/Clang vector as wide
// as one SIMD register (AVX: 8 floats; otherwise 4, as SSE and NEON hold; a vector wider than the
// target's registers would change the ABI of these inline functions and GCC warns).
#if defined(__AVX__)
typedef float row_vector __attribute__((vector_size(32)));  // __m256's layout
#else
typedef float row_vector __attribute__((vector_size(16)));
#endif
inline constexpr int row_vector_size = static_cast<int>(sizeof(row_vector) / sizeof(float));

// madd element by element, each element exactly the scalar madd. With x86 FMA the intrinsic: inlined into
// host::matmul, GCC 12 compiled the generic loop (std::fma per element) to scalar code, 2x slower there.
#if defined(__FP_FAST_FMAF) && defined(__FMA__) && defined(__AVX__)
inline row_vector madd(row_vector a, row_vector b, row_vector c) { return _mm256_fmadd_ps(a, b, c); }
#else
inline row_vector madd(row_vector a, row_vector b, row_vector c) {
#if defined(__FP_FAST_FMAF)
  row_vector r = c;  // (initialised: GCC 12 warned maybe-uninitialized at -march=bdver1)
  for (int j = 0; j < row_vector_size; ++j) r[j] = std::fma(a[j], b[j], c[j]);
  return r;
#else
  return a * b + c;
#endif
}
#endif
#endif

SKIPPY_HD_INLINE float join_lanes(const float (&acc)[reduce_lanes]) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

#if defined(SKIPPY_HOST_ROW_VECTORS)
// Elements I... of the concatenation a:b (GCC before 12 has no __builtin_shufflevector).
template <int... I>
inline row_vector shuffle(row_vector a, row_vector b) {
  static_assert(sizeof...(I) == row_vector_size);
#if defined(__clang__)
  return __builtin_shufflevector(a, b, I...);
#else
  typedef int mask __attribute__((vector_size(sizeof(row_vector))));
  return __builtin_shuffle(a, b, mask{I...});
#endif
}

// join_lanes of row_vector_size dots at once (host::matmul's weight rows): lanes[k] holds elements
// k*W .. k*W+W-1 of the dots' lanes laid end to end (dot j's 8 lanes are elements 8j .. 8j+7), and element j
// of the result is join_lanes of dot j: the same additions in the same order, adjacent pairs added level by
// level, with shuffles in place of a horizontal step per dot.
inline row_vector join_lanes_of_rows(const row_vector (&lanes)[reduce_lanes]) {
#if defined(__AVX__)
  // Pairs within each 128-bit half (vshufps; Clang makes vhaddps of them), whose halves then hold each
  // dot's (l0..l3) and (l4..l7) sums.
  const auto pairs = [](row_vector a, row_vector b) {
    return shuffle<0, 2, 8, 10, 4, 6, 12, 14>(a, b) + shuffle<1, 3, 9, 11, 5, 7, 13, 15>(a, b);
  };
  const row_vector x = pairs(pairs(lanes[0], lanes[1]), pairs(lanes[2], lanes[3]));
  const row_vector y = pairs(pairs(lanes[4], lanes[5]), pairs(lanes[6], lanes[7]));
  return shuffle<0, 1, 2, 3, 8, 9, 10, 11>(x, y) + shuffle<4, 5, 6, 7, 12, 13, 14, 15>(x, y);
#else
  const auto pairs = [](row_vector a, row_vector b) { return shuffle<0, 2, 4, 6>(a, b) + shuffle<1, 3, 5, 7>(a, b); };
  return pairs(pairs(pairs(lanes[0], lanes[1]), pairs(lanes[2], lanes[3])),
               pairs(pairs(lanes[4], lanes[5]), pairs(lanes[6], lanes[7])));
#endif
}

inline row_vector load_row_vector(const float* p) {
  row_vector v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
#endif

// Lane `lane` of sum_squares: x[lane]^2 + x[lane+8]^2 + ... in that order, each step one fused
// multiply-add. Written as fma because nvcc contracts s += x * x into one by default and the host does not:
// kernels::add_rmsnorm runs these lanes and promises the host's bits.
SKIPPY_HD_INLINE float lane_sum_squares(const float* x, int n, int lane) {
  float s = 0.0f;
  for (int i = lane; i < n; i += reduce_lanes) s = fma(x[i], x[i], s);
  return s;
}

// sum_i x[i]^2 (tail elements go to lane i % 8).
SKIPPY_HD_INLINE float sum_squares(const float* x, int n) {
  float acc[reduce_lanes];
  for (int l = 0; l < reduce_lanes; ++l) acc[l] = lane_sum_squares(x, n, l);
  return join_lanes(acc);
}

// The 8 elements of dot from a multiple of 8 on: element l to lane l (a kernel may load them wide).
SKIPPY_HD_INLINE void dot_step(float (&acc)[reduce_lanes], const float* a, const float* b) {
  for (int l = 0; l < reduce_lanes; ++l) acc[l] += a[l] * b[l];
}

// sum_i a[i] * b[i] with the same lane layout as sum_squares.
SKIPPY_HD_INLINE float dot(const float* a, const float* b, int n) {
  float acc[reduce_lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + reduce_lanes <= n; i += reduce_lanes) dot_step(acc, a + i, b + i);
  // The tail, under 8 elements, from lane 0. The bound on l changes nothing but lets GCC -O3 see it: with n
  // known after inlining it warned "iteration 8 invokes undefined behavior" at acc[i % 8].
  for (int l = 0; i < n && l < reduce_lanes; ++i, ++l) acc[l] += a[i] * b[i];
  return join_lanes(acc);
}

inline constexpr int warp_lanes = 32;

// What lane 0 holds after the xor butterfly of warp shuffles (v += shfl_xor(v, o) for o = 16, 8, 4, 2, 1)
// over the 32 lane values: the host's account of a device warp sum.
// Only the lanes lane 0 depends on are formed: after the step of offset o those are lanes 0..o-1, each
// v[l] + v[l ^ o] = v[l] + v[l + o] as on the device (31 additions, not 160).
SKIPPY_HD_INLINE float butterfly_sum(const float (&lanes)[warp_lanes]) {
  float v[warp_lanes];
  for (int l = 0; l < warp_lanes; ++l) v[l] = lanes[l];
  for (int o = warp_lanes / 2; o > 0; o >>= 1)
    for (int l = 0; l < o; ++l) v[l] = v[l] + v[l + o];
  return v[0];
}

}  // namespace skippy::math
