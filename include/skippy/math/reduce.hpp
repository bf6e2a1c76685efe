#pragma once
// Fixed-order reductions: the order is part of the result, so it is written down once.

#include "../core/config.hpp"

namespace skippy::math {

// sum_i x[i]^2 with 8 strided lanes and a pairwise tree (tail elements go to lane i % 8).
SKIPPY_HD_INLINE float sum_squares(const float* x, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) acc[i % 8] += x[i] * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace skippy::math

namespace skippy::math {

// sum_i a[i] * b[i] with the same lane layout as sum_squares.
SKIPPY_HD_INLINE float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) acc[i % 8] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace skippy::math
