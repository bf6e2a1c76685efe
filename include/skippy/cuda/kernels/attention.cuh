#pragma once
// Causal grouped-query attention of a block of m query rows over the device KV cache: one thread block
// per (head, row). Scores use math::dot (the host's lane order); the softmax sums and the weighted value
// sums split keys by absolute position (key j goes to thread j mod Threads, value partial j mod groups),
// so a row's result depends on its position only, never on m (DESIGN.md §1).

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

#include "../../math/reduce.hpp"

namespace skippy::cuda::kernels {

inline constexpr int attention_threads = 128;

struct MaxJoin {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Dynamic shared memory the kernel needs for a head size.
inline std::size_t attention_smem(int head_dim) {
  const int groups = attention_threads / head_dim > 0 ? attention_threads / head_dim : 1;
  return static_cast<std::size_t>(head_dim) * static_cast<std::size_t>(1 + groups) * sizeof(float);
}

// q: m rows of d values (RoPE applied); k_cache/v_cache: one layer, [capacity][kv]; scores: m * n_heads *
// capacity floats of scratch; out: m rows of d values. grid (n_heads, m).
template <int Threads = attention_threads>
__global__ void __launch_bounds__(Threads)
    attention(const float* __restrict__ q, const float* __restrict__ k_cache, const float* __restrict__ v_cache,
              int d, int kv, int head_dim, int group, int start, int capacity, float scale,
              float* __restrict__ scores, float* __restrict__ out) {
  using Reduce = cub::BlockReduce<float, Threads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ float shared_max, shared_sum;
  extern __shared__ float smem[];
  float* qh = smem;                // head_dim
  float* partial = smem + head_dim;  // groups * head_dim

  const int h = static_cast<int>(blockIdx.x), i = static_cast<int>(blockIdx.y), t = static_cast<int>(threadIdx.x);
  const int pos = start + i, kvh = h / group;
  const float* kh = k_cache + static_cast<long>(kvh) * head_dim;
  const float* vh = v_cache + static_cast<long>(kvh) * head_dim;
  float* s = scores + (static_cast<long>(i) * gridDim.x + h) * capacity;

  for (int e = t; e < head_dim; e += Threads) qh[e] = q[static_cast<long>(i) * d + h * head_dim + e];
  __syncthreads();

  float mx = -INFINITY;
  for (int j = t; j <= pos; j += Threads) {
    s[j] = math::dot(qh, kh + static_cast<long>(j) * kv, head_dim) * scale;
    mx = fmaxf(mx, s[j]);
  }
  mx = Reduce(tmp).Reduce(mx, MaxJoin());
  if (t == 0) shared_max = mx;
  __syncthreads();
  mx = shared_max;
  float sum = 0.0f;
  for (int j = t; j <= pos; j += Threads) {
    s[j] = expf(s[j] - mx);
    sum += s[j];
  }
  sum = Reduce(tmp).Sum(sum);
  if (t == 0) shared_sum = sum;
  __syncthreads();  // also publishes every s[j] to the block

  const int groups = Threads / head_dim > 0 ? Threads / head_dim : 1;
  const int g = t / head_dim;
  if (g < groups) {
    for (int e = t % head_dim; e < head_dim; e += Threads) {  // one pass unless head_dim > Threads
      float acc = 0.0f;
      for (int j = g; j <= pos; j += groups) acc += s[j] * vh[static_cast<long>(j) * kv + e];
      partial[g * head_dim + e] = acc;
    }
  }
  __syncthreads();
  const float inv = 1.0f / shared_sum;
  for (int e = t; e < head_dim; e += Threads) {
    float acc = 0.0f;
    for (int gg = 0; gg < groups; ++gg) acc += partial[gg * head_dim + e];
    out[static_cast<long>(i) * d + h * head_dim + e] = acc * inv;
  }
}

}  // namespace skippy::cuda::kernels
