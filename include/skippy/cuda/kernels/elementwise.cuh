#pragma once
// The per-element steps of a layer on the device, each a thin kernel over a host formula: embedding
// rows (quant::dequantize), the residual add fused with the RMSNorm after it (math's 8 fixed lanes over
// a row staged in shared memory; optionally the 8-bit quantisation of its output), RoPE with the K/V
// cache write (math::rope_pair) and SwiGLU. Every row is computed independently of the others, so a
// token's row is the same bits alone or inside a block.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../math/activation.hpp"
#include "../../math/rmsnorm.hpp"
#include "../../math/rope.hpp"
#include "../../quant/dequantize.hpp"
#include "../../quant/q8_activations.hpp"
#include "../launch.cuh"
#include "position.cuh"

namespace skippy::cuda::kernels {

inline constexpr int elementwise_threads = 256;

// x[i] = dequantised row tokens[i] of the embedding (m rows of d values); grid (ceil(d / threads), m).
template <class Q>
__global__ void embed(const typename Q::block* __restrict__ table, const int* __restrict__ tokens, int d,
                      float* __restrict__ x) {
  dependent_prologue();
  const int i = static_cast<int>(blockIdx.y);
  const int e = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (e >= d) return;
  const typename Q::block* row = table + static_cast<long>(tokens[i]) * (d / Q::block_size);
  x[static_cast<long>(i) * d + e] = quant::dequantize(row[e / Q::block_size], e % Q::block_size);
}

// y = rmsnorm(x) * w per row, after the residual connection x += add when add is not null (fused: one
// launch and one pass fewer). One block per row: all threads add and stage the row in shared memory
// (rmsnorm_smem; a row wider than rmsnorm_staged_floats is read back from x), then threads 0..7 each sum
// one of math::sum_squares' lanes from it, so the scale is the host formula's, bit for bit. (Those lanes
// are sequential chains: reading them from global memory waits on a load per element.) add may alias y:
// every read of add precedes the barriers before y is written.
// With q8 not null (8-bit activations; rows staged in shared memory only), the normalised row is also
// quantised (quant::quantize_q8 per 32 values, from shared memory) into q8 (d bytes per row) and
// q8_scales (d / 32 per row): the bits of cuda::quantize_activations over y, without its launch and pass.
// Both passes over global memory load a chunk of rmsnorm_unroll elements per thread before storing any:
// element by element, each load waited for the store before it (x, add and y may alias as far as the
// compiler knows), one memory round trip per element (18 us per 4096-wide row on an H200).
// (Kernels are templates so that a header-only library can define them in every translation unit.)
inline constexpr int rmsnorm_threads = 256;
inline constexpr int rmsnorm_unroll = 16;             // a 4096-wide row in one round trip per pass
// The widest staged row: the largest multiple of 32 (8-bit rows quantise from shared memory by 32) whose
// floats and the kernel's static shared memory (lanes and scale, 48 bytes from ptxas) fit the 48 KB a
// launch gets without opting in. 12288 floats would ask for exactly 48 KB of dynamic memory, and the
// launch would fail.
inline constexpr int rmsnorm_staged_floats = 12256;
inline std::size_t rmsnorm_smem(int d) {
  return d <= rmsnorm_staged_floats ? sizeof(float) * static_cast<std::size_t>(d) : 0;
}

// U elements of p for one thread, Threads apart from e0 (0 past d or for a null p), all loads issued
// before any use.
template <int U, int Threads>
__device__ __forceinline__ void load_strided(const float* p, int e0, int d, float (&v)[U]) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int e = e0 + u * Threads;
    v[u] = p != nullptr && e < d ? p[e] : 0.0f;
  }
}

// f(e, p[e], r[e]) for this thread's elements e of [0, d), Threads apart, U at a time: a chunk's loads of
// both arrays are all issued before f runs on any of its elements.
template <int U, int Threads, class F>
__device__ __forceinline__ void for_chunks(const float* p, const float* r, int d, F&& f) {
  for (int e0 = static_cast<int>(threadIdx.x); e0 < d; e0 += U * Threads) {
    float a[U], b[U];
    load_strided<U, Threads>(p, e0, d, a);
    load_strided<U, Threads>(r, e0, d, b);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int e = e0 + u * Threads;
      if (e >= d) break;
      f(e, a[u], b[u]);
    }
  }
}

template <int Threads = rmsnorm_threads>
__global__ void __launch_bounds__(Threads)
    add_rmsnorm(float* __restrict__ x, const float* add, const float* __restrict__ w, float* y, int d, float eps,
                std::int8_t* __restrict__ q8 = nullptr, float* __restrict__ q8_scales = nullptr) {
  dependent_prologue();
  constexpr int U = rmsnorm_unroll;
  extern __shared__ float staged[];
  __shared__ float lanes[math::reduce_lanes];
  __shared__ float scale;
  float* xr = x + static_cast<long>(blockIdx.x) * d;
  float* yr = y + static_cast<long>(blockIdx.x) * d;
  const float* ar = add != nullptr ? add + static_cast<long>(blockIdx.x) * d : nullptr;
  const bool fits = d <= rmsnorm_staged_floats;
  const int t = static_cast<int>(threadIdx.x);
  for_chunks<U, Threads>(xr, ar, d, [&](int e, float v, float a) {
    if (ar != nullptr) {
      v += a;
      xr[e] = v;
    }
    if (fits) staged[e] = v;
  });
  __syncthreads();
  const float* row = fits ? staged : xr;
  if (t < math::reduce_lanes) lanes[t] = math::lane_sum_squares(row, d, t);
  __syncthreads();
  if (t == 0) scale = math::rms_scale(math::join_lanes(lanes), d, eps);
  __syncthreads();
  const float s = scale;
  for_chunks<U, Threads>(row, w, d, [&](int e, float v, float g) {
    const float out = math::rms_apply(v, g, s);
    yr[e] = out;
    if (q8 != nullptr && fits) staged[e] = out;  // the thread's own elements: read above by this thread only
  });
  if (q8 == nullptr || !fits) return;
  __syncthreads();
  const int blocks = d / quant::qk;
  for (int b = t; b < blocks; b += Threads) {
    std::int8_t v[quant::qk];
    const long row = static_cast<long>(blockIdx.x);
    q8_scales[row * blocks + b] = quant::quantize_q8(staged + b * quant::qk, v);
    quant::store_q8_block(v, q8 + row * d + b * quant::qk);
  }
}

// Rotates the m query rows and key rows in place (row i at position start + i), then writes the keys
// and values into the cache slots start..start+m-1 of one layer. grid (ceil(max(d, kv) / 2 / threads), m).
template <int Threads = elementwise_threads>
__global__ void __launch_bounds__(Threads)
    rope_store(float* __restrict__ q, float* __restrict__ k, const float* __restrict__ v, int d, int kv, int head_dim,
               float theta, Position start, float* __restrict__ k_cache, float* __restrict__ v_cache) {
  dependent_prologue();
  const int i = static_cast<int>(blockIdx.y);
  const int p = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);  // pair index across heads
  const int pos = start.get() + i;
  const int half = head_dim / 2;
  if (2 * p < d) {
    float* head = q + static_cast<long>(i) * d + (p / half) * head_dim;
    math::rope_pair(head, p % half, pos, head_dim, theta);
  }
  if (2 * p < kv) {
    float* head = k + static_cast<long>(i) * kv + (p / half) * head_dim;
    math::rope_pair(head, p % half, pos, head_dim, theta);
    const long src = static_cast<long>(i) * kv + 2 * p, dst = static_cast<long>(pos) * kv + 2 * p;
    k_cache[dst] = k[src];  // this thread's own pair: no other thread touches it
    k_cache[dst + 1] = k[src + 1];
    v_cache[dst] = v[src];
    v_cache[dst + 1] = v[src + 1];
  }
}

// g[j] = swiglu(g[j], u[j]) over n values.
template <int Threads = elementwise_threads>
__global__ void __launch_bounds__(Threads) swiglu(float* __restrict__ g, const float* __restrict__ u, long n) {
  dependent_prologue();
  const long j = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j < n) g[j] = math::swiglu(g[j], u[j]);
}

// Launches swiglu over n values; returns the launch error.
inline cudaError_t launch_swiglu(float* g, const float* u, long n, const Launch& on) {
  const auto grid = static_cast<unsigned>((n + elementwise_threads - 1) / elementwise_threads);
  return launch(swiglu<elementwise_threads>, grid, elementwise_threads, 0, on, g, u, n);
}

}  // namespace skippy::cuda::kernels
