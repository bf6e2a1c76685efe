#pragma once
// Host quantisation of float rows into each storage type, following ggml's reference quantisers
// (round-to-nearest scales, Q4_0's signed-max scale), so files written here load in llama.cpp.

#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "q8_activations.hpp"
#include "types.hpp"

namespace skippy::quant {

inline void quantize_block(const float* x, float* out) { *out = *x; }
inline void quantize_block(const float* x, half_t* out) { *out = to_half(*x); }
inline void quantize_block(const float* x, bf16_t* out) { *out = to_bf16(*x); }
inline void quantize_block(const float* x, fp8_e4m3_t* out) { *out = to_fp8_e4m3(*x); }  // saturates at 448

// The quants round against the float scale, which is then stored as a half (ggml's reference order).
inline void quantize_block(const float* x, block_q8_0* out) { out->d = to_half(quantize_q8(x, out->qs)); }

// A block holding a NaN or an infinity gets a NaN scale (every value reads back NaN), as Q8_0's does: the
// search below skips a NaN, which then became nibble 15, a finite weight that hid the corruption.
inline void quantize_block(const float* x, block_q4_0* out) {
  float amax = 0.0f, max = 0.0f;  // max keeps the sign of the largest-magnitude value
  bool finite = true;
  for (int i = 0; i < qk; ++i) {
    finite = finite && std::isfinite(x[i]);
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (!finite) {
    out->d = to_half(bits_float(0x7fc00000u));
    for (int j = 0; j < qk / 2; ++j) out->qs[j] = 0x88;  // level 0
    return;
  }
  const float d = max / -8.0f;
  // ggml's id = 1 / d, except where that overflows (|d| below 1 / FLT_MAX, stored as a half 0 anyway):
  // x * inf + 8.5 would reach the int conversion as an infinity, which is undefined.
  const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
  out->d = to_half(d);
  for (int j = 0; j < qk / 2; ++j) {
    const int lo = static_cast<int>(std::fmin(15.0f, x[j] * id + 8.5f));
    const int hi = static_cast<int>(std::fmin(15.0f, x[j + qk / 2] * id + 8.5f));
    out->qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
  }
}

// Quantises n floats (n a multiple of Q::block_size) into n / Q::block_size blocks.
template <class Q>
void quantize_row(const float* x, typename Q::block* out, std::size_t n) {
  require(n % Q::block_size == 0, "quantize_row<", Q::name, ">: row length ", n, " is not a multiple of ",
          Q::block_size);
  for (std::size_t b = 0; b < n / Q::block_size; ++b) quantize_block(x + b * Q::block_size, out + b);
}

template <class Q>
std::vector<typename Q::block> quantize(const std::vector<float>& x) {
  std::vector<typename Q::block> out(x.size() / Q::block_size);
  quantize_row<Q>(x.data(), out.data(), x.size());
  return out;
}

}  // namespace skippy::quant
