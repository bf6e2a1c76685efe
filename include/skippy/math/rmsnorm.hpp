#pragma once
// RMSNorm as LLaMA defines it: y_i = w_i * x_i / sqrt(mean(x^2) + eps).

#include <cmath>

#include "../core/half.hpp"
#include "reduce.hpp"

namespace skippy::math {

// A sum of squares that overflowed (an element past ~1.8e19: a corrupt weight or a diverging activation)
// gives NaN, not 0: a scale of 0 would zero the row, every logit would be a finite 0 and decoding would
// emit token 0 forever; NaN reaches the decoders' non-finite-logit errors. A bit test, not isinf: it
// survives fast math.
SKIPPY_HD_INLINE float rms_scale(float sum_sq, int n, float eps) {
  if ((float_bits(sum_sq) & 0x7f800000u) == 0x7f800000u) return bits_float(0x7fc00000u);
  return 1.0f / sqrtf(sum_sq / static_cast<float>(n) + eps);
}

// Element i of the normalised row, given the row's rms_scale s.
SKIPPY_HD_INLINE float rms_apply(float x, float w, float s) { return w * (x * s); }

SKIPPY_HD_INLINE void rmsnorm(const float* x, const float* w, float* y, int n, float eps) {
  const float s = rms_scale(sum_squares(x, n), n, eps);
  for (int i = 0; i < n; ++i) y[i] = rms_apply(x[i], w[i], s);
}

}  // namespace skippy::math
