#pragma once
// Causal grouped-query attention that reads each chunk of a KV head once for every query row and head that
// attends to it. kernels::attention gives a thread block to one (query row, query head, split): a KV
// chunk is read by every head of its group and every row of a block (4 x 5 = 20 times for a 7B-class
// model's verification step), and a thread walks its key row in several dependent rounds of loads. Here
// a thread block takes one (KV head, tile of query rows, split): it loads the chunk's keys into shared
// memory in one round of loads, scores them against the tile's rows x group queries, replaces the keys
// with the values, and writes the same partials (max, sum, unnormalised values per (row, head, split)) as
// kernels::attention; the last split of a (tile, KV head) to finish merges them (SplitMerge, shared).
//
// A row's result depends on its position only, never on m or its tile (README §1): its scores are
// math::dot's steps over its own keys times the scale (kernels::attention's scores, bit for bit), its chunk
// sum is a fixed per-lane order then a fixed warp butterfly over the key slots (keys it does not see add
// zero), its value sums run over its keys in position order, and chunks sit at absolute positions. Its
// outputs differ from kernels::attention's (other summation orders) within float rounding of the host.
//
// Needs head_dim a multiple of 32 with head_dim / 4 dividing the block's threads (32, 64, 128, 256),
// at most grouped_attention_heads heads in a group, 16-byte aligned operands, and the shared memory of one
// chunk of keys (64 KB for head_dim 128) where the device allows it. launch_grouped_attention returns
// cudaErrorNotSupported, launching nothing, elsewhere; Forward::grouped_attention(true) takes effect only
// where grouped_attention_supported.

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "../../math/reduce.hpp"
#include "../../quant/q8_activations.hpp"
#include "../launch.cuh"
#include "attention.cuh"
#include "position.cuh"
#include "warp.cuh"

namespace skippy::cuda::kernels {

inline constexpr int grouped_attention_threads = 256;
// Query (row, head) pairs a thread block scores at most: the tile holds this many / group rows.
inline constexpr int grouped_attention_heads = 32;
// 16-byte loads per thread in flight while a chunk is staged (64 KB per block of 256 threads).
inline constexpr int grouped_attention_batch = 16;

__host__ __device__ constexpr bool grouped_attention_fits(int head_dim, int group) {
  return head_dim >= 32 && head_dim % 32 == 0 && grouped_attention_threads % (head_dim / 4) == 0 && group >= 1 &&
         group <= grouped_attention_heads;
}
// Query rows per thread block.
inline int grouped_attention_tile_rows(int group) { return grouped_attention_heads / group; }
// Dynamic shared memory of a block of `pairs` (row, head) pairs: the chunk (keys, then values), the
// queries, the scores (then weights), and each pair's max and sum.
// (A pair's scores are attention_chunk + 1 floats apart: the pairs a warp reads at once in the value pass
// then sit in different banks.)
inline std::size_t grouped_attention_smem(int head_dim, int pairs) {
  return sizeof(float) * (static_cast<std::size_t>(attention_chunk) * static_cast<std::size_t>(head_dim) +
                          static_cast<std::size_t>(pairs) * static_cast<std::size_t>(head_dim + attention_chunk + 3));
}

// q: m rows of d values (RoPE applied); k_cache/v_cache: one layer, [capacity][kv]; out: m rows of d
// values; group = query heads per KV head. grid (kv / head_dim, ceil(m / tile_rows), splits of the last
// row or more, as kernels::attention), tile_rows = grouped_attention_tile_rows(group), dynamic shared
// memory grouped_attention_smem(head_dim, min(m, tile_rows) * group). partial, counters, splits_cap, q8
// and q8_scales as kernels::attention's (the same sizes; a tile's counter is its first row's at the KV
// head's index).
template <int Threads = grouped_attention_threads>
__global__ void __launch_bounds__(Threads)
    grouped_attention(const float* __restrict__ q, const float* __restrict__ k_cache,
                      const float* __restrict__ v_cache, int m, int d, int kv, int head_dim, int group, int tile_rows,
                      Position start, int splits_cap, float scale, float* __restrict__ partial,
                      unsigned* __restrict__ counters, float* __restrict__ out, std::int8_t* __restrict__ q8 = nullptr,
                      float* __restrict__ q8_scales = nullptr) {
  constexpr int C = attention_chunk, warps = Threads / math::warp_lanes, key_warps = C / math::warp_lanes;
  static_assert(C % math::warp_lanes == 0 && warps % key_warps == 0,
                "grouped_attention: the warps must tile the chunk's keys a whole number of times");
  constexpr int per_lane = C / math::warp_lanes;  // a chunk's keys per lane in the softmax
  constexpr int B = grouped_attention_batch;
  extern __shared__ __align__(16) float smem[];
  __shared__ bool last;
  dependent_prologue();

  const int kvh = static_cast<int>(blockIdx.x), split = static_cast<int>(blockIdx.z);
  const int i0 = static_cast<int>(blockIdx.y) * tile_rows;
  const int rows = m - i0 < tile_rows ? m - i0 : tile_rows;
  const int R = rows * group;  // (row, head) pairs: pair r is row i0 + r / group, head kvh * group + r % group
  const int p0 = start.get() + i0, p_last = p0 + rows - 1;
  const int needed = p_last / C + 1, launched = static_cast<int>(gridDim.z);
  const int splits = needed < launched ? needed : launched;  // as kernels::attention: never count unlaunched
  if (split >= splits) return;
  const int j0 = split * C;
  const int n_keys = C < p_last + 1 - j0 ? C : p_last + 1 - j0;  // the chunk's keys any row of the tile sees
  const int quads = head_dim / 4, n_heads = d / head_dim, t = static_cast<int>(threadIdx.x);
  float4* chunk = reinterpret_cast<float4*>(smem);  // C key rows (swizzled), later C value rows
  float* qs = smem + C * head_dim;                   // R query rows; at the merge, the merged outputs
  constexpr int P_stride = C + 1;
  float* ps = qs + R * head_dim;                     // R rows of C scores, then softmax weights; P_stride apart
  float* mx = ps + R * P_stride;                     // R maxima
  float* sums = mx + R;                              // R sums
  const auto pos = [&](int r) { return p0 + r / group; };
  // Pair r's (row, head) index, row * n_heads + head: its partials' and, times head_dim, its query's and
  // output's place.
  const auto pair_of = [&](int r) {
    return static_cast<long>(i0 + r / group) * n_heads + static_cast<long>(kvh) * group + r % group;
  };
  const auto keys_of = [&](int r) {  // keys of this chunk pair r sees
    const int n = pos(r) + 1 - j0;
    return n < 0 ? 0 : n < C ? n : C;
  };

  for (int f = t; f < R * quads; f += Threads) {
    const int r = f / quads, c = f % quads;
    reinterpret_cast<float4*>(qs)[f] = __ldg(reinterpret_cast<const float4*>(q + pair_of(r) * head_dim) + c);
  }
  // A thread stages the same column quad c of rows t / quads + u * (Threads / quads): `batch` loads in
  // flight, then their stores. Key quads are swizzled (quad c of key j at c ^ (j % 8)) so that the 8 keys
  // a quarter warp scores at once sit in distinct banks.
  const int c_own = t % quads, row_step = Threads / quads;
  const auto stage = [&](const float* cache, bool swizzle) {
    for (int j_first = t / quads; j_first < n_keys; j_first += B * row_step) {
      float4 r[B];
#pragma unroll
      for (int u = 0; u < B; ++u) {
        const int j = j_first + u * row_step;
        r[u] = j < n_keys ? __ldg(reinterpret_cast<const float4*>(cache + static_cast<long>(j0 + j) * kv +
                                                                   static_cast<long>(kvh) * head_dim) +
                                  c_own)
                          : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      }
#pragma unroll
      for (int u = 0; u < B; ++u) {
        const int j = j_first + u * row_step;
        if (j < n_keys) chunk[j * quads + (swizzle ? c_own ^ (j % 8) : c_own)] = r[u];
      }
    }
  };
  // The values are read after the scores: ask L2 for them now (sm_90; a hint), then stage the keys.
  for (int j = t; j < n_keys; j += Threads)
    prefetch_l2(v_cache + static_cast<long>(j0 + j) * kv + static_cast<long>(kvh) * head_dim,
                sizeof(float) * static_cast<std::size_t>(head_dim));
  stage(k_cache, true);
  __syncthreads();

  // Scores: lane l of warp w takes key (w % key_warps) * 32 + l against pairs w / key_warps, + warps /
  // key_warps, ...; four pairs at a time share each key load. math::dot's steps, so its bits.
  {
    const int lane = t % math::warp_lanes, w = t / math::warp_lanes;
    const int jl = (w % key_warps) * math::warp_lanes + lane, sw = jl % 8;
    constexpr int pair_step = warps / key_warps, P = 4;
    const float4* key = chunk + jl * quads;
    for (int r0 = w / key_warps; r0 < R; r0 += P * pair_step) {
      float acc[P][math::reduce_lanes] = {};
      if (jl < n_keys) {
        for (int c = 0; c < quads; c += 2) {
          float4 k8[2] = {key[c ^ sw], key[(c + 1) ^ sw]};
#pragma unroll
          for (int u = 0; u < P; ++u) {
            const int r = r0 + u * pair_step;
            if (r >= R) break;
            const float4* qr = reinterpret_cast<const float4*>(qs) + r * quads + c;
            float4 q8v[2] = {qr[0], qr[1]};
            math::dot_step(acc[u], reinterpret_cast<const float*>(q8v), reinterpret_cast<const float*>(k8));
          }
        }
      }
#pragma unroll
      for (int u = 0; u < P; ++u) {
        const int r = r0 + u * pair_step;
        if (r >= R) break;
        ps[r * P_stride + jl] = jl < keys_of(r) ? math::join_lanes(acc[u]) * scale : -INFINITY;
      }
    }
  }
  __syncthreads();

  // Softmax within the chunk, a warp per pair: a lane's keys l, l + 32, ... summed in that order, then the
  // butterfly. Keys the row does not see weigh zero.
  for (int r = t / math::warp_lanes; r < R; r += warps) {
    const int lane = t % math::warp_lanes;
    float s[per_lane], m_r = -INFINITY;
#pragma unroll
    for (int u = 0; u < per_lane; ++u) {
      s[u] = ps[r * P_stride + lane + u * math::warp_lanes];
      m_r = fmaxf(m_r, s[u]);
    }
    m_r = warp_max(m_r);
    float sum = 0.0f;
#pragma unroll
    for (int u = 0; u < per_lane; ++u) {
      const float p = s[u] == -INFINITY ? 0.0f : expf(s[u] - m_r);
      ps[r * P_stride + lane + u * math::warp_lanes] = p;
      sum += p;
    }
    sum = warp_sum(sum);
    if (lane == 0) {
      mx[r] = m_r;
      sums[r] = sum;
    }
  }
  stage(v_cache, false);  // over the keys: every score was read before the barrier above
  __syncthreads();

  // Values: thread (quad c, set g) sums its column quad over each of its pairs' keys in position order;
  // pairs g, g + sets, ... four at a time share each value load.
  {
    const int sets = Threads / quads, g = t / quads;
    constexpr int P = 4;
    for (int r0 = g; r0 < R; r0 += P * sets) {
      float4 acc[P];
      int n[P], most = 0;
#pragma unroll
      for (int u = 0; u < P; ++u) {
        const int r = r0 + u * sets;
        acc[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        n[u] = r < R ? keys_of(r) : 0;
        most = n[u] > most ? n[u] : most;
      }
      for (int j = 0; j < most; ++j) {
        const float4 v = chunk[j * quads + c_own];
#pragma unroll
        for (int u = 0; u < P; ++u) {
          if (j >= n[u]) continue;
          const float p = ps[(r0 + u * sets) * P_stride + j];
          acc[u].x += p * v.x;
          acc[u].y += p * v.y;
          acc[u].z += p * v.z;
          acc[u].w += p * v.w;
        }
      }
#pragma unroll
      for (int u = 0; u < P; ++u) {
        if (n[u] == 0) continue;  // a row before this chunk: it has no partial here
        const int r = r0 + u * sets;
        float* mine = partial + (pair_of(r) * splits_cap + split) * (head_dim + 2);
        mine[2 + 4 * c_own] = acc[u].x;
        mine[3 + 4 * c_own] = acc[u].y;
        mine[4 + 4 * c_own] = acc[u].z;
        mine[5 + 4 * c_own] = acc[u].w;
        if (c_own == 0) {
          mine[0] = mx[r];
          mine[1] = sums[r];
        }
      }
    }
  }

  // The last split of this (tile, KV head) to arrive merges every pair of the tile.
  __threadfence();
  __syncthreads();
  unsigned* counter = counters + static_cast<long>(i0) * n_heads + kvh;
  if (t == 0) last = atomicAdd(counter, 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  const auto partials_of = [&](int r) { return partial + pair_of(r) * splits_cap * (head_dim + 2); };
  const auto splits_of = [&](int r) { return pos(r) / C + 1 < launched ? pos(r) / C + 1 : launched; };
  for (int r = t; r < R; r += Threads) {  // each pair's maximum and denominator, once
    const SplitMerge full(partials_of(r), head_dim, splits_of(r));
    mx[r] = full.m_all;
    sums[r] = full.inv;
  }
  __syncthreads();
  // Each split's weight, once per pair rather than once per value, in the chunk's space where they fit
  // (R x most splits; the last pair has the most): the same operands, so the same bits.
  const int most = splits_of(R - 1);
  float* weights = smem;
  const bool cached = R * most <= C * head_dim;
  if (cached) {
    for (int f = t; f < R * most; f += Threads) {
      const int r = f / most, sp = f % most;
      weights[f] = sp < splits_of(r) ? SplitMerge(partials_of(r), head_dim, splits_of(r), mx[r], sums[r]).weight(sp)
                                     : 0.0f;
    }
    __syncthreads();
  }
  for (int f = t; f < R * head_dim; f += Threads) {
    const int r = f / head_dim, e = f % head_dim;
    const SplitMerge pair(partials_of(r), head_dim, splits_of(r), mx[r], sums[r]);
    const float y = cached ? pair.value(e, weights + r * most) : pair.value(e);
    out[pair_of(r) * head_dim + e] = y;
    qs[f] = y;  // the queries are no longer read
  }
  if (t == 0) *counter = 0u;  // ready for the next launch
  if (q8 == nullptr) return;
  __syncthreads();
  const int blocks = head_dim / quant::qk;
  for (int b = t; b < R * blocks; b += Threads) {
    const int r = b / blocks;
    const long o = pair_of(r) * head_dim + (b % blocks) * quant::qk;
    std::int8_t v[quant::qk];
    q8_scales[o / quant::qk] = quant::quantize_q8(qs + static_cast<long>(b) * quant::qk, v);
    quant::store_q8_block(v, q8 + o);
  }
}

// Lets grouped_attention use as much shared memory as the current device allows a block (once per device;
// call it outside stream capture). Returns that limit in bytes, 0 where the device cannot be queried.
inline std::size_t grouped_attention_prepare() {
  constexpr int cached = 64;
  static std::atomic<int> known[cached];  // bytes + 1; 0 unknown
  int device = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  if (device < cached) {
    const int k = known[device].load(std::memory_order_relaxed);
    if (k != 0) return static_cast<std::size_t>(k - 1);
  }
  cudaFuncAttributes attr{};
  int bytes = 0;  // static shared memory counts against the limit too
  if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess &&
      cudaFuncGetAttributes(&attr, grouped_attention<>) == cudaSuccess) {
    const int dynamic = optin - static_cast<int>(attr.sharedSizeBytes);
    const bool raised =
        cudaFuncSetAttribute(grouped_attention<>, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic) == cudaSuccess;
    bytes = raised ? dynamic : 48 * 1024 - static_cast<int>(attr.sharedSizeBytes);  // every launch may use 48 KB
  }
  cudaGetLastError();
  if (device < cached) known[device].store(bytes + 1, std::memory_order_relaxed);
  return static_cast<std::size_t>(bytes);
}

// Whether launch_grouped_attention runs for these heads on the current device (after
// grouped_attention_prepare).
inline bool grouped_attention_supported(int head_dim, int group) {
  return grouped_attention_fits(head_dim, group) &&
         grouped_attention_smem(head_dim, grouped_attention_tile_rows(group) * group) <= grouped_attention_prepare();
}

// Launches grouped_attention over m query rows of n_heads heads (n_kv KV heads) with n_splits splits (as
// kernels::attention's third grid dimension). Returns cudaErrorNotSupported, launching nothing, where
// the heads, the operands' alignment or the device's shared memory do not allow it; else the launch error.
inline cudaError_t launch_grouped_attention(const float* q, const float* k_cache, const float* v_cache, int m,
                                            int n_heads, int n_kv, int head_dim, Position start, int n_splits,
                                            int splits_cap, float scale, float* partial, unsigned* counters,
                                            float* out, std::int8_t* q8, float* q8_scales, const Launch& on) {
  const auto a16 = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  if (n_kv < 1 || n_heads % n_kv != 0 || n_splits < 1 || n_splits > splits_cap) return cudaErrorInvalidValue;
  const int group = n_heads / n_kv;
  if (!grouped_attention_supported(head_dim, group) || !a16(q) || !a16(k_cache) || !a16(v_cache) ||
      (q8 != nullptr && head_dim % quant::qk != 0))
    return cudaErrorNotSupported;
  const int tile = grouped_attention_tile_rows(group), rows = m < tile ? m : tile;
  const dim3 grid(static_cast<unsigned>(n_kv), static_cast<unsigned>((m + tile - 1) / tile),
                  static_cast<unsigned>(n_splits));
  return launch(grouped_attention<>, grid, grouped_attention_threads, grouped_attention_smem(head_dim, rows * group),
                on, q, k_cache, v_cache, m, n_heads * head_dim, n_kv * head_dim, head_dim, group, tile, start,
                splits_cap, scale, partial, counters, out, q8, q8_scales);
}

}  // namespace skippy::cuda::kernels
