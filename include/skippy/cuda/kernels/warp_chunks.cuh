#pragma once
// The sampling warp of a long row spread over many blocks (a 128k row over 32), where one block a row
// reads at what one SM keeps in flight: each of its passes over a 128k row took about 30 us on an H200
// (run 6), the whole warp six or seven of them. Three launches, each block taking a chunk of a row:
//   1. warp_chunk_stats: the chunk's softmax statistics (max, sum relative to it, whether finite) and its
//      groups' largest logits;
//   2. warp_chunk_cut: every block joins the chunks' statistics in chunk order (the same bits in each),
//      writes its chunk's probabilities, takes candidate_bound of the groups' largest probabilities (the
//      same bound in each) and compacts its chunk's tokens at or above it. The last block to arrive
//      searches the cuts over all chunks' candidates in shared memory (or, where they do not fit, over the
//      whole row, one block's slow way) and draws the draft token from them;
//   3. warp_chunk_write, only where top-k or top-p cuts: the chunk's final probabilities (zero where cut,
//      the rest renormalised); where the draw needs the whole row, the last block draws over the chunks'
//      sums.
// The same warp as kernels::warp_row, each row's bits fixed by its launch shape (chunking, threads),
// not by the other rows; a row of one chunk goes to warp_rows / warp_sample_rows, one launch. Blocks meet
// through a caller-owned scratch (WarpScratch; cuda::WarpScratchBuffer owns one) whose arrival counters
// start at zero and are left so. Speculative sampling's acceptance over such rows goes over their chunks
// too (launch_speculative_accept): its residual and final draw were one block's passes over the row.

#include <cuda_runtime.h>

#include <climits>
#include <cstddef>

#include "../launch.cuh"
#include "sample.cuh"
#include "softmax_parts.cuh"

namespace skippy::cuda::kernels {

// Entries a block of the chunked warp takes (more where a row would take over warp_max_chunks).
inline constexpr int warp_chunk = 4096;
inline constexpr int warp_max_chunks = 64;
// The groups' largest probabilities a row's bound is taken from, at most (their search runs in every block).
inline constexpr int warp_max_tops = 1024;

// A row of n entries in chunks of `size` (a multiple of 4: chunks start 16-byte aligned where the row does).
struct WarpChunking {
  int chunks, size;
  __host__ __device__ static WarpChunking of(int n) {
    int chunks = (n + warp_chunk - 1) / warp_chunk;
    if (chunks > warp_max_chunks) chunks = warp_max_chunks;
    const int size = ((n + chunks - 1) / chunks + 3) / 4 * 4;
    return {(n + size - 1) / size, size};
  }
  __host__ __device__ int begin(int c) const { return c * size; }
  __host__ __device__ int end(int c, int n) const { return n - c * size < size ? n : (c + 1) * size; }
};

// Lanes whose largest logit is one group's (a power of two up to a warp): as few as keep a row's groups
// within warp_max_tops, so that k up to warp_max_tops / 2 has a bound.
template <int Threads>
__host__ __device__ constexpr int warp_top_lanes(int chunks) {
  int lanes = 1;
  while (lanes < 32 && chunks * (Threads / lanes) > warp_max_tops) lanes *= 2;
  return lanes;
}

// How the last block left a row for warp_chunk_write.
enum class ChunkedWarp : int { done = 0, write = 1, write_and_draw = 2 };

// What a row's blocks leave one another.
struct WarpRowScratch {
  float max[warp_max_chunks];  // each chunk's largest logit
  float sum[warp_max_chunks];  // each chunk's softmax weights relative to its max, summed
  float mass[warp_max_chunks];  // each chunk's probabilities summed (after the cuts where the draw needs them)
  float tops[warp_max_tops];    // each group's largest logit
  int bad[warp_max_chunks];     // each chunk: a logit is not finite
  int count[warp_max_chunks];   // each chunk's candidates, -1 where there is no bound
  int last[warp_max_chunks];    // each chunk's last id of a positive probability, -1 none
  float value_k, value_p, renorm;  // the cuts (WarpCuts)
  int tie_k, tie_p;
  ChunkedWarp next;
  unsigned arrived[2];  // blocks of warp_chunk_cut and warp_chunk_write that have finished
};

// What speculative sampling's acceptance leaves its blocks (launch_speculative_accept): the first
// rejected draft, and per chunk the sums and last positive ids of the residual and of the target row.
struct AcceptScratch {
  int rejected;
  float residual_mass[warp_max_chunks], target_mass[warp_max_chunks];
  int residual_last[warp_max_chunks], target_last[warp_max_chunks];
  unsigned arrived;
};

// Scratch for `rows` rows of n entries: per row a WarpRowScratch, and room for each chunk's candidates;
// and the acceptance's.
struct WarpScratch {
  WarpRowScratch* rows = nullptr;
  float* cand_p = nullptr;  // rows x n
  int* cand_id = nullptr;   // rows x n
  AcceptScratch* accept = nullptr;
};
// Its bytes (as one allocation: rows' structs, the acceptance's, then the candidates' values and ids).
inline std::size_t warp_scratch_bytes(int n, int rows) {
  return static_cast<std::size_t>(rows) * (sizeof(WarpRowScratch) + 2 * sizeof(float) * static_cast<std::size_t>(n)) +
         sizeof(AcceptScratch);
}
// The scratch in `bytes` of warp_scratch_bytes(n, rows), zeroed once before its first launch.
inline WarpScratch warp_scratch_at(void* bytes, int n, int rows) {
  auto* r = static_cast<WarpRowScratch*>(bytes);
  auto* a = reinterpret_cast<AcceptScratch*>(r + rows);
  auto* p = reinterpret_cast<float*>(a + 1);
  return {r, p, reinterpret_cast<int*>(p + static_cast<std::size_t>(rows) * static_cast<std::size_t>(n)), a};
}

// Launch 1: chunk blockIdx.x of row blockIdx.y: its statistics and its groups' largest logits. A logit
// that is not finite sets *bad.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    warp_chunk_stats(const float* __restrict__ logits, int n, float inv_t, int* bad, WarpScratch scratch) {
  __shared__ typename BlockAll<Threads>::Storage storage;
  BlockAll<Threads> all(storage);
  const WarpChunking ch = WarpChunking::of(n);
  const int c = static_cast<int>(blockIdx.x), begin = ch.begin(c), len = ch.end(c, n) - begin;
  const float* x = logits + static_cast<long>(blockIdx.y) * n + begin;
  WarpRowScratch& s = scratch.rows[blockIdx.y];
  constexpr unsigned full = 0xffffffffu;
  const int lanes = warp_top_lanes<Threads>(ch.chunks);
  float mx = -INFINITY;
  int nonfinite = 0;
  for_row<Threads>(x, len, [&](int, float l) {
    nonfinite |= !isfinite(l);
    mx = fmaxf(mx, l);
  });
  float group = mx;  // a thread without entries adds -inf: a probability of 0, which no bound needs
  for (int o = 1; o < lanes; o <<= 1) group = fmaxf(group, __shfl_xor_sync(full, group, o));
  if (static_cast<int>(threadIdx.x) % lanes == 0)
    s.tops[c * (Threads / lanes) + static_cast<int>(threadIdx.x) / lanes] = group;
  nonfinite = all.sum(nonfinite);
  if (nonfinite > 0) {
    if (threadIdx.x == 0) {
      s.bad[c] = 1;
      atomicExch(bad, 1);
    }
    return;
  }
  const float cmax = all.max(mx);
  float sum = 0.0f;
  for_row<Threads>(x, len, [&](int, float l) { sum += sampling::softmax_weight(l, inv_t, cmax); });
  sum = all.sum(sum);
  if (threadIdx.x == 0) {
    s.bad[c] = 0;
    s.max[c] = cmax;
    s.sum[c] = sum;
  }
}

// A draw over a row's chunks: the block's reductions, each chunk's sum of what precedes it, then the total.
template <int Threads>
struct DrawStorage {
  typename BlockAll<Threads>::Storage all;
  float before[warp_max_chunks + 1];
  int flag;
};

// The draw of sampling::sample_categorical over a row whose chunks' sums (mass) and last positive ids
// (last) are known: the warps walk the chunks that may hold the target (may_hold), warp w chunks w,
// w + warps, ...
template <int Threads>
__device__ int draw_chunks(const float* p, int n, const WarpChunking& ch, const float* mass, const int* last_id,
                           float u, DrawStorage<Threads>& st, BlockAll<Threads>& all) {
  constexpr int warps = Threads / 32;
  if (threadIdx.x == 0) {
    float before = 0.0f;
    for (int c = 0; c < ch.chunks; ++c) {
      st.before[c] = before;
      before += mass[c];
    }
    st.before[ch.chunks] = before;
  }
  __syncthreads();
  const float total = st.before[ch.chunks], target = u * total;
  const Entries row{p, nullptr, n};
  int found = INT_MAX, last = -1;
  for (int c = static_cast<int>(threadIdx.x) / 32; c < ch.chunks; c += warps) {  // warp-uniform
    last = last_id[c] > last ? last_id[c] : last;
    if (may_hold(st.before[c], mass[c], total, target)) {
      const int id = walk_warp_segment(row, ch.begin(c), ch.end(c, n), st.before[c], target);
      found = id < found ? id : found;
    }
  }
  return drawn(found, last, all);
}

// The cut launch's shared memory: the sampling warp's (candidates), the groups' probabilities, a draw's.
template <int Threads, int Capacity>
struct ChunkStorage {
  WarpStorage<Threads, Capacity> warp;
  float tops[warp_max_tops];
  DrawStorage<Threads> draw;
  float max, inv;
  int bad;
  int at[warp_max_chunks];  // where each chunk's candidates go in shared memory
};

// Launch 2: chunk blockIdx.x of row r = blockIdx.y writes its probabilities into p row first + r and its
// candidates; the last block of the row finds the cuts and, with Draw, draws tokens[r] (see above).
template <int Threads, int Capacity, bool Draw>
__global__ void __launch_bounds__(Threads)
    warp_chunk_cut(const float* __restrict__ logits, int n, sampling::WarpParams w, float* __restrict__ p, int first,
                   const StepKey* __restrict__ key, int* __restrict__ tokens, WarpScratch scratch) {
  __shared__ ChunkStorage<Threads, Capacity> st;
  BlockAll<Threads> all(st.warp.all);
  const WarpChunking ch = WarpChunking::of(n);
  const int c = static_cast<int>(blockIdx.x), r = static_cast<int>(blockIdx.y), begin = ch.begin(c),
            len = ch.end(c, n) - begin;
  const float* x = logits + static_cast<long>(r) * n;
  float* pr = p + static_cast<long>(first + r) * n;
  WarpRowScratch& s = scratch.rows[r];
  const float inv_t = 1.0f / w.temperature;
  // The row's softmax from its chunks', in chunk order: every block the same bits.
  if (threadIdx.x == 0) {
    int bad = 0;
    for (int i = 0; i < ch.chunks; ++i) bad |= s.bad[i];
    st.bad = bad;
    if (bad == 0) {
      const SoftmaxPart all = merge_softmax_parts(
          ch.chunks, [&](int i) { return SoftmaxPart{s.max[i], s.sum[i]}; }, inv_t);
      st.max = all.max;
      st.inv = 1.0f / all.sum;
    }
  }
  __syncthreads();
  if (st.bad != 0) {  // the stats flagged it; the token is then meaningless but in the vocabulary
    if (c == 0 && threadIdx.x == 0) {
      s.next = ChunkedWarp::done;
      if (Draw) tokens[r] = 0;
    }
    return;
  }
  const float mx = st.max, inv = st.inv;
  float mass = 0.0f;
  int last = -1;
  for_row<Threads>(x + begin, len, [&](int i, float l) {
    const float v = sampling::softmax_weight(l, inv_t, mx) * inv;
    pr[begin + i] = v;
    mass += v;
    if (v > 0.0f) last = begin + i;  // ids rise within a thread
  });
  const bool use_k = cuts_k(w, n), use_p = cuts_p(w);
  int count = -1;
  if (use_k || use_p) {
    __syncthreads();  // compact reads other threads' entries
    const int lanes = warp_top_lanes<Threads>(ch.chunks), tops = ch.chunks * (Threads / lanes);
    for (int j = static_cast<int>(threadIdx.x); j < tops; j += Threads)
      st.tops[j] = sampling::softmax_weight(s.tops[j], inv_t, mx) * inv;
    __syncthreads();
    // Top-p alone: the row's mass is 1 up to rounding, which the bound's margin covers.
    float bound = candidate_bound(Entries{st.tops, nullptr, tops}, use_k ? w.top_k : 0,
                                  sampling::top_p_limit(w.top_p, 1.0f), all);
    // A few ulps lower: a group's probability recomputed here may round apart from the one written above.
    if (bound >= 0.0f) {
      bound *= 1.0f - 1.0f / 65536.0f;
      count = compact(pr + begin, len, begin, bound, scratch.cand_p + static_cast<long>(r) * n + begin,
                      scratch.cand_id + static_cast<long>(r) * n + begin, len, all);
    }
  }
  mass = all.sum(mass);
  last = all.max(last);
  if (threadIdx.x == 0) {
    s.mass[c] = mass;
    s.last[c] = last;
    s.count[c] = count;
  }
  if (!last_to_arrive(&s.arrived[0], &st.draw.flag)) return;

  // The last block: every chunk's probabilities and candidates are written.
  if (!use_k && !use_p) {  // the probabilities are final
    if (Draw) {
      const float u = step_uniform(key, first + r, rng::Purpose::draft_sample);
      const int token = draw_chunks(pr, n, ch, s.mass, s.last, u, st.draw, all);
      if (threadIdx.x == 0) tokens[r] = token;
    }
    if (threadIdx.x == 0) s.next = ChunkedWarp::done;
    return;
  }
  if (threadIdx.x == 0) {
    int at = 0;
    float total = 0.0f;
    for (int i = 0; i < ch.chunks; ++i) {
      st.at[i] = at;
      at = s.count[i] < 0 || at > Capacity ? Capacity + 1 : at + s.count[i];
      total += s.mass[i];
    }
    st.draw.flag = at;
    st.draw.before[0] = total;
  }
  __syncthreads();
  const int candidates = st.draw.flag;
  const float total = st.draw.before[0];
  Entries e{pr, nullptr, n};  // too many candidates, or no bound: the whole row
  if (candidates <= Capacity) {
    for (int i = 0; i < ch.chunks; ++i) {
      const long from = static_cast<long>(r) * n + ch.begin(i);
      for (int j = static_cast<int>(threadIdx.x); j < s.count[i]; j += Threads) {
        st.warp.p[st.at[i] + j] = scratch.cand_p[from + j];
        st.warp.id[st.at[i] + j] = scratch.cand_id[from + j];
      }
    }
    __syncthreads();
    e = Entries{st.warp.p, st.warp.id, candidates};
  }
  const WarpCuts cuts = warp_cuts(e, n, w, total, all);
  if (threadIdx.x == 0) {
    s.value_k = cuts.by_k.value;
    s.tie_k = cuts.by_k.last_tie;
    s.value_p = cuts.by_p.value;
    s.tie_p = cuts.by_p.last_tie;
    s.renorm = cuts.renorm;
    s.next = Draw && e.ids == nullptr ? ChunkedWarp::write_and_draw : ChunkedWarp::write;
  }
  if (Draw && e.ids != nullptr) {
    renormalise_candidates(cuts, e.n, st.warp);
    const int token = sample_row(e, step_uniform(key, first + r, rng::Purpose::draft_sample), all);
    if (threadIdx.x == 0) tokens[r] = token;
  }
}

// Launch 3: chunk blockIdx.x of row r = blockIdx.y of p row first + r cut and renormalised; where the
// last block of warp_chunk_cut left the draw, the last block here draws tokens[r] over the whole row.
template <int Threads, bool Draw>
__global__ void __launch_bounds__(Threads)
    warp_chunk_write(int n, float* __restrict__ p, int first, const StepKey* __restrict__ key,
                     int* __restrict__ tokens, WarpScratch scratch) {
  __shared__ DrawStorage<Threads> st;
  BlockAll<Threads> all(st.all);
  const int c = static_cast<int>(blockIdx.x), r = static_cast<int>(blockIdx.y);
  WarpRowScratch& s = scratch.rows[r];
  const ChunkedWarp next = s.next;
  if (next == ChunkedWarp::done) return;
  const WarpChunking ch = WarpChunking::of(n);
  const int begin = ch.begin(c), len = ch.end(c, n) - begin;
  float* pr = p + static_cast<long>(first + r) * n;
  const WarpCuts cuts{{s.value_k, s.tie_k}, {s.value_p, s.tie_p}, s.renorm};
  float mass = 0.0f;
  int last = -1;
  for_row<Threads>(pr + begin, len, [&](int i, float v) {
    const float o = cuts.keeps(v, begin + i) ? v * cuts.renorm : 0.0f;
    pr[begin + i] = o;
    mass += o;
    if (o > 0.0f) last = begin + i;
  });
  if (!Draw || next != ChunkedWarp::write_and_draw) return;
  mass = all.sum(mass);
  last = all.max(last);
  if (threadIdx.x == 0) {
    s.mass[c] = mass;
    s.last[c] = last;
  }
  if (!last_to_arrive(&s.arrived[1], &st.flag)) return;
  const float u = step_uniform(key, first + r, rng::Purpose::draft_sample);
  const int token = draw_chunks(pr, n, ch, s.mass, s.last, u, st, all);
  if (threadIdx.x == 0) tokens[r] = token;
}

// The sampling warp of `rows` rows of n logits into p rows first.. (and with Draw, the draft draws into
// tokens[0..rows), key's seed and position, the rows' indices first + r): one launch of warp_rows /
// warp_sample_rows where a row is one chunk, else the three above over the scratch (rows of it).
template <int Threads, int Capacity, bool Draw>
cudaError_t launch_warp(const float* logits, int n, int rows, const sampling::WarpParams& w, float* p, int first,
                        const StepKey* key, int* tokens, int* bad, WarpScratch scratch, cudaStream_t stream) {
  static_assert(Threads % 32 == 0 && warp_max_chunks * (Threads / 32) <= warp_max_tops,
                "the chunked warp takes whole warps, and at most warp_max_tops groups a row (a warp a group at most)");
  if (n < 1 || rows < 1 || first < 0 || (Draw && (key == nullptr || tokens == nullptr))) return cudaErrorInvalidValue;
  const WarpChunking ch = WarpChunking::of(n);
  if (ch.chunks == 1) {
    if constexpr (Draw)
      return launch(warp_sample_rows<Threads, Capacity>, dim3(static_cast<unsigned>(rows)), Threads, 0, stream, logits,
                    n, w, p, first, key, tokens, bad);
    else
      return launch(warp_rows<Threads, Capacity>, dim3(static_cast<unsigned>(rows)), Threads, 0, stream, logits, n, w,
                    p + static_cast<long>(first) * n, bad);
  }
  if (scratch.rows == nullptr || scratch.cand_p == nullptr || scratch.cand_id == nullptr) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(ch.chunks), static_cast<unsigned>(rows));
  cudaError_t e = launch(warp_chunk_stats<Threads>, grid, Threads, 0, stream, logits, n, 1.0f / w.temperature, bad,
                         scratch);
  if (e == cudaSuccess)
    e = launch(warp_chunk_cut<Threads, Capacity, Draw>, grid, Threads, 0, stream, logits, n, w, p, first, key, tokens,
               scratch);
  // Without cuts the probabilities are final after the second launch (and the draw made there).
  if (e == cudaSuccess && (cuts_k(w, n) || cuts_p(w)))
    e = launch(warp_chunk_write<Threads, Draw>, grid, Threads, 0, stream, n, p, first, key, tokens, scratch);
  return e;
}

// p rows 0..rows = sampling::warp(logits rows); a non-finite logit sets *bad.
template <int Threads = sample_threads, int Capacity = sample_candidates>
cudaError_t launch_warp_rows(const float* logits, int n, int rows, const sampling::WarpParams& w, float* p, int* bad,
                             WarpScratch scratch, cudaStream_t stream = nullptr) {
  return launch_warp<Threads, Capacity, false>(logits, n, rows, w, p, 0, nullptr, nullptr, bad, scratch, stream);
}

// Speculative sampling's draft draws: q row first + r = warp(logits row r) and tokens[r] ~ q with the host
// rule's counter {first + r, key->position, draft_sample, 0} and key->seed.
template <int Threads = sample_threads, int Capacity = sample_candidates>
cudaError_t launch_warp_sample_rows(const float* logits, int n, int rows, const sampling::WarpParams& w, float* q,
                                    int first, const StepKey* key, int* tokens, int* bad, WarpScratch scratch,
                                    cudaStream_t stream = nullptr) {
  return launch_warp<Threads, Capacity, true>(logits, n, rows, w, q, first, key, tokens, bad, scratch, stream);
}

// Speculative sampling's acceptance over rows of many chunks (accept::SpeculativeSampling::verify, as
// kernels::speculative_accept does with one block): speculative_tests finds the first rejected draft,
// then speculative_chunks writes its residual into q row i chunk by chunk and sums it, and the target
// row's chunks (row k where every draft is accepted); its last block draws the next token over the
// residual (over the target row where the residual holds too little mass) and writes the verdict.
template <int Threads = 32>
__global__ void __launch_bounds__(Threads)
    speculative_tests(const float* __restrict__ p, const float* __restrict__ q, const int* __restrict__ block, int k,
                      int n, const StepKey* __restrict__ key, AcceptScratch* __restrict__ scratch) {
  if (threadIdx.x == 0 && blockIdx.x == 0) scratch->rejected = first_rejected(p, q, block, k, n, key);
}

template <int Threads = sample_threads>
__global__ void __launch_bounds__(Threads)
    speculative_chunks(const float* __restrict__ p, float* __restrict__ q, int k, int n,
                       const StepKey* __restrict__ key, AcceptScratch* __restrict__ scratch, int* verdict,
                       int* pending0, int* pending1) {
  __shared__ DrawStorage<Threads> st;
  BlockAll<Threads> all(st.all);
  const WarpChunking ch = WarpChunking::of(n);
  const int c = static_cast<int>(blockIdx.x), begin = ch.begin(c), len = ch.end(c, n) - begin;
  const int i = scratch->rejected;
  const float* pi = p + static_cast<long>(i) * n;
  float* qi = q + static_cast<long>(i < k ? i : 0) * n;  // no draft row k: unused then
  float residual = 0.0f, target = 0.0f;
  int residual_last = -1, target_last = -1;
  for_row<Threads>(pi + begin, len, [&](int j, float pv) {
    target += pv;
    if (pv > 0.0f) target_last = begin + j;  // ids rise within a thread
    if (i == k) return;  // every draft accepted: no residual
    const float r = accept::speculative_residual(pv, qi[begin + j]);
    qi[begin + j] = r;
    residual += r;
    if (r > 0.0f) residual_last = begin + j;
  });
  residual = all.sum(residual);
  residual_last = all.max(residual_last);
  target = all.sum(target);
  target_last = all.max(target_last);
  if (threadIdx.x == 0) {
    scratch->residual_mass[c] = residual;
    scratch->residual_last[c] = residual_last;
    scratch->target_mass[c] = target;
    scratch->target_last[c] = target_last;
  }
  if (!last_to_arrive(&scratch->arrived, &st.flag)) return;
  float mass = 0.0f;
  for (int j = 0; j < ch.chunks; ++j) mass += scratch->residual_mass[j];  // chunk order: the same in every thread
  const bool use_residual = i < k && mass >= accept::SpeculativeSampling::min_residual_mass;
  const float u = step_uniform(key, 0, rng::Purpose::final_sample);
  const int next = use_residual ? draw_chunks(qi, n, ch, scratch->residual_mass, scratch->residual_last, u, st, all)
                                : draw_chunks(pi, n, ch, scratch->target_mass, scratch->target_last, u, st, all);
  if (threadIdx.x == 0) write_verdict(i, next, verdict, pending0, pending1);
}

// accept::SpeculativeSampling::verify on the device. p: the k+1 warped target rows; q: the k warped draft
// rows the drafts block[1..k] were drawn from (row i is overwritten by the residual on rejection). Draws
// use key's seed and position; pending0 may alias block[0]. Rows of one chunk: kernels::speculative_accept
// (one block); longer rows: the two kernels above over the scratch (launch_warp_rows').
template <int Threads = sample_threads>
cudaError_t launch_speculative_accept(const float* p, float* q, const int* block, int k, int n, const StepKey* key,
                                      int* verdict, int* pending0, int* pending1, WarpScratch scratch,
                                      cudaStream_t stream = nullptr) {
  if (k < 0 || n < 1) return cudaErrorInvalidValue;
  const WarpChunking ch = WarpChunking::of(n);
  if (ch.chunks == 1)
    return launch(speculative_accept<Threads>, 1, Threads, 0, stream, p, q, block, k, n, key, verdict, pending0,
                  pending1);
  if (scratch.accept == nullptr) return cudaErrorInvalidValue;
  cudaError_t e = launch(speculative_tests<>, 1, 32, 0, stream, p, static_cast<const float*>(q), block, k, n, key,
                         scratch.accept);
  if (e == cudaSuccess)
    e = launch(speculative_chunks<Threads>, dim3(static_cast<unsigned>(ch.chunks)), Threads, 0, stream, p, q, k, n, key,
               scratch.accept, verdict, pending0, pending1);
  return e;
}

}  // namespace skippy::cuda::kernels
