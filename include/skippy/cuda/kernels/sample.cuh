#pragma once
// Sampling on the device, one thread block per logits row and never a sort of the vocabulary: the warp
// of sampling::warp (temperature, then top-k, then top-p, with its rank order: probability descending,
// ties to the lowest id), categorical draws by inverse CDF in id order (sampling::sample_categorical's
// rule), and the fused acceptance kernels of speculative sampling and typical acceptance. Draws come
// from rng::uniform with the host rules' counters, so host and device draw the same uniforms.
//
// Top-k and top-p find their cut by a multiway search on the bit pattern of the probabilities (non-negative
// floats order as their bits): 15 probes per pass and one block reduction for all of them, 8 passes where
// bisection took 31 (math::MultiwaySearch; the cut is bisection's). The passes run over candidates, not
// the row: the threads' largest probabilities bound every kept token from below (candidates()), and the
// tokens at or above the bound, usually about k or a few hundred, go to shared memory in id order (up to
// sample_candidates of them; else the passes take the whole row). At 128k tokens with top-k and top-p, the
// 16 passes over the row were most of a warp's time (770 us on an H200, run 6); with candidates the row
// is read 6 times (7 for top-p alone), whatever k and p. A draw's passes read a warp's consecutive
// entries with its lanes (sample_row), where each thread used to read a run of its own.
// Rows longer than a chunk go over many blocks (kernels/warp_chunks.cuh, launch_warp_rows and
// launch_warp_sample_rows), which run the same cuts and draws over their chunks' candidates.
// CUB's reductions are deterministic, so a seed gives the same tokens on every run; their summation
// order is not the host's, so a token may differ from the host's where a cumulative sum lies within
// rounding of a boundary (bit equality across backends is not promised, README §1).

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
#include "warp.cuh"

namespace skippy::cuda::kernels {

inline constexpr int sample_threads = 512;
// Candidates the sampling warp's cuts may search in shared memory (a float and an id each; more send the
// cuts to the whole row): 8 x sample_threads, 36 KB with the rest of a block's storage.
inline constexpr int sample_candidates = 4096;

// The entries a cut is searched among: n of them, entry i with probability p[i] and vocabulary id ids[i]
// (i itself where ids is null: a whole row). Ids ascend with i.
struct Entries {
  const float* p;
  const int* ids;
  int n;
  __device__ int id(int i) const { return ids == nullptr ? i : ids[i]; }
};

// A prefix of the rank order: every token above `value`, and those equal to it with id <= last_tie.
struct Cut {
  float value;
  int last_tie;
  __device__ bool keeps(float p, int id) const { return p > value || (p == value && id <= last_tie); }
  __device__ static Cut everything() { return {-1.0f, INT_MAX}; }
};

// The sampling warp's shared memory: the block reductions', and the candidates of its cuts (candidates()).
template <int Threads, int Capacity>
struct WarpStorage {
  static_assert(Threads % 32 == 0, "the warp kernels take whole warps (their candidates are found by ballots)");
  typename BlockAll<Threads>::Storage all;
  float p[Capacity];
  int id[Capacity];
  float tops[Threads];  // each thread's largest probability
};

// The id of the need-th (1-based) entry, in id order, with p == value among those `within` keeps.
template <int Threads>
__device__ int nth_tie(const Entries& e, Cut within, float value, int need, BlockAll<Threads>& all) {
  const ThreadChunk c = ThreadChunk::of<Threads>(e.n);
  int mine = 0;
  for (int i = c.begin; i < c.end; ++i) mine += e.p[i] == value && within.keeps(e.p[i], e.id(i));
  int seen = all.exclusive_sum(mine);
  int id = INT_MAX;
  if (seen < need && need <= seen + mine)
    for (int i = c.begin; i < c.end; ++i)
      if (e.p[i] == value && within.keeps(e.p[i], e.id(i)) && ++seen == need) {
        id = e.id(i);
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

// The k most probable entries (0 < k <= e.n).
template <int Threads>
__device__ Cut top_k_cut(const Entries& e, int k, BlockAll<Threads>& all) {
  // The k-th largest value: the largest bit pattern b with #{bits(p) >= b} >= k.
  const auto count = [&](int i, const auto& at, auto& c) {
    const std::uint32_t b = __float_as_uint(e.p[i]);
#pragma unroll
    for (int j = 0; j < math::MultiwaySearch::probes; ++j) c[j] += b >= at[j];
  };
  const float value = __uint_as_float(search_patterns<int>(e.n, all, count, [&](int c) { return c >= k; }));
  int above = 0, ties = 0;
  for (int i = static_cast<int>(threadIdx.x); i < e.n; i += Threads) {
    above += e.p[i] > value;
    ties += e.p[i] == value;
  }
  above = all.sum(above);
  ties = all.sum(ties);
  const int need = k - above;  // 1..ties
  return {value, need >= ties ? INT_MAX : nth_tie(e, Cut::everything(), value, need, all)};
}

// Top-p inside `by_k`: a token stays while the mass ranked strictly before it is below `limit`.
template <int Threads>
__device__ Cut top_p_cut(const Entries& e, Cut by_k, float limit, BlockAll<Threads>& all) {
  // The last kept token's value: the smallest bit pattern b whose mass above, G(b), is below limit (G
  // falls as b rises: each thread's sum and the block's are monotone in their non-negative terms). Searched
  // as the largest x = top - b with G(top - x) < limit (true at x = 0 unless limit <= 0; then b = top).
  constexpr std::uint32_t top = 0x7f800000u;
  const auto mass = [&](int i, const auto& at, auto& g) {
    if (!by_k.keeps(e.p[i], e.id(i))) return;
    const std::uint32_t b = __float_as_uint(e.p[i]);
#pragma unroll
    for (int j = 0; j < math::MultiwaySearch::probes; ++j)
      if (b > top - at[j]) g[j] += e.p[i];
  };
  const std::uint32_t x = search_patterns<float>(e.n, all, mass, [&](float g) { return g < limit; });
  const float value = __uint_as_float(top - x);
  float g = 0.0f;
  int ties = 0;
  for (int i = static_cast<int>(threadIdx.x); i < e.n; i += Threads) {
    if (!by_k.keeps(e.p[i], e.id(i))) continue;
    if (e.p[i] > value) g += e.p[i];
    else if (e.p[i] == value) ++ties;
  }
  g = all.sum(g);
  ties = all.sum(ties);
  // The j-th tie (0-based, id order) has g + j * value ranked before it, rounded once (a running sum over
  // a run of thousands of ties drifts by tokens). keep = the first j with that mass >= limit (ties if none):
  // the mass never falls as j rises (value >= 0, rounding is monotone), so a binary search finds it in
  // log2(ties) steps, not one step per kept tie (a flat row, or the zeros of a row with top_p near 1, has
  // ~10^5 of them).
  int keep = 0, past = ties;
  while (keep < past) {
    const int mid = keep + (past - keep) / 2;
    if (fmaf(static_cast<float>(mid), value, g) < limit) keep = mid + 1;
    else past = mid;
  }
  if (keep >= ties) return {value, value == by_k.value ? by_k.last_tie : INT_MAX};
  if (keep == 0) return {value, -1};  // g rounded past the search's sum: no tie stays
  return {value, nth_tie(e, by_k, value, keep, all)};
}

// The entries p[i] >= bound of [0, n), values and ids (id0 + i), compacted into out_p / out_id in id
// order; their count, or -1 (nothing written) when more than capacity. Coalesced: each warp walks a
// contiguous segment 32 ids at a time, and a ballot orders each step's ids.
template <int Threads>
__device__ int compact(const float* p, int n, int id0, float bound, float* out_p, int* out_id, int capacity,
                       BlockAll<Threads>& all) {
  static_assert(Threads % 32 == 0, "compact takes whole warps (its entries are ordered by ballots)");
  constexpr int warps = Threads / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int segment = ((n + warps - 1) / warps + 31) / 32 * 32;
  const int begin = warp * segment < n ? warp * segment : n, end = begin + segment < n ? begin + segment : n;
  int count = 0;  // the warp's, in every lane
  for (int j = begin; j < end; j += 32) {  // warp-uniform
    const int i = j + lane;
    count += __popc(__ballot_sync(0xffffffffu, i < end && p[i] >= bound));
  }
  const int mine = lane == 0 ? count : 0;
  const int before = __shfl_sync(0xffffffffu, all.exclusive_sum(mine), 0);
  const int total = all.sum(mine);
  if (total > capacity) return -1;
  int at = before;
  for (int j = begin; j < end; j += 32) {
    const int i = j + lane;
    const bool take = i < end && p[i] >= bound;
    const unsigned ballot = __ballot_sync(0xffffffffu, take);
    if (take) {
      const int slot = at + __popc(ballot & ((1u << lane) - 1u));
      out_p[slot] = p[i];
      out_id[slot] = id0 + i;
    }
    at += __popc(ballot);
  }
  __syncthreads();
  return total;
}

// A bound every token the cuts keep meets, from `tops`: the probabilities of distinct tokens of the row
// (the largest of each thread's or group's share). For top-k (k > 0), the k-th largest of them (k tokens
// reach it, so the k-th largest token does); -1 (no bound) where k exceeds them. For top-p alone, with
// limit the mass it keeps, their own top-p cut at a slightly larger limit: its value t has tops at or
// above it holding that larger limit (the search's boundary), so every token below t has more than the
// limit ranked before it, whatever order the float sums take; t is 0 (every token) where the tops hold
// less.
template <int Threads>
__device__ float candidate_bound(const Entries& tops, int k, float limit, BlockAll<Threads>& all) {
  if (k > 0) return k > tops.n ? -1.0f : top_k_cut(tops, k, all).value;
  return top_p_cut(tops, Cut::everything(), limit * (1.0f + 1.0f / 1024.0f), all).value;
}

// The entries the cuts of a row need search: those at or above candidate_bound of the threads' largest
// probabilities (`top`, this thread's), in shared memory, where they fit; else the whole row.
template <int Threads, int Capacity>
__device__ Entries candidates(const float* p, int n, float top, int k, float limit, WarpStorage<Threads, Capacity>& s,
                              BlockAll<Threads>& all) {
  const Entries row{p, nullptr, n};
  s.tops[threadIdx.x] = top;
  __syncthreads();
  const float bound = candidate_bound(Entries{s.tops, nullptr, Threads}, k, limit, all);
  if (bound < 0.0f) return row;
  const int count = compact(p, n, 0, bound, s.p, s.id, Capacity, all);
  return count < 0 ? row : Entries{s.p, s.id, count};
}

// A warped row: whether its logits were finite, and its kept tokens with their final probabilities in
// id order (the candidates in shared memory, or the whole row with its zeros).
struct Warped {
  bool finite;
  Entries kept;
};

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
  for_row<Threads>(logits, n, [&](int, float l) {
    bad |= !isfinite(l);
    mx = fmaxf(mx, l);
  });
  if (all.sum(bad) > 0) return {0.0f, 0.0f, false};
  mx = all.max(mx);
  float sum = 0.0f;
  for_row<Threads>(logits, n, [&](int, float l) { sum += sampling::softmax_weight(l, inv_t, mx); });
  return {mx, 1.0f / all.sum(sum), true};
}

// Top-k, then top-p, over the entries e of a softmaxed row (all of its kept tokens among them), and the
// factor that renormalises what they keep. total: the row's mass (top-p alone keeps a share of it).
struct WarpCuts {
  Cut by_k, by_p;
  float renorm;
  // Top-p's cut lies inside top-k's; intersecting them guards the degenerate limits (a zero mass).
  __device__ bool keeps(float v, int id) const { return by_k.keeps(v, id) && by_p.keeps(v, id); }
};
// Whether a row of n tokens is cut at all (top-k below n, or top-p below 1).
__host__ __device__ inline bool cuts_k(const sampling::WarpParams& w, int n) { return w.top_k > 0 && w.top_k < n; }
__host__ __device__ inline bool cuts_p(const sampling::WarpParams& w) { return w.top_p < 1.0f; }

template <int Threads>
__device__ WarpCuts warp_cuts(const Entries& e, int n, const sampling::WarpParams& w, float total,
                              BlockAll<Threads>& all) {
  const bool use_k = cuts_k(w, n), use_p = cuts_p(w);
  const Cut by_k = use_k ? top_k_cut(e, w.top_k, all) : Cut::everything();
  Cut by_p = Cut::everything();
  if (use_p) {
    // top-p acts on top-k's output: its mass is measured against the renormalised top-k distribution.
    float kept = 0.0f;
    if (use_k)
      for (int i = static_cast<int>(threadIdx.x); i < e.n; i += Threads)
        if (by_k.keeps(e.p[i], e.id(i))) kept += e.p[i];
    by_p = top_p_cut(e, by_k, sampling::top_p_limit(w.top_p, use_k ? all.sum(kept) : total), all);
  }
  WarpCuts cuts{by_k, by_p, 0.0f};
  float kept = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < e.n; i += Threads)
    if (cuts.keeps(e.p[i], e.id(i))) kept += e.p[i];
  cuts.renorm = 1.0f / all.sum(kept);
  return cuts;
}

// The candidates in shared memory renormalised by `cuts` (zero where cut), for a draw over them.
template <int Threads, int Capacity>
__device__ void renormalise_candidates(const WarpCuts& cuts, int count, WarpStorage<Threads, Capacity>& s) {
  for (int i = static_cast<int>(threadIdx.x); i < count; i += Threads)
    s.p[i] = cuts.keeps(s.p[i], s.id[i]) ? s.p[i] * cuts.renorm : 0.0f;
  __syncthreads();
}

// p = sampling::warp(logits) for one row (p unspecified when a logit is not finite). The cuts search the
// row's candidates (candidates()): a few passes over the row, then rounds over at most Capacity entries.
template <int Threads, int Capacity>
__device__ Warped warp_row(const float* logits, float* p, int n, const sampling::WarpParams& w,
                           WarpStorage<Threads, Capacity>& s, BlockAll<Threads>& all) {
  const Entries row{p, nullptr, n};
  const float inv_t = 1.0f / w.temperature;
  const SoftmaxStats st = softmax_stats(logits, n, inv_t, all);
  if (!st.finite) return {false, row};
  float top = 0.0f;
  for_row<Threads>(logits, n, [&](int i, float l) {
    p[i] = sampling::softmax_weight(l, inv_t, st.max) * st.inv;
    top = fmaxf(top, p[i]);
  });
  __syncthreads();  // the cuts read other threads' entries
  const bool use_k = cuts_k(w, n), use_p = cuts_p(w);
  if (!use_k && !use_p) return {true, row};
  // Top-p alone keeps a share of the whole row's mass.
  float total = 0.0f;
  if (!use_k) for_row<Threads>(p, n, [&](int, float v) { total += v; });
  total = use_k ? 0.0f : all.sum(total);
  const Entries e = candidates(p, n, top, use_k ? w.top_k : 0, sampling::top_p_limit(w.top_p, total), s, all);
  const WarpCuts cuts = warp_cuts(e, n, w, total, all);
  for_row<Threads>(p, n, [&](int i, float v) { p[i] = cuts.keeps(v, i) ? v * cuts.renorm : 0.0f; });
  if (e.ids != nullptr) renormalise_candidates(cuts, e.n, s);  // for a draw over them
  else __syncthreads();
  return {true, e};
}

// The first id of entries [begin, end) whose cumulative weight, from `before`, exceeds target (INT_MAX if
// none), for the calling warp (every lane gets it). The lanes take contiguous runs in id order, sum them,
// and every lane walks its run; the lowest id found wins. A lane starting past the target stops at its
// first positive entry: it wins only where rounding left the target between the previous run's walked end
// and this run's scanned start, as the neighbouring id (not the row's last positive one).
__device__ inline int walk_warp_segment(const Entries& e, int begin, int end, float before, float target) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int run = (end - begin + 31) / 32;
  const int b = begin + lane * run < end ? begin + lane * run : end, f = b + run < end ? b + run : end;
  float mine = 0.0f;
  for (int i = b; i < f; ++i) mine += e.p[i];
  float upto = mine;  // inclusive scan over the lanes
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const float o = __shfl_sync(0xffffffffu, upto, lane >= d ? lane - d : lane);
    if (lane >= d) upto += o;
  }
  float cum = before + (upto - mine);
  int found = INT_MAX;
  for (int i = b; i < f; ++i) {
    cum += e.p[i];
    if (cum > target && e.p[i] > 0.0f) {
      found = e.id(i);
      break;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const int other = __shfl_sync(0xffffffffu, found, lane ^ o);
    found = other < found ? other : found;
  }
  return found;
}

// Whether a segment of a draw's entries holding weight `held`, with `before` ranked before it, may hold the
// target by those sums, within a margin for their rounding (1/4096 of the total) on both sides: a segment
// whose start rounds past the target walks too, in case the one before it ends short of the target.
__device__ inline bool may_hold(float before, float held, float total, float target) {
  const float margin = total / 4096.0f;
  return before <= target + margin && target - before < held + margin;
}
// A draw's token from the block's walks (found: this thread's first id past the target, or INT_MAX) and the
// last id of a positive weight this thread saw (-1 none): the lowest found, else the last positive, else 0.
template <int Threads>
__device__ int drawn(int found, int last, BlockAll<Threads>& all) {
  found = all.min(found);
  if (found != INT_MAX) return found;
  last = all.max(last);
  return last >= 0 ? last : 0;
}

// sampling::sample_categorical(w, n, u) for the block over entries (their ids in id order, the weights
// of the others zero): the first id whose cumulative weight exceeds u * total, else the last id of a
// positive weight; 0 (never out of the vocabulary) when every weight is zero. Each warp sums a contiguous
// segment, its lanes reading consecutive entries; only the warps whose segment holds the target by those
// sums, within a margin for their rounding (1/4096 of the total), walk theirs.
template <int Threads>
__device__ int sample_row(const Entries& e, float u, BlockAll<Threads>& all) {
  static_assert(Threads % 32 == 0, "sample_row takes whole warps");
  constexpr int warps = Threads / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int segment = ((e.n + warps - 1) / warps + 31) / 32 * 32;
  const int begin = warp * segment < e.n ? warp * segment : e.n, end = begin + segment < e.n ? begin + segment : e.n;
  float mine = 0.0f;
  int last = -1;
  for (int i = begin + lane; i < end; i += 32) {
    mine += e.p[i];
    if (e.p[i] > 0.0f) last = e.id(i);  // ids rise with i
  }
  const float held = warp_sum(mine);
  const float before = __shfl_sync(0xffffffffu, all.exclusive_sum(lane == 0 ? held : 0.0f), 0);
  const float total = all.sum(lane == 0 ? held : 0.0f), target = u * total;
  int found = INT_MAX;
  if (begin < end && may_hold(before, held, total, target))  // warp-uniform
    found = walk_warp_segment(e, begin, end, before, target);
  return drawn(found, last, all);
}
template <int Threads>
__device__ int sample_row(const float* w, int n, float u, BlockAll<Threads>& all) {
  return sample_row(Entries{w, nullptr, n}, u, all);
}

// A step's uniform of `purpose` for `index` (a draft's row, a tested draft; 0 for the final draw): the
// host rules' counter {index, key->position, purpose, 0} with key->seed.
__device__ __forceinline__ float step_uniform(const StepKey* key, int index, rng::Purpose purpose) {
  return rng::uniform(key->seed,
                      {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(key->position), purpose, 0u});
}

// Speculative sampling's tests of the drafts block[1..k] against the warped rows p (target) and q (draft):
// the index of the first rejected, k if none (accept::SpeculativeSampling::verify's loop).
__device__ inline int first_rejected(const float* p, const float* q, const int* block, int k, int n,
                                     const StepKey* key) {
  int i = 0;
  for (; i < k; ++i) {
    const long d = static_cast<long>(i) * n + block[1 + i];
    if (!accept::speculative_accepts(step_uniform(key, i, rng::Purpose::accept_test), p[d], q[d])) break;
  }
  return i;
}

// p row r = warp(logits row r), rows of n values; grid = rows. A non-finite logit sets *bad.
template <int Threads = sample_threads, int Capacity = sample_candidates>
__global__ void __launch_bounds__(Threads)
    warp_rows(const float* __restrict__ logits, int n, sampling::WarpParams w, float* __restrict__ p, int* bad) {
  __shared__ WarpStorage<Threads, Capacity> storage;
  BlockAll<Threads> all(storage.all);
  const long r = blockIdx.x;
  if (!warp_row(logits + r * n, p + r * n, n, w, storage, all).finite && threadIdx.x == 0) atomicExch(bad, 1);
}

// The draft draws of speculative sampling: for row r (draft position first + r), q row first + r =
// warp(logits row r) and tokens[r] ~ q with the host rule's counter {first + r, key->position,
// draft_sample, 0} and key->seed. grid = rows.
template <int Threads = sample_threads, int Capacity = sample_candidates>
__global__ void __launch_bounds__(Threads)
    warp_sample_rows(const float* __restrict__ logits, int n, sampling::WarpParams w, float* __restrict__ q,
                     int first, const StepKey* __restrict__ key, int* __restrict__ tokens, int* bad) {
  __shared__ WarpStorage<Threads, Capacity> storage;
  BlockAll<Threads> all(storage.all);
  const int r = static_cast<int>(blockIdx.x), index = first + r;
  float* qr = q + static_cast<long>(index) * n;
  const Warped warped = warp_row(logits + static_cast<long>(r) * n, qr, n, w, storage, all);
  if (!warped.finite) {
    if (threadIdx.x == 0) {
      atomicExch(bad, 1);
      tokens[r] = 0;
    }
    return;
  }
  const int token = sample_row(warped.kept, step_uniform(key, index, rng::Purpose::draft_sample), all);
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
  const int i = first_rejected(p, q, block, k, n, key);  // the same in every thread
  __syncthreads();  // every thread has read q_i(d_i) before any overwrites q_i with the residual
  const float* w = p + static_cast<long>(k) * n;  // all accepted: the bonus token from p_{k+1}
  if (i < k) {
    const float* pi = p + static_cast<long>(i) * n;
    float* qi = q + static_cast<long>(i) * n;
    float mass = 0.0f;
    for_row<Threads>(qi, n, [&](int v, float qv) {
      qi[v] = accept::speculative_residual(pi[v], qv);
      mass += qi[v];
    });
    w = all.sum(mass) >= accept::SpeculativeSampling::min_residual_mass ? qi : pi;
  }
  const int next = sample_row(w, n, step_uniform(key, 0, rng::Purpose::final_sample), all);
  if (threadIdx.x == 0) write_verdict(i, next, verdict, pending0, pending1);
}

// The verdict of drafts tested into accepted[0..k): the accepted count is the first rejected draft's index
// (k if none), the next token target[count] (the argmax of that row). pending0 may alias the step's
// block[0].
__device__ inline void typical_verdict(const int* accepted, const int* target, int k, int* verdict, int* pending0,
                                       int* pending1) {
  int count = 0;
  while (count < k && accepted[count] != 0) ++count;
  write_verdict(count, target[count], verdict, pending0, pending1);
}

// Typical acceptance's test of draft i, one block a row (grid = k): accepted[i] = 1 where p_i(d_i) >
// typical_threshold(H(p_i)), p_i = softmax(target row i / temperature) and d_i = block[1 + i], else 0.
// The last block to finish writes the verdict (typical_verdict; arrived: zero before, left so). (One
// block for all rows, up to run 9, read them one after another.)
template <int Threads = sample_threads>
__global__ void __launch_bounds__(Threads)
    typical_rows(const float* __restrict__ logits, const int* block, int n, accept::TypicalParams params,
                 int* accepted, unsigned* arrived, const int* __restrict__ target, int* verdict, int* pending0,
                 int* pending1) {
  __shared__ typename BlockAll<Threads>::Storage storage;
  __shared__ int last;
  BlockAll<Threads> all(storage);
  const int i = static_cast<int>(blockIdx.x);
  const float* row = logits + static_cast<long>(i) * n;
  const float inv_t = 1.0f / params.temperature;
  const SoftmaxStats s = softmax_stats(row, n, inv_t, all);  // non-finite rows: the argmax flags them
  float h = 0.0f;
  for_row<Threads>(row, n,
                   [&](int, float l) { h += sampling::entropy_term(sampling::softmax_weight(l, inv_t, s.max) * s.inv); });
  h = all.sum(h);
  const float pd = sampling::softmax_weight(row[block[1 + i]], inv_t, s.max) * s.inv;
  if (threadIdx.x == 0) accepted[i] = pd > accept::typical_threshold(h, params.eps, params.delta) ? 1 : 0;
  if (last_to_arrive(arrived, &last) && threadIdx.x == 0)
    typical_verdict(accepted, target, static_cast<int>(gridDim.x), verdict, pending0, pending1);
}

// The verdict of a step without drafts. One thread.
template <int Threads = 32>
__global__ void __launch_bounds__(Threads) accept_prefix(const int* __restrict__ accepted, const int* __restrict__ target,
                                                         int k, int* verdict, int* pending0, int* pending1) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  typical_verdict(accepted, target, k, verdict, pending0, pending1);
}

// accept::Typical::verify on the device, one launch: typical_rows over the k draft rows, whose last block
// writes the verdict from target[] (the argmax of the k + 1 target rows); for k = 0, accept_prefix.
// accepted: k ints of scratch; arrived: an arrival counter, zero before the first launch and left so. The
// counter has a place of its own: k varies from step to step, and a slot of accepted[] may hold a 1.
// (Up to 2026-12-03 the verdict was a second launch; up to 2026-12-04 the counter was accepted[k].)
inline cudaError_t launch_typical_accept(const float* logits, const int* target, const int* block, int k, int n,
                                         accept::TypicalParams params, int* accepted, unsigned* arrived, int* verdict,
                                         int* pending0, int* pending1, cudaStream_t stream = nullptr) {
  if (k < 0 || n < 1 || (k > 0 && (accepted == nullptr || arrived == nullptr))) return cudaErrorInvalidValue;
  if (k == 0)
    return launch(accept_prefix<>, 1, 32, 0, stream, static_cast<const int*>(accepted), target, 0, verdict, pending0,
                  pending1);
  return launch(typical_rows<>, dim3(static_cast<unsigned>(k)), sample_threads, 0, stream, logits,
                block, n, params, accepted, arrived, target,
                verdict, pending0, pending1);
}

}  // namespace skippy::cuda::kernels
