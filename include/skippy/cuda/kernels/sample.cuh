#pragma once
// Sampling on the device, one thread block per logits row and never a sort of the vocabulary: the warp
// of sampling::warp (temperature, then top-k, then top-p, with its rank order: probability descending,
// ties to the lowest id), categorical draws by inverse CDF in id order (sampling::sample_categorical's
// rule), and the fused acceptance kernels of speculative sampling and typical acceptance. Draws come
// from rng::uniform with the host rules' counters, so host and device draw the same uniforms.
//
// Top-k and top-p find their cut by a multiway search on the bit pattern of the probabilities (non-negative
// floats order as their bits): 15 probes per pass over the row and one block reduction for all of them,
// 8 passes where bisection took 31 (math::MultiwaySearch; the cut is bisection's).
// CUB's reductions are deterministic, so a seed gives the same tokens on every run; their summation
// order is not the host's, so a token may differ from the host's where a cumulative sum lies within
// rounding of a boundary (bit equality across backends is not promised, DESIGN.md §1).

#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "../../accept/speculative_sampling.hpp"
#include "../../accept/typical.hpp"
#include "../../rng/philox.hpp"
#include "../../sampling/warp.hpp"
#include "block.cuh"
#include "position.cuh"
#include "select.cuh"

namespace skippy::cuda::kernels {

inline constexpr int sample_threads = 512;

// A prefix of the rank order: every token above `value`, and those equal to it with id <= last_tie.
struct Cut {
  float value;
  int last_tie;
  __device__ bool keeps(float p, int id) const { return p > value || (p == value && id <= last_tie); }
  __device__ static Cut everything(int n) { return {-1.0f, n}; }
};

// The id of the need-th (1-based) token, in id order, with p == value among those `within` keeps.
template <int Threads>
__device__ int nth_tie(const float* p, int n, Cut within, float value, int need, BlockAll<Threads>& all) {
  const ThreadChunk c = ThreadChunk::of<Threads>(n);
  int mine = 0;
  for (int i = c.begin; i < c.end; ++i) mine += p[i] == value && within.keeps(p[i], i);
  int seen = all.exclusive_sum(mine);
  int id = INT_MAX;
  if (seen < need && need <= seen + mine)
    for (int i = c.begin; i < c.end; ++i)
      if (p[i] == value && within.keeps(p[i], i) && ++seen == need) {
        id = i;
        break;
      }
  return all.min(id);
}

// math::MultiwaySearch on a block over the bit patterns [0, 0x7f800000]: the last x where holds(sum)
// (true at x = 0). Each round, add(i, at, sums) adds element i into this thread's sums for the probes
// at[0..probes) (T: int counts or float masses), and one block reduction joins every probe's sums.
template <class T, int Threads, class Add, class Holds>
__device__ std::uint32_t search_patterns(int n, BlockAll<Threads>& all, Add add, Holds holds) {
  using Search = math::MultiwaySearch;
  std::uint32_t lo = 0, hi = 0x7f800000u;
  while (lo < hi) {  // block-uniform: lo and hi come from block reductions
    std::uint32_t at[Search::probes];
    T sums[Search::probes];
#pragma unroll
    for (int j = 0; j < Search::probes; ++j) {
      at[j] = Search::probe(lo, hi, j + 1);
      sums[j] = T{};
    }
    for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) add(i, at, sums);
    all.sum_each(sums);
    int holding = 0;
#pragma unroll
    for (int j = 0; j < Search::probes; ++j) holding += holds(sums[j]);
    Search::narrow(lo, hi, holding);
  }
  return lo;
}

// The k most probable tokens (0 < k < n).
template <int Threads>
__device__ Cut top_k_cut(const float* p, int n, int k, BlockAll<Threads>& all) {
  // The k-th largest value: the largest bit pattern b with #{bits(p) >= b} >= k.
  const auto count = [&](int i, const auto& at, auto& c) {
    const std::uint32_t b = __float_as_uint(p[i]);
#pragma unroll
    for (int j = 0; j < math::MultiwaySearch::probes; ++j) c[j] += b >= at[j];
  };
  const float value = __uint_as_float(search_patterns<int>(n, all, count, [&](int c) { return c >= k; }));
  int above = 0, ties = 0;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) {
    above += p[i] > value;
    ties += p[i] == value;
  }
  above = all.sum(above);
  ties = all.sum(ties);
  const int need = k - above;  // 1..ties
  return {value, need >= ties ? n : nth_tie(p, n, Cut::everything(n), value, need, all)};
}

// Top-p inside `by_k`: a token stays while the mass ranked strictly before it is below `limit`.
template <int Threads>
__device__ Cut top_p_cut(const float* p, int n, Cut by_k, float limit, BlockAll<Threads>& all) {
  // The last kept token's value: the smallest bit pattern b whose mass above, G(b), is below limit (G
  // falls as b rises: each thread's sum and the block's are monotone in their non-negative terms). Searched
  // as the largest x = top - b with G(top - x) < limit (true at x = 0 unless limit <= 0; then b = top).
  constexpr std::uint32_t top = 0x7f800000u;
  const auto mass = [&](int i, const auto& at, auto& g) {
    if (!by_k.keeps(p[i], i)) return;
    const std::uint32_t b = __float_as_uint(p[i]);
#pragma unroll
    for (int j = 0; j < math::MultiwaySearch::probes; ++j)
      if (b > top - at[j]) g[j] += p[i];
  };
  const std::uint32_t x = search_patterns<float>(n, all, mass, [&](float g) { return g < limit; });
  const float value = __uint_as_float(top - x);
  float g = 0.0f;
  int ties = 0;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) {
    if (!by_k.keeps(p[i], i)) continue;
    if (p[i] > value) g += p[i];
    else if (p[i] == value) ++ties;
  }
  g = all.sum(g);
  ties = all.sum(ties);
  // The j-th tie (0-based, id order) has g + j * value ranked before it.
  int keep = 0;
  for (float before = g; keep < ties && before < limit; before += value) ++keep;
  if (keep >= ties) return {value, value == by_k.value ? by_k.last_tie : n};
  return {value, nth_tie(p, n, by_k, value, keep, all)};
}

// A row's softmax at inverse temperature inv_t: p_i = sampling::softmax_weight(l_i, inv_t, max) * inv.
// finite is false when a logit is not (the rest is then meaningless).
struct SoftmaxStats {
  float max, inv;
  bool finite;
};

template <int Threads>
__device__ SoftmaxStats softmax_stats(const float* logits, int n, float inv_t, BlockAll<Threads>& all) {
  float mx = -INFINITY;
  int bad = 0;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) {
    bad |= !isfinite(logits[i]);
    mx = fmaxf(mx, logits[i] * inv_t);
  }
  if (all.sum(bad) > 0) return {0.0f, 0.0f, false};
  mx = all.max(mx);
  float sum = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) sum += sampling::softmax_weight(logits[i], inv_t, mx);
  return {mx, 1.0f / all.sum(sum), true};
}

// p = sampling::warp(logits) for one row; false (p unspecified) when a logit is not finite.
template <int Threads>
__device__ bool warp_row(const float* logits, float* p, int n, const sampling::WarpParams& w, BlockAll<Threads>& all) {
  const float inv_t = 1.0f / w.temperature;
  const SoftmaxStats s = softmax_stats(logits, n, inv_t, all);
  if (!s.finite) return false;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads)
    p[i] = sampling::softmax_weight(logits[i], inv_t, s.max) * s.inv;
  __syncthreads();  // the cuts read other threads' entries
  const bool use_k = w.top_k > 0 && w.top_k < n, use_p = w.top_p < 1.0f;
  if (!use_k && !use_p) return true;
  const Cut by_k = use_k ? top_k_cut(p, n, w.top_k, all) : Cut::everything(n);
  Cut cut = by_k;
  if (use_p) {
    // top-p acts on top-k's output: its mass is measured against the renormalised top-k distribution.
    float kept = 0.0f;
    for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads)
      if (by_k.keeps(p[i], i)) kept += p[i];
    cut = top_p_cut(p, n, by_k, w.top_p * all.sum(kept), all);
  }
  // Top-p's cut lies inside top-k's; intersecting them guards the degenerate limits (a zero mass).
  const auto keeps = [&](int i) { return by_k.keeps(p[i], i) && cut.keeps(p[i], i); };
  float kept = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads)
    if (keeps(i)) kept += p[i];
  const float renorm = 1.0f / all.sum(kept);
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) p[i] = keeps(i) ? p[i] * renorm : 0.0f;
  __syncthreads();
  return true;
}

// sampling::sample_categorical(w, n, u) for the block: the first id whose cumulative weight exceeds
// u * total, else the last positive id; 0 (never out of the vocabulary) when every weight is zero.
template <int Threads>
__device__ int sample_row(const float* w, int n, float u, BlockAll<Threads>& all) {
  const ThreadChunk c = ThreadChunk::of<Threads>(n);
  float mine = 0.0f;
  int last = -1;
  for (int i = c.begin; i < c.end; ++i) {
    mine += w[i];
    if (w[i] > 0.0f) last = i;
  }
  const float before = all.exclusive_sum(mine);
  const float target = u * all.sum(mine);
  // Every thread whose chunk starts at or below the target walks it (rounding may let the boundary
  // fall one chunk late); the lowest id found wins.
  int found = INT_MAX;
  if (before <= target) {
    float cum = before;
    for (int i = c.begin; i < c.end; ++i) {
      cum += w[i];
      if (cum > target && w[i] > 0.0f) {
        found = i;
        break;
      }
    }
  }
  found = all.min(found);
  if (found != INT_MAX) return found;
  last = all.max(last);
  return last >= 0 ? last : 0;
}

// p row r = warp(logits row r), rows of n values; grid = rows. A non-finite logit sets *bad.
template <int Threads = sample_threads>
__global__ void __launch_bounds__(Threads)
    warp_rows(const float* __restrict__ logits, int n, sampling::WarpParams w, float* __restrict__ p, int* bad) {
  __shared__ typename BlockAll<Threads>::Storage storage;
  BlockAll<Threads> all(storage);
  const long r = blockIdx.x;
  if (!warp_row(logits + r * n, p + r * n, n, w, all) && threadIdx.x == 0) atomicExch(bad, 1);
}

// The draft draws of speculative sampling: for row r (draft position first + r), q row first + r =
// warp(logits row r) and tokens[r] ~ q with the host rule's counter {first + r, key->position,
// draft_sample, 0} and key->seed. grid = rows.
template <int Threads = sample_threads>
__global__ void __launch_bounds__(Threads)
    warp_sample_rows(const float* __restrict__ logits, int n, sampling::WarpParams w, float* __restrict__ q,
                     int first, const StepKey* __restrict__ key, int* __restrict__ tokens, int* bad) {
  __shared__ typename BlockAll<Threads>::Storage storage;
  BlockAll<Threads> all(storage);
  const int r = static_cast<int>(blockIdx.x), index = first + r;
  float* qr = q + static_cast<long>(index) * n;
  if (!warp_row(logits + static_cast<long>(r) * n, qr, n, w, all)) {
    if (threadIdx.x == 0) {
      atomicExch(bad, 1);
      tokens[r] = 0;
    }
    return;
  }
  const float u = rng::uniform(key->seed, {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(key->position),
                                           rng::Purpose::draft_sample, 0u});
  const int token = sample_row(qr, n, u, all);
  if (threadIdx.x == 0) tokens[r] = token;
}

// accept::SpeculativeSampling::verify on the device, one block. p: the k+1 warped target rows; q: the
// k warped draft rows the drafts block[1..k] were drawn from (row i is overwritten by the residual on
// rejection). Draws use key's seed and position. pending0 may alias block[0].
template <int Threads = sample_threads>
__global__ void __launch_bounds__(Threads)
    speculative_accept(const float* __restrict__ p, float* __restrict__ q, const int* block, int k, int n,
                       const StepKey* __restrict__ key, int* __restrict__ verdict, int* pending0,
                       int* pending1) {
  __shared__ typename BlockAll<Threads>::Storage storage;
  BlockAll<Threads> all(storage);
  const std::uint64_t seed = key->seed;
  const auto position = static_cast<std::uint32_t>(key->position);
  const float* w = p + static_cast<long>(k) * n;  // all accepted: the bonus token from p_{k+1}
  int i = 0;
  for (; i < k; ++i) {
    const float* pi = p + static_cast<long>(i) * n;
    float* qi = q + static_cast<long>(i) * n;
    const int d = block[1 + i];
    const float u = rng::uniform(seed, {static_cast<std::uint32_t>(i), position, rng::Purpose::accept_test, 0u});
    const float qd = qi[d], pd = pi[d];
    __syncthreads();  // every thread has read q_i(d) before any overwrites q_i with the residual
    if (accept::speculative_accepts(u, pd, qd)) continue;  // the same values in every thread: uniform
    float mass = 0.0f;
    for (int v = static_cast<int>(threadIdx.x); v < n; v += Threads) {
      qi[v] = accept::speculative_residual(pi[v], qi[v]);
      mass += qi[v];
    }
    w = all.sum(mass) >= accept::SpeculativeSampling::min_residual_mass ? qi : pi;
    break;
  }
  const float u = rng::uniform(seed, {0u, position, rng::Purpose::final_sample, 0u});
  const int next = sample_row(w, n, u, all);
  if (threadIdx.x == 0) write_verdict(i, next, verdict, pending0, pending1);
}

// accept::Typical::verify on the device, one block: draft d_i (block[1 + i]) is accepted while
// p_i(d_i) > typical_threshold(H(p_i)), p_i = softmax(target row i / temperature); the next token is the
// argmax of the first rejected row (or of row k), given in target[]. pending0 may alias block[0].
template <int Threads = sample_threads>
__global__ void __launch_bounds__(Threads)
    typical_accept(const float* __restrict__ logits, const int* __restrict__ target, const int* block, int k, int n,
                   accept::TypicalParams params, int* __restrict__ verdict, int* pending0, int* pending1) {
  __shared__ typename BlockAll<Threads>::Storage storage;
  BlockAll<Threads> all(storage);
  const float inv_t = 1.0f / params.temperature;
  int i = 0;
  for (; i < k; ++i) {
    const float* row = logits + static_cast<long>(i) * n;
    const SoftmaxStats s = softmax_stats(row, n, inv_t, all);  // non-finite rows: argmax_rows flags them
    float h = 0.0f;
    for (int v = static_cast<int>(threadIdx.x); v < n; v += Threads)
      h += sampling::entropy_term(sampling::softmax_weight(row[v], inv_t, s.max) * s.inv);
    h = all.sum(h);
    const float pd = sampling::softmax_weight(row[block[1 + i]], inv_t, s.max) * s.inv;
    if (!(pd > accept::typical_threshold(h, params.eps, params.delta))) break;
  }
  if (threadIdx.x == 0) write_verdict(i, target[i], verdict, pending0, pending1);
}

}  // namespace skippy::cuda::kernels
