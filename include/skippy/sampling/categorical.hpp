#pragma once
// Draws from an unnormalised non-negative weight vector by inverse CDF in id order.

#include "../core/config.hpp"

namespace skippy::sampling {

// Returns the first i with w[0] + ... + w[i] > u * sum(w), u in [0, 1). If rounding leaves no such i,
// returns the last id with positive weight; -1 only if every weight is zero.
SKIPPY_HD_INLINE int sample_categorical(const float* w, int n, float u) {
  float total = 0.0f;
  int last = -1;
  for (int i = 0; i < n; ++i) {
    total += w[i];
    if (w[i] > 0.0f) last = i;
  }
  const float target = u * total;
  float cum = 0.0f;
  for (int i = 0; i < n; ++i) {
    cum += w[i];
    if (cum > target && w[i] > 0.0f) return i;
  }
  return last;
}

}  // namespace skippy::sampling
