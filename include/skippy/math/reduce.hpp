#pragma once
// Fixed-order reductions: the order is part of the result, so it is written down once. Lane l of 8
// accumulates elements l, l+8, l+16, ... in order; a fixed pairwise tree joins the lanes. A device
// kernel may give each lane to its own thread and get the same bits as the host's interleaved loop.

#include <cmath>

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

SKIPPY_HD_INLINE float join_lanes(const float (&acc)[reduce_lanes]) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

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
  for (; i < n; ++i) acc[i % reduce_lanes] += a[i] * b[i];
  return join_lanes(acc);
}

inline constexpr int warp_lanes = 32;

// What lane 0 holds after the xor butterfly of warp shuffles (v += shfl_xor(v, o) for o = 16, 8, 4, 2, 1)
// over the 32 lane values: the host's account of a device warp sum.
SKIPPY_HD_INLINE float butterfly_sum(const float (&lanes)[warp_lanes]) {
  float v[warp_lanes];
  for (int l = 0; l < warp_lanes; ++l) v[l] = lanes[l];
  for (int o = warp_lanes / 2; o > 0; o >>= 1) {
    float t[warp_lanes];
    for (int l = 0; l < warp_lanes; ++l) t[l] = v[l] + v[l ^ o];
    for (int l = 0; l < warp_lanes; ++l) v[l] = t[l];
  }
  return v[0];
}

}  // namespace skippy::math
