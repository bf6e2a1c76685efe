#pragma once
// Activations quantised to 8 bits per 32-value block, the input of the integer weight kernels for Q8_0 and
// Q4_0 (cuda::gemv_q8): value = d * q with q = round(x / d), d = amax / 127, the Q8_0 formula of
// quantize.hpp except that d stays a float (a half scale would add its own rounding to every product).
// m rows of cols values are q (m * cols bytes, row-major) and d (m * cols / 32 floats). Inside a block the
// four runs of 8 values are stored in the order 0, 2, 1, 3 (q8_stored): the two runs a Q4_0 slice meets,
// values 8p.. and 16+8p.. (slice.hpp), are then 16 contiguous bytes, one load instead of two (the 8-bit
// Q4_0 kernel at M = 5 is bound by its activation loads in L1); a Q8_0 slice's run stays 8 contiguous bytes.
//
// A block holding a NaN or an infinity quantises to q = 0 and d = NaN, so every product it enters is NaN
// as on the float path (a decoder reports NaN logits as an error); a float-to-int8 conversion of a
// non-finite value would be undefined.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../core/error.hpp"
#include "types.hpp"

namespace skippy::quant {

// m rows of quantised activations: row i is q + i * cols and d + i * cols / qk.
struct Q8Rows {
  const std::int8_t* q;
  const float* d;
};

inline constexpr int q8_run = 8;  // values of a stored run

// Where run k of a block is stored (an involution: runs 1 and 2 trade places, the two bits of k swap).
SKIPPY_HD_INLINE constexpr int q8_stored_run(int k) { return (k & 1) << 1 | (k >> 1 & 1); }
// The byte of activation column c (>= 0) in its row's q: bits 3 and 4 of c swap.
SKIPPY_HD_INLINE constexpr int q8_stored(int c) { return (c & ~0x18) | (c & 0x08) << 1 | (c >> 1 & 0x08); }

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
  // A subnormal d (amax below 127 * FLT_MIN) can have 1/d overflow to infinity, and d rounded to the
  // subnormal grid can leave amax / d past 127.5: divide and clamp there, so the quants stay within +-127
  // on the host and the device alike (ggml's multiply keeps every other block's bits).
  if (d < 1.17549435e-38f && d != 0.0f) {  // FLT_MIN
    for (int i = 0; i < qk; ++i) q[i] = static_cast<std::int8_t>(roundf(fminf(fmaxf(x[i] / d, -127.0f), 127.0f)));
    return d;
  }
  for (int i = 0; i < qk; ++i) q[i] = static_cast<std::int8_t>(roundf(x[i] * id));
  return d;
}

// The qk quantised values v of one block to q (8-byte aligned) in the stored order: one 8-byte store per
// run on the device. Every writer of 8-bit activations goes through it.
SKIPPY_HD_INLINE void store_q8_block(const std::int8_t (&v)[qk], std::int8_t* q) {
  for (int k = 0; k < qk / q8_run; ++k) {
#if SKIPPY_DEVICE_PASS
    uint2 u;
    memcpy(&u, v + q8_run * k, sizeof u);
    reinterpret_cast<uint2*>(q)[q8_stored_run(k)] = u;
#else
    std::memcpy(q + q8_run * q8_stored_run(k), v + q8_run * k, q8_run);
#endif
  }
}

// Host form of cuda::quantize_activations: m rows of cols floats (cols a multiple of qk).
inline void quantize_activations(const float* x, int m, int cols, std::int8_t* q, float* d) {
  require(m >= 0 && cols >= 0 && cols % qk == 0, "quantize_activations: ", m, " rows of ", cols,
          " values (the row length must be a multiple of ", qk, ")");
  const long blocks = static_cast<long>(m) * (cols / qk);
  for (long b = 0; b < blocks; ++b) {
    std::int8_t v[qk];
    d[b] = quantize_q8(x + b * qk, v);
    store_q8_block(v, q + b * qk);
  }
}

}  // namespace skippy::quant
