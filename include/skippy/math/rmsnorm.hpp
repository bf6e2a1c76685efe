#pragma once
// RMSNorm as LLaMA defines it: y_i = w_i * x_i / sqrt(mean(x^2) + eps).

#include <cmath>

#include "reduce.hpp"

namespace skippy::math {

SKIPPY_HD_INLINE float rms_scale(float sum_sq, int n, float eps) {
  return 1.0f / sqrtf(sum_sq / static_cast<float>(n) + eps);
}

// Element i of the normalised row, given the row's rms_scale s.
SKIPPY_HD_INLINE float rms_apply(float x, float w, float s) { return w * (x * s); }

SKIPPY_HD_INLINE void rmsnorm(const float* x, const float* w, float* y, int n, float eps) {
  const float s = rms_scale(sum_squares(x, n), n, eps);
  for (int i = 0; i < n; ++i) y[i] = rms_apply(x[i], w[i], s);
}

}  // namespace skippy::math
