#pragma once
// Rotary position embedding in llama.cpp's `llama` convention: adjacent pairs (x[2i], x[2i+1]) of each
// head rotate by angle pos * base^(-2i/head_dim).

#include <cmath>

#include "../core/config.hpp"

namespace skippy::math {

SKIPPY_HD_INLINE float rope_angle(int pos, int pair, int head_dim, float base) {
  return static_cast<float>(pos) * powf(base, -2.0f * static_cast<float>(pair) / static_cast<float>(head_dim));
}

// Rotates pair i (x0, x1) = (x[2i], x[2i+1]) of a head vector: the values in registers (the CUDA weight
// kernel's epilogue) or in memory (rope_pair).
SKIPPY_HD_INLINE void rotate_pair(float& x0, float& x1, int i, int pos, int head_dim, float base) {
  const float a = rope_angle(pos, i, head_dim, base);
  const float c = cosf(a), s = sinf(a);
  const float r0 = x0 * c - x1 * s, r1 = x0 * s + x1 * c;
  x0 = r0;
  x1 = r1;
}

// Rotates pair i (x[2i], x[2i+1]) of one head vector in place: a device thread may take one pair.
SKIPPY_HD_INLINE void rope_pair(float* x, int i, int pos, int head_dim, float base) {
  rotate_pair(x[2 * i], x[2 * i + 1], i, pos, head_dim, base);
}

// Rotates one head vector of head_dim values in place.
SKIPPY_HD_INLINE void rope(float* x, int pos, int head_dim, float base) {
  for (int i = 0; i < head_dim / 2; ++i) rope_pair(x, i, pos, head_dim, base);
}

}  // namespace skippy::math
