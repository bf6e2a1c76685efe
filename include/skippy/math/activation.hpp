#pragma once
// SwiGLU's gate: silu(g) * u.

#include <cmath>

#include "../core/config.hpp"

namespace skippy::math {

SKIPPY_HD_INLINE float silu(float x) { return x / (1.0f + expf(-x)); }
SKIPPY_HD_INLINE float swiglu(float gate, float up) { return silu(gate) * up; }

}  // namespace skippy::math
