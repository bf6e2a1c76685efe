#pragma once
// Causal grouped-query attention of a block of m query rows over the device KV cache, with the sequence
// split across thread blocks (flash-decoding): block (head, row, split) takes the keys of one chunk of
// attention_chunk absolute positions, writes its softmax partial (max, sum, unnormalised value sum), and
// the last split of a (head, row) to finish merges the partials in split order. Chunk boundaries sit at
// absolute key positions and every sum inside a chunk splits keys by absolute position (key j goes to
// thread j mod Threads, value group (j - j0) mod groups), so a row's result depends on its position only,
// never on m (README §1). Scores use math::dot (the host's lane order), read with 16-byte loads
// where the head size and the cache allow (dot_aligned: the same steps, so the same bits).

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

#include <cstdint>

#include "../../math/reduce.hpp"
#include "../../quant/q8_activations.hpp"
#include "../launch.cuh"
#include "block.cuh"
#include "elementwise.cuh"
#include "position.cuh"
#include "softmax_parts.cuh"

namespace skippy::cuda::kernels {

inline constexpr int attention_threads = 128;
// Keys per split: a multiple of attention_threads. One key per thread keeps a block's sequential work
// short; a decoding step at a context of a few hundred has few (head, split) blocks to spread over the GPU.
inline constexpr int attention_chunk = 128;

// Splits of a row's keys for a cache of `capacity` positions (the partials' stride).
inline int attention_splits(int capacity) { return (capacity + attention_chunk - 1) / attention_chunk; }

// Workspace of the split attention for blocks of up to max_block rows at splits_cap =
// attention_splits(capacity): partials (floats) and one arrival counter per (row, head) (unsigned; zero
// before the first launch, and left zero by every launch).
inline std::size_t attention_partial_floats(int max_block, int n_heads, int head_dim, int capacity) {
  return static_cast<std::size_t>(max_block) * static_cast<std::size_t>(n_heads) *
         static_cast<std::size_t>(attention_splits(capacity)) * static_cast<std::size_t>(head_dim + 2);
}
inline std::size_t attention_counters(int max_block, int n_heads) {
  return static_cast<std::size_t>(max_block) * static_cast<std::size_t>(n_heads);
}

// The value pass: the threads split into groups of keys, each thread of a group owning `vec` adjacent
// values of the head (4, one 16-byte load, where rows are aligned). Key j of a split starting at j0 goes
// to group (j - j0) mod groups, so a row's sums depend on its position only.
__host__ __device__ inline int attention_value_groups(int head_dim, int vec) {
  const int columns = head_dim / vec;
  return attention_threads / columns > 0 ? attention_threads / columns : 1;
}

// Dynamic shared memory the kernel needs for a head size (its query row, then each value group's sums).
inline std::size_t attention_smem(int head_dim) {
  const int groups = attention_value_groups(head_dim, head_dim % 4 == 0 ? 4 : 1);
  return static_cast<std::size_t>(head_dim) * static_cast<std::size_t>(1 + groups) * sizeof(float);
}

// Whether a head size fits the 48 KiB of shared memory a launch gets without opting in: the dynamic part
// above plus the kernel's static arrays (its reductions' storage, a chunk's scores, the merge flag).
inline constexpr std::size_t attention_static_smem =
    sizeof(typename BlockAll<attention_threads>::Storage) + attention_chunk * sizeof(float) + 16;
inline bool attention_fits(int head_dim) { return attention_smem(head_dim) + attention_static_smem <= 48 * 1024; }

// math::dot of 16-byte aligned rows of a multiple of 8 values, 8 values at a time (a thread's key row is
// otherwise read 4 bytes per instruction, 32 rows apart across a warp). The key row is loaded 32 values
// (eight 16-byte loads) ahead of the arithmetic: loaded step by step, the compiler kept about two steps'
// loads in flight. (ptxas then spills one flag of the key loop, 4 bytes read once per key; sixteen loads
// ahead spilled more.)
__device__ __forceinline__ float dot_aligned(const float* a, const float* b, int n) {
  constexpr int batch = 8;  // 16-byte loads of b in flight
  float acc[math::reduce_lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i0 = 0; i0 < n; i0 += 4 * batch) {
    float4 vb[batch];
#pragma unroll
    for (int u = 0; u < batch; ++u)
      vb[u] = i0 + 4 * u < n ? __ldg(reinterpret_cast<const float4*>(b + i0 + 4 * u)) : make_float4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < batch; u += 2) {
      if (i0 + 4 * u >= n) break;
      float4 va[2];
      va[0] = *reinterpret_cast<const float4*>(a + i0 + 4 * u);
      va[1] = *reinterpret_cast<const float4*>(a + i0 + 4 * u + 4);
      math::dot_step(acc, reinterpret_cast<const float*>(va), reinterpret_cast<const float*>(vb + u));
    }
  }
  return math::join_lanes(acc);
}

// The merge of one (row, head)'s split partials, in split order: the maximum of the splits' maxima, the
// softmax denominator, then each value. Both attention kernels use it. Partials are read through L2
// (__ldcg): other blocks wrote them in this launch.
struct SplitMerge {
  const float* first;  // split 0's partial: max, sum, head_dim unnormalised values; head_dim + 2 apart
  int head_dim, splits;
  float m_all, inv;
  __device__ SplitMerge(const float* partials, int hd, int n) : first(partials), head_dim(hd), splits(n) {
    const SoftmaxPart all = merge_softmax_parts(splits, [&](int sp) { return SoftmaxPart{at(sp, 0), at(sp, 1)}; });
    m_all = all.max;
    inv = 1.0f / all.sum;
  }
  // With m_all and inv computed once before (by a SplitMerge over the same partials).
  __device__ SplitMerge(const float* partials, int hd, int n, float m, float i)
      : first(partials), head_dim(hd), splits(n), m_all(m), inv(i) {}
  __device__ float at(int sp, int k) const { return __ldcg(first + static_cast<long>(sp) * (head_dim + 2) + k); }
  // Split sp's share of the merged row.
  __device__ float weight(int sp) const { return part_scale(at(sp, 0), m_all); }
  __device__ float value(int e) const {
    float acc = 0.0f;
    for (int sp = 0; sp < splits; ++sp) acc += at(sp, 2 + e) * weight(sp);
    return acc * inv;
  }
  // The same, with weight(sp) read from weights[sp] (computed once for every value of the row).
  __device__ float value(int e, const float* weights) const {
    float acc = 0.0f;
    for (int sp = 0; sp < splits; ++sp) acc += at(sp, 2 + e) * weights[sp];
    return acc * inv;
  }
};

// q: m rows of d values (RoPE applied); k_cache/v_cache: one layer, [capacity][kv]; out: m rows of d
// values. grid (n_heads, m, splits of the last row = (start + m - 1) / attention_chunk + 1, or more: the
// splits a row does not have return at once, so a launch captured in a graph may use splits_cap);
// partial and counters as attention_partial_floats / attention_counters; splits_cap is the partials'
// stride in splits, at least the splits launched (attention_splits(capacity) fits every launch). With
// q8 not null (8-bit activations; head_dim a multiple of 32), the output is also quantised, by the split
// that merges each head: q8 (d bytes per row, 8-byte aligned) and q8_scales (d / 32 per row), the bits of
// cuda::quantize_activations over out, without its launch.
template <int Threads = attention_threads>
__global__ void __launch_bounds__(Threads)
    attention(const float* __restrict__ q, const float* __restrict__ k_cache, const float* __restrict__ v_cache,
              int d, int kv, int head_dim, int group, Position start, int splits_cap, float scale,
              float* __restrict__ partial, unsigned* __restrict__ counters, float* __restrict__ out,
              std::int8_t* __restrict__ q8 = nullptr, float* __restrict__ q8_scales = nullptr) {
  static_assert(attention_chunk % Threads == 0, "attention: a chunk must split evenly over the threads");
  __shared__ typename BlockAll<Threads>::Storage storage;
  __shared__ float s[attention_chunk];
  __shared__ bool last;
  extern __shared__ __align__(16) float smem[];  // 16: dot_aligned reads qh in float4s
  float* qh = smem;                  // head_dim
  float* groups_acc = smem + head_dim;  // groups * head_dim
  BlockAll<Threads> all(storage);
  dependent_prologue();

  const int h = static_cast<int>(blockIdx.x), i = static_cast<int>(blockIdx.y), split = static_cast<int>(blockIdx.z);
  const int t = static_cast<int>(threadIdx.x), pos = start.get() + i;
  // A row before the block's last has fewer splits. Never count more than were launched (a device-side
  // position past the cache breaks the caller's contract; the arrival counters must stay consistent).
  const int needed = pos / attention_chunk + 1, launched = static_cast<int>(gridDim.z);
  const int splits = needed < launched ? needed : launched;
  if (split >= splits) return;
  const int j0 = split * attention_chunk, j1 = j0 + attention_chunk < pos + 1 ? j0 + attention_chunk : pos + 1;
  const int kvh = h / group;
  const float* kh = k_cache + static_cast<long>(kvh) * head_dim;
  const float* vh = v_cache + static_cast<long>(kvh) * head_dim;
  const long row = static_cast<long>(i) * gridDim.x + h;  // (row, head)
  float* mine = partial + (row * splits_cap + split) * (head_dim + 2);

  for (int e = t; e < head_dim; e += Threads) qh[e] = q[static_cast<long>(i) * d + h * head_dim + e];
  __syncthreads();

  // A cache's head rows are 16-byte aligned when its base, the head's offset and the row stride (kv) are.
  const auto rows16 = [&](const float* cache) {
    return head_dim % 4 == 0 && kv % 4 == 0 && reinterpret_cast<std::uintptr_t>(cache) % 16 == 0;
  };
  const bool wide = head_dim % math::reduce_lanes == 0 && rows16(k_cache);  // dot_aligned: 8 values a step
  float mx = -INFINITY;
  for (int j = j0 + t; j < j1; j += Threads) {
    const float* kj = kh + static_cast<long>(j) * kv;
    s[j - j0] = (wide ? dot_aligned(qh, kj, head_dim) : math::dot(qh, kj, head_dim)) * scale;
    mx = fmaxf(mx, s[j - j0]);
  }
  mx = all.max(mx);
  float sum = 0.0f;
  for (int j = j0 + t; j < j1; j += Threads) {
    s[j - j0] = expf(s[j - j0] - mx);
    sum += s[j - j0];
  }
  sum = all.sum(sum);  // its barrier also publishes every s[] to the block

  // Values: each thread sums its columns over the keys of its group (independent 16-byte loads where
  // the rows allow: a thread per column summing every key in turn waits on one load per key).
  const bool wide_v = rows16(v_cache);
  const int vec = wide_v ? 4 : 1, columns = head_dim / vec;
  const int groups = attention_value_groups(head_dim, vec);
  const int g = t / columns;
  const int j_g = j0 + g;  // group g takes keys j0 + g, j0 + g + groups, ...: fixed by the position
  if (g < groups) {
    for (int c = t % columns; c < columns; c += Threads) {  // one pass unless head_dim / vec > Threads
      if (wide_v) {
        float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        constexpr int batch = 8;  // keys whose loads are in flight together (step by step: about four)
        for (int jb = j_g; jb < j1; jb += batch * groups) {
          float4 vj[batch];
#pragma unroll
          for (int u = 0; u < batch; ++u) {
            const int j = jb + u * groups;
            vj[u] = j < j1 ? __ldg(reinterpret_cast<const float4*>(vh + static_cast<long>(j) * kv) + c)
                           : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
          }
#pragma unroll
          for (int u = 0; u < batch; ++u) {
            const int j = jb + u * groups;
            if (j >= j1) break;
            const float p = s[j - j0];
            acc.x += p * vj[u].x;
            acc.y += p * vj[u].y;
            acc.z += p * vj[u].z;
            acc.w += p * vj[u].w;
          }
        }
        *reinterpret_cast<float4*>(groups_acc + g * head_dim + 4 * c) = acc;
      } else {
        float acc = 0.0f;
        for (int j = j_g; j < j1; j += groups) acc += s[j - j0] * vh[static_cast<long>(j) * kv + c];
        groups_acc[g * head_dim + c] = acc;
      }
    }
  }
  __syncthreads();
  for (int e = t; e < head_dim; e += Threads) {
    float acc = 0.0f;
    for (int gg = 0; gg < groups; ++gg) acc += groups_acc[gg * head_dim + e];
    mine[2 + e] = acc;
  }
  if (t == 0) {
    mine[0] = mx;
    mine[1] = sum;
  }

  // The last split to arrive merges (threadFenceReduction's pattern): fence the partials, count.
  __threadfence();
  __syncthreads();
  if (t == 0) last = atomicAdd(&counters[row], 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  const SplitMerge merged(partial + row * splits_cap * (head_dim + 2), head_dim, splits);
  const long o = static_cast<long>(i) * d + h * head_dim;  // this head's output in the row
  for (int e = t; e < head_dim; e += Threads) {
    const float y = merged.value(e);
    out[o + e] = y;
    if (q8 != nullptr) qh[e] = y;  // the query row is no longer read
  }
  if (t == 0) counters[row] = 0u;  // ready for the next launch
  if (q8 == nullptr) return;
  __syncthreads();
  for (int b = t; b < head_dim / quant::qk; b += Threads) {
    std::int8_t v[quant::qk];
    q8_scales[o / quant::qk + b] = quant::quantize_q8(qh + b * quant::qk, v);
    quant::store_q8_block(v, q8 + o + b * quant::qk);
  }
}

}  // namespace skippy::cuda::kernels
