#pragma once
// A softmax computed in parts (attention's sequence splits, the sampler's vocabulary chunks): part i keeps
// its maximum m_i and its sum l_i of exp((x - m_i) * s), s the inverse temperature (1 for attention, whose
// scores are scaled already). The whole has maximum M = max_i m_i and denominator
// sum_i l_i * exp((m_i - M) * s), added in part order so that every block merging the same parts gets the
// same bits. Device only: no host path computes a softmax in parts.

#include <cuda_runtime.h>

#include <cmath>

#include "../../sampling/warp.hpp"

namespace skippy::cuda::kernels {

struct SoftmaxPart {
  float max;  // of the part's x
  float sum;  // of exp((x - max) * s) over the part, or over the whole once merged
};

// What part values are multiplied by to join the whole: exp((m_i - M) * inv_t).
__device__ __forceinline__ float part_scale(float part_max, float max, float inv_t = 1.0f) {
  return sampling::softmax_weight(part_max, inv_t, max);
}

// part(i) -> SoftmaxPart for i in [0, n).
template <class Part>
__device__ __forceinline__ SoftmaxPart merge_softmax_parts(int n, Part part, float inv_t = 1.0f) {
  float max = -INFINITY;
  for (int i = 0; i < n; ++i) max = fmaxf(max, part(i).max);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    const SoftmaxPart p = part(i);
    sum += p.sum * part_scale(p.max, max, inv_t);
  }
  return {max, sum};
}

}  // namespace skippy::cuda::kernels
