// Speculative sampling is lossless: every emitted token has exactly the (warped) target distribution
// given its prefix. Checked with >= 10^6 steps on a synthetic Markov target p and prefix-free drafts q.

#include <doctest/doctest.h>

#include <skippy/accept/speculative_sampling.hpp>

#include <array>
#include <cmath>
#include <vector>

using namespace skippy;

namespace {

constexpr int V = 6;  // vocabulary
constexpr int K = 3;  // drafts per step
constexpr int trials = 1'000'000;

using Row = std::array<float, V>;

// Logits of the synthetic target: p(. | previous token a), and of the drafts: q_i(.), i = 0..K-1.
// Rows are built from a fixed pattern so every probability is at least a few percent.
Row target_logits(int a) {
  Row r{};
  for (int b = 0; b < V; ++b) r[static_cast<std::size_t>(b)] = 0.9f * std::sin(1.7f * static_cast<float>(a * V + b) + 0.3f);
  return r;
}
Row draft_logits(int i) {
  Row r{};
  for (int b = 0; b < V; ++b) r[static_cast<std::size_t>(b)] = 0.8f * std::cos(2.3f * static_cast<float>(i * V + b) + 1.1f);
  return r;
}

Row warped(const Row& logits, const sampling::WarpParams& w) {
  Row p{};
  std::vector<int> order;
  sampling::warp(logits.data(), p.data(), V, w, order);
  return p;
}

struct Counts {
  // counts[j][a][b]: emitted position j (0 = first token of the step), previous token a, token b
  std::array<std::array<std::array<long, V>, V>, K + 1> c{};
  long invalid = 0;  // verdicts with an accepted count or token out of range
};

Counts simulate(const sampling::WarpParams& w, std::vector<int>* accepted_hist) {
  accept::SpeculativeSampling rule({w}, V);
  const int x_t = 2;
  std::vector<float> target((K + 1) * V);
  std::array<Row, K> q_rows;
  for (int i = 0; i < K; ++i) q_rows[static_cast<std::size_t>(i)] = draft_logits(i);
  Counts out;
  for (int trial = 0; trial < trials; ++trial) {
    const accept::StepContext ctx{0x5eedULL + static_cast<std::uint64_t>(trial) * 0x9E3779B97F4A7C15ULL,
                                  static_cast<std::uint32_t>(trial), 0};
    int drafts[K];
    int prev = x_t;
    for (int i = 0; i < K; ++i) drafts[i] = rule.propose(i, q_rows[static_cast<std::size_t>(i)].data(), ctx);
    for (int i = 0; i <= K; ++i) {
      const Row row = target_logits(i == 0 ? x_t : drafts[i - 1]);
      std::copy(row.begin(), row.end(), target.begin() + i * V);
    }
    const accept::Verdict v = rule.verify(target.data(), drafts, K, ctx);
    if (v.accepted < 0 || v.accepted > K) {
      ++out.invalid;
      continue;
    }
    if (accepted_hist) (*accepted_hist)[static_cast<std::size_t>(v.accepted)] += 1;
    for (int j = 0; j <= v.accepted; ++j) {
      const int tok = j < v.accepted ? drafts[j] : v.next;
      if (tok < 0 || tok >= V) {
        ++out.invalid;
        break;
      }
      out.c[static_cast<std::size_t>(j)][static_cast<std::size_t>(prev)][static_cast<std::size_t>(tok)] += 1;
      prev = tok;
    }
  }
  return out;
}

// Pearson chi-square of every (position, previous token) group with enough samples against p(.|a),
// summed; returns the standardised statistic (chi2 - df) / sqrt(2 df).
double standardised_chi2(const Counts& counts, const sampling::WarpParams& w, int* groups) {
  double chi2 = 0;
  int df = 0;
  *groups = 0;
  for (int j = 0; j <= K; ++j)
    for (int a = 0; a < V; ++a) {
      const auto& cnt = counts.c[static_cast<std::size_t>(j)][static_cast<std::size_t>(a)];
      long n = 0;
      for (long x : cnt) n += x;
      if (n < 2000) continue;
      const Row p = warped(target_logits(a), w);
      int cells = 0;
      for (int b = 0; b < V; ++b) {
        const double e = static_cast<double>(n) * p[static_cast<std::size_t>(b)];
        if (e == 0) {
          REQUIRE(cnt[static_cast<std::size_t>(b)] == 0);  // a warped-out token is never emitted
          continue;
        }
        const double d = static_cast<double>(cnt[static_cast<std::size_t>(b)]) - e;
        chi2 += d * d / e;
        ++cells;
      }
      df += cells - 1;
      ++*groups;
    }
  return (chi2 - df) / std::sqrt(2.0 * df);
}

// Non-centrality N * sum (r - p)^2 / p that a rule resampling from p instead of normalize(max(0, p - q))
// would add at the first position: the test's power against a wrong residual.
double wrong_residual_noncentrality(const sampling::WarpParams& w) {
  const Row p = warped(target_logits(2), w), q = warped(draft_logits(0), w);
  double beta = 0;
  for (int b = 0; b < V; ++b) beta += std::fmin(p[static_cast<std::size_t>(b)], q[static_cast<std::size_t>(b)]);
  double nc = 0;
  for (int b = 0; b < V; ++b) {
    const auto i = static_cast<std::size_t>(b);
    if (p[i] == 0) continue;
    const double wrong = std::fmin(p[i], q[i]) + (1 - beta) * p[i];
    nc += (wrong - p[i]) * (wrong - p[i]) / p[i];
  }
  return nc * trials;
}

// Standardised threshold: a correct rule exceeds it with probability ~1e-6 (seeds are fixed, so the
// test is deterministic); a wrong residual lands orders of magnitude above it.
constexpr double threshold = 5.0;

}  // namespace

TEST_CASE("speculative sampling reproduces the target distribution (temperature 1)") {
  const sampling::WarpParams w{};
  std::vector<int> hist(K + 1);
  int groups = 0;
  const Counts counts = simulate(w, &hist);
  CHECK(counts.invalid == 0);
  const double z = standardised_chi2(counts, w, &groups);
  MESSAGE("speculative sampling, T=1: ", trials, " steps, ", groups, " groups, standardised chi-square ", z,
          " (threshold ", threshold, "), wrong-residual non-centrality ", wrong_residual_noncentrality(w));
  CHECK(groups >= 10);
  CHECK(z < threshold);
  CHECK(wrong_residual_noncentrality(w) > 100 * threshold);
  for (int n = 0; n <= K; ++n) CHECK(hist[static_cast<std::size_t>(n)] > 1000);  // every path is taken
}

TEST_CASE("speculative sampling reproduces the warped target distribution (temperature, top-k, top-p)") {
  sampling::WarpParams w;
  w.temperature = 0.7f;
  w.top_k = 5;
  w.top_p = 0.9f;
  std::vector<int> hist(K + 1);
  int groups = 0;
  const Counts counts = simulate(w, &hist);
  CHECK(counts.invalid == 0);
  const double z = standardised_chi2(counts, w, &groups);
  MESSAGE("speculative sampling, T=0.7 top-k 5 top-p 0.9: standardised chi-square ", z, " over ", groups, " groups");
  CHECK(groups >= 10);
  CHECK(z < threshold);
  CHECK(wrong_residual_noncentrality(w) > 100 * threshold);
}

TEST_CASE("speculative sampling at temperature 0 is greedy") {
  accept::SpeculativeSampling rule({sampling::WarpParams{0.0f, 0, 1.0f}}, V);
  const Row q = draft_logits(0);
  const accept::StepContext ctx{1, 0, 0};
  const int d = rule.propose(0, q.data(), ctx);
  CHECK(d == sampling::argmax(q.data(), V));
  std::vector<float> target(2 * V);
  const Row t0 = target_logits(0), t1 = target_logits(d);
  std::copy(t0.begin(), t0.end(), target.begin());
  std::copy(t1.begin(), t1.end(), target.begin() + V);
  const accept::Verdict v = rule.verify(target.data(), &d, 1, ctx);
  const int best = sampling::argmax(t0.data(), V);
  CHECK(v.accepted == (d == best ? 1 : 0));
  CHECK(v.next == (d == best ? sampling::argmax(t1.data(), V) : best));
}

// p and q equal but for a residual of rounding size (README §1): a rejection samples from p, not from a
// residual that is noise. The rejection needs an accept-test uniform within ~5e-7 of 1: the test looks for
// a position that draws one (a few million Philox draws).
TEST_CASE("speculative sampling: a rejection whose residual mass is below min_residual_mass samples from p") {
  constexpr int n = 4;
  const float draft[n] = {0, 0, 0, 0}, target[n] = {0, 0, 0, 2e-6f};
  std::vector<float> p(n), q(n);
  std::vector<int> order;
  const sampling::WarpParams w{1.0f, 0, 1.0f};
  sampling::warp(draft, q.data(), n, w, order);
  sampling::warp(target, p.data(), n, w, order);
  float mass = 0.0f;
  for (int v = 0; v < n; ++v) mass += accept::speculative_residual(p[v], q[v]);
  REQUIRE(mass > 0.0f);
  REQUIRE(mass < accept::SpeculativeSampling::min_residual_mass);
  REQUIRE(p[0] < q[0]);  // token 0 can be rejected, rarely
  const std::uint64_t seed = 5;
  std::uint32_t at = 0;
  bool found = false;
  for (; at < (1u << 28) && !found; ++at) {
    const float u = rng::uniform(seed, {0u, at, rng::Purpose::accept_test, 0u});
    const float u_final = rng::uniform(seed, {0u, at, rng::Purpose::final_sample, 0u});
    // rejected, and the final draw lands on a token the residual (all on token 3) would never give
    found = !accept::speculative_accepts(u, p[0], q[0]) && sampling::sample_categorical(p.data(), n, u_final) != 3;
  }
  REQUIRE(found);
  const std::uint32_t position = at - 1;
  accept::SpeculativeSampling rule({w}, n);
  const accept::StepContext ctx{seed, position, 0};
  (void)rule.propose(0, draft, ctx);  // fills the draft row's q
  const int d = 0;
  const accept::Verdict v = rule.verify(target, &d, 1, ctx);
  CHECK(v.accepted == 0);
  const float u_final = rng::uniform(seed, {0u, position, rng::Purpose::final_sample, 0u});
  CHECK(v.next == sampling::sample_categorical(p.data(), n, u_final));
  CHECK(v.next != 3);
}

TEST_CASE("speculative sampling rejects invalid warp parameters") {
  CHECK_THROWS_AS(accept::SpeculativeSampling({sampling::WarpParams{-1.0f, 0, 1.0f}}, V), Error);
  CHECK_THROWS_AS(accept::SpeculativeSampling({sampling::WarpParams{1.0f, 0, 0.0f}}, V), Error);
  CHECK_THROWS_AS(accept::SpeculativeSampling({sampling::WarpParams{1.0f, -2, 1.0f}}, V), Error);
}

TEST_CASE("speculative sampling driven directly: verify needs this step's proposals and in-vocabulary drafts") {
  const std::vector<float> draft(V * K, 0.5f), target(V * (K + 1), 0.25f);
  accept::SpeculativeSampling rule({sampling::WarpParams{1.0f, 0, 1.0f}}, V);
  const accept::StepContext ctx{11, 3, 0};
  const int drafts[K] = {1, 2, 3};
  // No q yet: verify would read distributions propose never wrote.
  CHECK_THROWS_WITH_AS(rule.verify(target.data(), drafts, 1, ctx), doctest::Contains("after 0 proposed this step"),
                       Error);
  CHECK(rule.verify(target.data(), drafts, 0, ctx).accepted == 0);  // no drafts: only the bonus token
  for (int i = 0; i < 2; ++i) (void)rule.propose(i, draft.data() + i * V, ctx);
  CHECK_THROWS_WITH_AS(rule.verify(target.data(), drafts, 3, ctx), doctest::Contains("verify of 3 drafts after 2"),
                       Error);
  CHECK_THROWS_WITH_AS(rule.propose(3, draft.data(), ctx), doctest::Contains("propose(3) after 2 drafts"), Error);
  for (int i = 0; i < K; ++i) (void)rule.propose(i, draft.data() + i * V, ctx);
  const int outside[K] = {1, V, 0};
  CHECK_THROWS_WITH_AS(rule.verify(target.data(), outside, K, ctx),
                       doctest::Contains("token id 6 for draft 2, outside the vocabulary [0, 6)"), Error);
  // A verify ends its step: the next one must propose again.
  for (int i = 0; i < K; ++i) (void)rule.propose(i, draft.data() + i * V, ctx);
  const accept::Verdict v = rule.verify(target.data(), drafts, K, ctx);
  CHECK((v.accepted >= 0 && v.accepted <= K));
  CHECK_THROWS_AS(rule.verify(target.data(), drafts, 1, ctx), Error);
  // Greedy (temperature 0) keeps no q: its verify compares ids only.
  accept::SpeculativeSampling greedy({sampling::WarpParams{0.0f, 0, 1.0f}}, V);
  CHECK_NOTHROW(greedy.verify(target.data(), drafts, K, ctx));
}
