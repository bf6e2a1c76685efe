#pragma once
// Activations quantised to 8 bits per 32-value block, the input of the integer weight kernels for Q8_0 and
// Q4_0 (cuda::gemv_q8): value = d * q with q = round(x / d), d = amax / 127, the Q8_0 formula of
// quantize.hpp except that d stays a float (a half scale would add its own rounding to every product).
// m rows of cols values are q (m * cols bytes, row-major) and d (m * cols / 32 floats).
//
// A block holding a NaN or an infinity quantises to q = 0 and d = NaN, so every product it enters is NaN
// as on the float path (a decoder reports NaN logits as an error); a float-to-int8 conversion of a
// non-finite value would be undefined.

#include <cmath>
#include <cstdint>

#include "../core/error.hpp"
#include "types.hpp"

namespace skippy::quant {

// m rows of quantised activations: row i is q + i * cols and d + i * cols / qk.
struct Q8Rows {
  const std::int8_t* q;
  const float* d;
};

// Quantises the qk values at x into q[0..qk) and returns their scale. One formula for the host, the
// device kernel and the Q8_0 weight quantiser.
SKIPPY_HD_INLINE float quantize_q8(const float* x, std::int8_t* q) {
  float amax = 0.0f;
  bool finite = true;
  for (int i = 0; i < qk; ++i) {
    const float a = fabsf(x[i]);
    finite = finite && a <= 3.40282347e38f;  // FLT_MAX: false for NaN and infinities
    amax = a > amax ? a : amax;
  }
  if (!finite) {
    for (int i = 0; i < qk; ++i) q[i] = 0;
    return bits_float(0x7fc00000u);
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < qk; ++i) q[i] = static_cast<std::int8_t>(roundf(x[i] * id));
  return d;
}

// Host form of cuda::quantize_activations: m rows of cols floats (cols a multiple of qk).
inline void quantize_activations(const float* x, int m, int cols, std::int8_t* q, float* d) {
  require(m >= 0 && cols >= 0 && cols % qk == 0, "quantize_activations: ", m, " rows of ", cols,
          " values (the row length must be a multiple of ", qk, ")");
  const long blocks = static_cast<long>(m) * (cols / qk);
  for (long b = 0; b < blocks; ++b) d[b] = quantize_q8(x + b * qk, q + b * qk);
}

}  // namespace skippy::quant
