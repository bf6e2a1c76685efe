#pragma once
// Dot product of a stored weight row with a float activation row. The summation order is part of the
// contract: per 32-value chunk, 8 lanes accumulate strided products, a fixed pairwise tree reduces them,
// the chunk sum is scaled (quantized types) and added to the running total. A row's result therefore
// never depends on how many activation rows are processed together (S3D's bit-exactness, README §1).

#include "../math/reduce.hpp"
#include "dequantize.hpp"

namespace skippy::quant {

inline constexpr int dot_chunk = 32;  // every supported row length is a multiple of this
inline constexpr int dot_lanes = math::reduce_lanes;

// The contract for one chunk of 32 decoded weights.
SKIPPY_HD_INLINE float chunk_dot(const float (&w)[dot_chunk], const float* x) {
  float acc[dot_lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < dot_chunk; i += dot_lanes)
    for (int l = 0; l < dot_lanes; ++l) acc[l] += w[i + l] * x[i + l];
  return math::join_lanes(acc);
}

// Decodes the 32 values of a chunk (unscaled for the block types) and returns the chunk's scale (1 for
// the float types: the product by 1 is exact), so chunk_dot(w, x) == scale * chunk_dot(v, x) and a caller
// may decode once for several activation rows without changing any row's result.
template <class Block>
SKIPPY_HD_INLINE float decode_chunk(const Block* w, float (&v)[dot_chunk]) {
  for (int i = 0; i < dot_chunk; ++i) v[i] = dequantize(w[i], 0);
  return 1.0f;
}
SKIPPY_HD_INLINE float decode_chunk(const block_q8_0* w, float (&v)[dot_chunk]) {
  for (int i = 0; i < qk; ++i) v[i] = static_cast<float>(w->qs[i]);
  return to_float(w->d);
}
SKIPPY_HD_INLINE float decode_chunk(const block_q4_0* w, float (&v)[dot_chunk]) {
  // Two loops so each has a fixed nibble half and vectorises.
  for (int i = 0; i < qk / 2; ++i) v[i] = static_cast<float>(q4_0_value(*w, i));
  for (int i = qk / 2; i < qk; ++i) v[i] = static_cast<float>(q4_0_value(*w, i));
  return to_float(w->d);
}

template <class Block>
SKIPPY_HD_INLINE float chunk_dot(const Block* w, const float* x) {
  float v[dot_chunk];
  const float scale = decode_chunk(w, v);
  return scale * chunk_dot(v, x);
}

// sum_i w[i] * x[i] over n values; n must be a multiple of dot_chunk.
template <class Q>
SKIPPY_HD float dot_row(const typename Q::block* row, const float* x, int n) {
  constexpr int blocks_per_chunk = dot_chunk / Q::block_size;
  float sum = 0.0f;
  for (int c = 0; c < n / dot_chunk; ++c) sum += chunk_dot(row + c * blocks_per_chunk, x + c * dot_chunk);
  return sum;
}

}  // namespace skippy::quant
