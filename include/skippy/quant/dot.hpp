#pragma once
// Dot product of a stored weight row with a float activation row. The summation order is part of the
// contract: per 32-value chunk, 8 lanes accumulate strided products (each a math::madd), a fixed pairwise
// tree reduces them, and madd(scale, chunk sum, total) adds the chunk to the running total (scale 1 for
// the float types). A row's result therefore never depends on how many activation rows are processed
// together (S3D's bit-exactness, README §1).

#include "../math/reduce.hpp"
#include "dequantize.hpp"

namespace skippy::quant {

inline constexpr int dot_chunk = 32;  // every supported row length is a multiple of this
inline constexpr int dot_lanes = math::reduce_lanes;

// The contract for one chunk of 32 decoded weights: lane l accumulates elements l, l+8, l+16, l+24 by madd,
// then join_lanes. host::matmul's row-vector loop runs these operations for several rows side by side.
SKIPPY_HD_INLINE float chunk_dot(const float (&w)[dot_chunk], const float* x) {
  float acc[dot_lanes] = {};
  for (int i = 0; i < dot_chunk; i += dot_lanes)
    for (int l = 0; l < dot_lanes; ++l) acc[l] = math::madd(w[i + l], x[i + l], acc[l]);
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

// A chunk's scaled dot: the step of the CUDA reference kernel, which sums chunks in its own order.
template <class Block>
SKIPPY_HD_INLINE float chunk_dot(const Block* w, const float* x) {
  float v[dot_chunk];
  const float scale = decode_chunk(w, v);
  return scale * chunk_dot(v, x);
}

// sum_i w[i] * x[i] over n values; n must be a multiple of dot_chunk. Each chunk's dot joins the running
// sum as madd(scale, dot, sum).
template <class Q>
SKIPPY_HD float dot_row(const typename Q::block* row, const float* x, int n) {
  constexpr int blocks_per_chunk = dot_chunk / Q::block_size;
  float sum = 0.0f;
  for (int c = 0; c < n / dot_chunk; ++c) {
    float v[dot_chunk];
    const float scale = decode_chunk(row + c * blocks_per_chunk, v);
    sum = math::madd(scale, chunk_dot(v, x + c * dot_chunk), sum);
  }
  return sum;
}

}  // namespace skippy::quant
