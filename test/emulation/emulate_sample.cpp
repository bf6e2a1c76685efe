// Emulated (test/emulation/README.md): the sampling warp (kernels::warp_rows: temperature, top-k, top-p
// and their ties) against sampling::warp under the GPU test's comparison (test/support/sampling_compare.hpp),
// over small and large vocabularies, flat, tied and peaked rows, and parameters that take each of the
// kernel's ways to its cuts (candidates of a top-k bound, of a top-p bound, too many candidates, no
// bound: k above the threads, or maxima that hold too little mass); and the draft draws of kernels::warp_sample_rows against sampling::sample_categorical
// over the warped rows (the same token, or one at a rounding-close boundary); and kernels::sample_row
// alone over sparse weights against sampling::sample_categorical; and typical acceptance
// (launch_typical_accept) against accept::Typical::verify; and whole speculative-sampling steps
// (draft draws, target warp, kernels::speculative_accept) against accept::SpeculativeSampling. The CUDA test sample_test.cu checks the same on a GPU.

#include <skippy/cuda/kernels/sample.cuh>
#include <skippy/cuda/kernels/warp_chunks.cuh>
#include <skippy/accept/speculative_sampling.hpp>
#include <skippy/accept/typical.hpp>
#include <skippy/sampling/argmax.hpp>
#include <skippy/sampling/categorical.hpp>

#include "../support/sampling_compare.hpp"
#include "check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace skippy;
namespace kernels = skippy::cuda::kernels;

namespace {

constexpr int threads = kernels::sample_threads;

// Capacity: the candidates the kernels may hold (a small one sends more rows to the whole-row search).
// Threads: the blocks' (rows over many blocks take 128: each block is as many host threads).
template <int Capacity = kernels::sample_candidates, int Threads = threads>
void check(int n, bool ties, float scale, const sampling::WarpParams& w) {
  char where[160];
  std::snprintf(where, sizeof where, "n %d%s scale %g T %g top_k %d top_p %g capacity %d threads %d", n,
                ties ? " tied" : "", static_cast<double>(scale), static_cast<double>(w.temperature), w.top_k,
                static_cast<double>(w.top_p), Capacity, Threads);
  const int rows = 2;
  const auto x = test::random_logits(rows, n, ties, static_cast<std::uint32_t>(n + ties + static_cast<int>(scale)), scale);
  std::vector<float> p(x.size()), q(x.size());
  // Rows of more than one chunk spread over blocks that meet in the scratch (the same scratch for both launches).
  std::vector<unsigned char> bytes(kernels::warp_scratch_bytes(n, rows), 0);
  const kernels::WarpScratch scratch = kernels::warp_scratch_at(bytes.data(), n, rows);
  int bad = 0;
  const auto warp_rows = kernels::launch_warp_rows<Threads, Capacity>;
  EXPECT(warp_rows(x.data(), n, rows, w, p.data(), &bad, scratch, nullptr) == cudaSuccess, where);
  EXPECT(bad == 0, where);
  for (int r = 0; r < rows; ++r) {
    const auto c = test::compare_warp(x.data() + static_cast<long>(r) * n, p.data() + static_cast<long>(r) * n, n, w);
    if (!c.ok(w))
      std::printf("  row %d: kept %d, flipped %d (least: %d, allowed %d), differ %d, mass %.7f\n", r, c.kept, c.only,
                  c.flip_least, c.may_flip, c.differ, c.mass);
    EXPECT(c.ok(w), where);
  }
  // The draft draws: the same warp into q, then the draw sampling::sample_categorical makes over it.
  // Into q rows 1.. (first = 1: the sequential drafter's rows), their uniforms' counters first + r.
  const kernels::StepKey key{7, 100, 0};
  std::vector<int> tokens(rows, -1);
  q.resize(x.size() + static_cast<std::size_t>(n));
  const auto warp_sample_rows = kernels::launch_warp_sample_rows<Threads, Capacity>;
  EXPECT(warp_sample_rows(x.data(), n, rows, w, q.data(), 1, &key, tokens.data(), &bad, scratch, nullptr) ==
             cudaSuccess, where);
  EXPECT(std::equal(p.begin(), p.end(), q.begin() + n), where);
  for (int r = 0; r < rows; ++r)  // every launch leaves the arrival counters at zero
    EXPECT(scratch.rows[r].arrived[0] == 0 && scratch.rows[r].arrived[1] == 0, where);
  for (int r = 0; r < rows; ++r) {
    const float u = rng::uniform(key.seed, {static_cast<std::uint32_t>(r + 1), static_cast<std::uint32_t>(key.position),
                                            rng::Purpose::draft_sample, 0u});
    const int want = sampling::sample_categorical(p.data() + static_cast<long>(r) * n, n, u);
    const int got = tokens[static_cast<std::size_t>(r)];
    EXPECT(got == want || test::draws_at_boundary(p.data() + static_cast<long>(r) * n, n, u, got, want), where);
    if (got != want) std::printf("  row %d: drew %d, the host %d (a rounding-close boundary)\n", r, got, want);
  }
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

// sample_row alone over sparse weights (zeros, as top-p leaves), the uniforms' extremes included.
void sample_kernel(const float* w, int n, const float* u, int* out) {
  static kernels::BlockAll<threads>::Storage storage;  // __shared__: one block runs at a time
  kernels::BlockAll<threads> all(storage);
  const int token = kernels::sample_row(w + static_cast<long>(blockIdx.x) * n, n, u[blockIdx.x], all);
  if (threadIdx.x == 0) out[blockIdx.x] = token;
}

void check_draws(int n, int rows) {
  char where[48];
  std::snprintf(where, sizeof where, "draws n %d", n);
  std::mt19937 rng(static_cast<std::uint32_t>(n));
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> w(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n)), u(static_cast<std::size_t>(rows));
  for (float& x : w) x = unit(rng) < 0.3f ? 0.0f : unit(rng);
  for (float& x : u) x = static_cast<float>(static_cast<std::uint32_t>(unit(rng) * 16777216.0f)) / 16777216.0f;
  u[0] = 0.0f;
  u[1] = 16777215.0f / 16777216.0f;  // the extremes of rng::uniform
  // Row 2: zeros but for one weight in the middle; row 3: all zeros (token 0).
  std::fill(w.begin() + 2L * n, w.begin() + 4L * n, 0.0f);
  w[2 * static_cast<std::size_t>(n) + static_cast<std::size_t>(n / 2)] = 0.5f;
  std::vector<int> out(static_cast<std::size_t>(rows), -1);
  EXPECT(emulation::launch(dim3(rows), dim3(threads), sample_kernel, w.data(), n, u.data(), out.data()) == cudaSuccess,
         where);
  int differ = 0;
  for (int r = 0; r < rows; ++r) {
    const float* row = w.data() + static_cast<long>(r) * n;
    const int want = sampling::sample_categorical(row, n, u[static_cast<std::size_t>(r)]);
    const int got = out[static_cast<std::size_t>(r)];
    EXPECT(got >= 0 && got < n, where);
    if (got < 0 || got >= n) continue;
    if (r == 3) continue;  // all zeros: the host says -1, the device 0 (checked below)
    EXPECT(row[got] > 0.0f, where);
    differ += got != want;
    EXPECT(got == want || test::draws_at_boundary(row, n, u[static_cast<std::size_t>(r)], got, want), where);
  }
  EXPECT(out[2] == n / 2 && out[3] == 0, where);
  std::printf("%s: %d of %d draws at rounding-close boundaries, %d failures so far\n", where, differ, rows,
              emulation::failures);
}

// Typical acceptance (launch_typical_accept: a block a draft row, the last to finish writing the verdict) against
// accept::Typical::verify, skipping trials whose decision lies within rounding of the threshold.
void check_typical(int trials, const accept::TypicalParams& params) {
  constexpr int max_k = 4;
  const int n = 200;
  accept::Typical rule(params, n);
  int compared = 0, counts[max_k + 1] = {};
  std::vector<int> tested(max_k, -1);  // the tests and the counter: reused with k varying, as the decoder does
  unsigned arrived = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const int k = max_k - trial % max_k;
    auto [target, block, decidable] = test::typical_trial(trial, k, n, params);
    if (!decidable) continue;
    const accept::Verdict want = rule.verify(target.data(), block.data() + 1, k, {});
    std::vector<int> argmax(k + 1), verdict(2, -1);
    int bad = 0;
    EXPECT(kernels::launch_argmax(target.data(), n, k + 1, argmax.data(), 1, &bad, {}) == cudaSuccess, "typical");
    EXPECT(kernels::launch_typical_accept(target.data(), argmax.data(), block.data(), k, n, params, tested.data(), &arrived,
                                          verdict.data(), block.data(), nullptr) == cudaSuccess, "typical");
    EXPECT(verdict[0] == want.accepted && verdict[1] == want.next, "typical");
    EXPECT(block[0] == want.next, "typical");  // the next step's pending token
    EXPECT(arrived == 0, "typical: the counter left at zero");
    ++counts[want.accepted];
    ++compared;
  }
  // No drafts: the verdict alone (the argmax of row 0), and no scratch needed.
  std::vector<float> one = test::random_logits(1, n, false, 3, 3.0f);
  std::vector<int> block = {5}, argmax(1), verdict(2, -1);
  int bad = 0;
  EXPECT(kernels::launch_argmax(one.data(), n, 1, argmax.data(), 1, &bad, {}) == cudaSuccess, "typical k 0");
  EXPECT(kernels::launch_typical_accept(one.data(), argmax.data(), block.data(), 0, n, params, nullptr, nullptr,
                                        verdict.data(), block.data(), nullptr) == cudaSuccess, "typical k 0");
  EXPECT(verdict[0] == 0 && verdict[1] == sampling::argmax(one.data(), n) && block[0] == verdict[1], "typical k 0");
  EXPECT(kernels::launch_typical_accept(one.data(), argmax.data(), block.data(), 2, n, params, tested.data(), nullptr,
                                        verdict.data(), block.data(), nullptr) == cudaErrorInvalidValue, "typical");
  int seen = 0;
  for (int c : counts) seen += c > 0;
  EXPECT(compared >= trials * 3 / 4 && seen >= 3, "typical: enough decidable trials, varied verdicts");
  std::printf("typical T %g: %d trials compared, accepted counts 0..%d: %d %d %d %d %d, %d failures so far\n",
              static_cast<double>(params.temperature), compared, max_k, counts[0], counts[1], counts[2], counts[3],
              counts[4], emulation::failures);
}

// One step of speculative sampling (draft draws, the target warp, the acceptance kernel) against
// accept::SpeculativeSampling with the same seed and position: drafts, accepted count and next token.
// Float sums in another order may move a draw at a rounding-close boundary: one trial in the lot may differ.
// Blocks of 128 threads (another instantiation, and a quarter of the host threads).
void check_speculative(int trials, int n) {
  constexpr int threads = 128;
  const int k = 3;
  for (const sampling::WarpParams& w : {sampling::WarpParams{1.0f, 0, 1.0f}, sampling::WarpParams{0.8f, 20, 0.9f}}) {
    int differ = 0, counts[k + 1] = {};
    for (int trial = 0; trial < trials; ++trial) {
      const auto draft = test::random_logits(k, n, false, static_cast<std::uint32_t>(1000 + trial));
      auto target = test::random_logits(k + 1, n, false, static_cast<std::uint32_t>(5000 + trial), 0.7f);
      for (std::size_t i = 0; i < draft.size(); ++i) target[i] += draft[i];  // drafts often, not always, accepted
      const auto seed = static_cast<std::uint64_t>(trial) * 7919u;
      accept::SpeculativeSampling rule({w}, n);
      const accept::StepContext ctx{seed, 17u, 0u};
      std::vector<int> want_drafts;
      for (int i = 0; i < k; ++i) want_drafts.push_back(rule.propose(i, draft.data() + static_cast<long>(i) * n, ctx));
      const accept::Verdict want = rule.verify(target.data(), want_drafts.data(), k, ctx);
      std::vector<float> p(static_cast<std::size_t>(k + 1) * n), q(static_cast<std::size_t>(k) * n);
      std::vector<int> state(4 + k + 1, 0);  // verdict n, next, bad, pad | x_t d_1..d_k
      const kernels::StepKey key{seed, 17, 0};
      int* st = state.data();
      std::vector<unsigned char> bytes(kernels::warp_scratch_bytes(n, k + 1), 0);
      const kernels::WarpScratch scratch = kernels::warp_scratch_at(bytes.data(), n, k + 1);
      const auto warp_sample_rows = kernels::launch_warp_sample_rows<threads>;
      const auto warp_rows = kernels::launch_warp_rows<threads>;
      EXPECT(warp_sample_rows(draft.data(), n, k, w, q.data(), 0, &key, st + 5, st + 2, scratch, nullptr) ==
                 cudaSuccess, "speculative");
      EXPECT(warp_rows(target.data(), n, k + 1, w, p.data(), st + 2, scratch, nullptr) == cudaSuccess, "speculative");
      EXPECT(kernels::launch_speculative_accept<threads>(p.data(), q.data(), st + 4, k, n, &key, st, st + 4, nullptr,
                                                         scratch, nullptr) == cudaSuccess, "speculative");
      EXPECT(scratch.accept->arrived == 0, "speculative: the counter left at zero");
      EXPECT(state[2] == 0, "speculative");
      const std::vector<int> got_drafts(state.begin() + 5, state.end());
      differ += got_drafts != want_drafts || state[0] != want.accepted || state[1] != want.next;
      ++counts[want.accepted];
    }
    int seen = 0;
    for (int c : counts) seen += c > 0;
    EXPECT(differ <= 1, "speculative: one trial at most at a rounding-close boundary");
    EXPECT(seen >= 3, "speculative: varied accepted counts");
    std::printf("speculative n %d T %g top_k %d: %d of %d trials differ, accepted counts %d %d %d %d, "
                "%d failures so far\n", n, static_cast<double>(w.temperature), w.top_k, differ, trials, counts[0],
                counts[1], counts[2], counts[3], emulation::failures);
  }
}

}  // namespace

int main() {
  check_speculative(24, 96);
  check_speculative(12, 9000);  // rows of 3 chunks; 12 trials (every block of each launch is emulated)
  check_typical(24, {0.8f, 0.09f, 0.3f});
  check_typical(24, {1e-37f, 0.09f, 0.3f});  // logit / T would overflow: one-hot rows
  for (const int n : {7, 513, 32000}) check_draws(n, 40);
  // One block a row (a row of one chunk: warp_rows / warp_sample_rows) and rows over several blocks
  // (kernels/warp_chunks.cuh; blocks of 128 threads but for one case).
  for (const auto& w : test::warp_grid()) {
    check(1000, true, 2.0f, w);
    check(1000, false, 2.0f, w);
    check<64>(1000, true, 2.0f, w);  // tied: 136-291 candidates, too many for 64
    check(1001, false, 2.0f, w);     // row 1 not 16-byte aligned, row 0 with a tail
    check<kernels::sample_candidates, 128>(32000, false, 2.0f, w);  // 8 chunks
    check<kernels::sample_candidates, 128>(32000, false, 6.0f, w);  // peaked: few tokens hold most of the mass
    check<64, 128>(20001, true, 2.0f, w);  // 5 chunks, the last short, rows not aligned, ties across chunks
  }
  // Temperatures where logit / T overflows float: one-hot rows, or even over tied maxima (across chunks).
  for (const auto& w : test::tiny_temperature_warps()) {
    check(1000, true, 2.0f, w);
    check(1000, false, 2.0f, w);
    check<kernels::sample_candidates, 128>(32000, false, 2.0f, w);
    check<64, 128>(20001, true, 2.0f, w);
  }
  check(32000, false, 6.0f, sampling::WarpParams{0.8f, 40, 0.95f});  // the library's blocks
  // The most chunks (64), each longer than warp_chunk.
  // (Top-p alone over peaked rows, the candidates without top-k's count, is the grid's 32000-wide case.)
  check<kernels::sample_candidates, 128>(300000, false, 6.0f, sampling::WarpParams{0.8f, 40, 0.95f});
  std::printf("emulate_sample: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
