// accept::Typical against its formula computed in double: d_i is accepted while
// p_i(d_i) > min(eps, delta * exp(-H(p_i))), p_i = softmax(target row i / T); next = argmax of row n.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <skippy/accept/typical.hpp>
#include <skippy/core/error.hpp>
#include <vector>

using namespace skippy;
using accept::Typical;
using accept::TypicalParams;

namespace {

constexpr int vocab = 16;

struct RowStats {
  double p_draft;
  double threshold;
};

RowStats row_stats(const std::vector<float>& row, int draft, const TypicalParams& prm) {
  double mx = -INFINITY;
  for (float l : row) mx = std::max(mx, l / static_cast<double>(prm.temperature));
  std::vector<double> p(row.size());
  double z = 0;
  for (std::size_t i = 0; i < row.size(); ++i)
    z += (p[i] = std::exp(row[i] / static_cast<double>(prm.temperature) - mx));
  double h = 0;
  for (auto& v : p) {
    v /= z;
    if (v > 0) h -= v * std::log(v);
  }
  return {p[static_cast<std::size_t>(draft)], std::min<double>(prm.eps, prm.delta * std::exp(-h))};
}

int first_max(const std::vector<float>& row) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(row.size()); ++i)
    if (row[static_cast<std::size_t>(i)] > row[static_cast<std::size_t>(best)]) best = i;
  return best;
}

// A row whose draft token sits at p = ratio * threshold (ratio slightly above or below 1). `peaked`
// selects the low-entropy regime (threshold = eps) rather than the high-entropy one (delta * e^-H).
std::vector<float> make_row(std::mt19937& rng, int draft, double ratio, bool peaked, const TypicalParams& prm) {
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> row(vocab);
  for (auto& v : row) v = u(rng);
  const int dominant = (draft + 1 + static_cast<int>(rng() % (vocab - 1))) % vocab;
  if (peaked) row[static_cast<std::size_t>(dominant)] = 6.0f * prm.temperature;
  // Bisection on the draft logit for f(l) = p(l) - ratio * threshold(l): f < 0 far left, f > 0 far right.
  auto f = [&](double l) {
    row[static_cast<std::size_t>(draft)] = static_cast<float>(l);
    const RowStats s = row_stats(row, draft, prm);
    return s.p_draft - ratio * s.threshold;
  };
  double lo = -60.0, hi = 60.0;
  REQUIRE(f(lo) < 0);
  REQUIRE(f(hi) > 0);
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    (f(mid) < 0 ? lo : hi) = mid;
  }
  // Keep the float logit on the requested side of the threshold.
  row[static_cast<std::size_t>(draft)] = static_cast<float>(ratio > 1 ? hi : lo);
  const RowStats s = row_stats(row, draft, prm);
  if (ratio > 1)
    REQUIRE(s.p_draft > s.threshold * (1 + 0.5 * (ratio - 1)));
  else
    REQUIRE(s.p_draft < s.threshold * (1 - 0.5 * (1 - ratio)));
  return row;
}

}  // namespace

TEST_CASE("typical_threshold is min(eps, delta * exp(-H))") {
  for (double h : {0.0, 0.1, 1.0, 1.2, 2.5, 10.0})
    for (double eps : {0.09, 0.3, 1.0})
      for (double delta : {0.05, 0.3, 2.0}) {
        const double want = std::min(eps, delta * std::exp(-h));
        CHECK(accept::typical_threshold(static_cast<float>(h), static_cast<float>(eps), static_cast<float>(delta)) ==
              doctest::Approx(want).epsilon(1e-6));
      }
}

TEST_CASE("Typical::verify accepts while p(d) is above the threshold; next is the argmax of row n") {
  std::mt19937 rng(51);
  const TypicalParams param_sets[] = {{1.0f, 0.09f, 0.3f}, {0.7f, 0.2f, 0.5f}, {1.5f, 0.05f, 0.1f}};
  const double margin = 1e-3;  // "just" above / below: far beyond float rounding, far below the spread of p
  int eps_bound = 0, entropy_bound = 0;
  for (const TypicalParams& prm : param_sets) {
    Typical rule(prm, vocab);
    for (int k : {0, 1, 3, 5}) {
      for (int reject_at = 0; reject_at <= k; ++reject_at) {  // reject_at == k: everything accepted
        for (int rep = 0; rep < 4; ++rep) {
          std::vector<float> logits;
          std::vector<int> drafts;
          std::vector<std::vector<float>> rows;
          for (int i = 0; i <= k; ++i) {
            const int d = static_cast<int>(rng() % vocab);
            const bool peaked = (i + rep) % 2 == 0;
            // rows before reject_at: just above; row reject_at: just below; later rows: above again
            const double ratio = (i == reject_at) ? 1 - margin : 1 + margin;
            auto row = make_row(rng, d, ratio, peaked, prm);
            const RowStats s = row_stats(row, d, prm);
            ++(s.threshold < prm.eps ? entropy_bound : eps_bound);
            rows.push_back(row);
            if (i < k) drafts.push_back(d);
            logits.insert(logits.end(), row.begin(), row.end());
          }
          CAPTURE(prm.temperature);
          CAPTURE(k);
          CAPTURE(reject_at);
          const accept::Verdict v = rule.verify(logits.data(), drafts.data(), k, accept::StepContext{});
          const int want_n = std::min(reject_at, k);
          CHECK(v.accepted == want_n);
          CHECK(v.next == first_max(rows[static_cast<std::size_t>(want_n)]));
        }
      }
    }
  }
  // both branches of the min were exercised
  CHECK(eps_bound > 20);
  CHECK(entropy_bound > 20);
}

TEST_CASE("Typical::verify: a certain draft is accepted; next breaks argmax ties to the lowest id") {
  const TypicalParams prm{};
  Typical rule(prm, vocab);
  std::vector<float> logits(2 * vocab, 0.0f);
  logits[5] = 30.0f;         // row 0: token 5 has p ~ 1
  logits[vocab + 9] = 4.0f;  // row 1: tie between 9 and 2 -> 2
  logits[vocab + 2] = 4.0f;
  const int d_ok[] = {5};
  accept::Verdict v = rule.verify(logits.data(), d_ok, 1, {});
  CHECK(v.accepted == 1);
  CHECK(v.next == 2);
  const int d_bad[] = {4};  // p ~ 1e-13
  v = rule.verify(logits.data(), d_bad, 1, {});
  CHECK(v.accepted == 0);
  CHECK(v.next == 5);
}

TEST_CASE("Typical::verify driven directly: a draft outside the vocabulary is an error, not a read past p") {
  Typical rule(TypicalParams{}, vocab);
  const std::vector<float> logits(3 * vocab, 0.0f);
  for (const int bad : {-1, vocab}) {
    const int drafts[] = {0, bad};
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(rule.verify(logits.data(), drafts, 2, {}), doctest::Contains("outside the vocabulary"), Error);
  }
}

TEST_CASE("Typical::verify at a tiny temperature: the argmax draft is certain, any other impossible") {
  Typical rule(TypicalParams{1e-37f, 0.09f, 0.3f}, vocab);  // logit / T would overflow float
  std::mt19937 rng(53);
  std::uniform_real_distribution<float> u(0.0f, 40.0f);
  std::vector<float> logits(3 * vocab);
  for (float& l : logits) l = u(rng);
  logits[7] = 50.0f;              // row 0's argmax
  logits[vocab + 3] = 50.0f;      // row 1's
  logits[2 * vocab + 11] = 45.0f;  // row 2's
  const int argmax_drafts[] = {7, 3};
  accept::Verdict v = rule.verify(logits.data(), argmax_drafts, 2, {});
  CHECK(v.accepted == 2);
  CHECK(v.next == 11);
  const int other[] = {7, 4};
  v = rule.verify(logits.data(), other, 2, {});
  CHECK(v.accepted == 1);
  CHECK(v.next == 3);
}

TEST_CASE("Typical::propose returns the draft argmax") {
  Typical rule(TypicalParams{}, vocab);
  std::mt19937 rng(52);
  std::uniform_int_distribution<int> d(-3, 3);
  for (int t = 0; t < 500; ++t) {
    std::vector<float> row(vocab);
    for (auto& v : row) v = static_cast<float>(d(rng));  // many ties
    CHECK(rule.propose(t % 4, row.data(), accept::StepContext{123u, 7u, 0u}) == first_max(row));
  }
}

TEST_CASE("Typical rejects invalid parameters") {
  CHECK_THROWS_AS(Typical(TypicalParams{0.0f, 0.09f, 0.3f}, vocab), skippy::Error);
  CHECK_THROWS_AS(Typical(TypicalParams{-1.0f, 0.09f, 0.3f}, vocab), skippy::Error);
  CHECK_THROWS_AS(Typical(TypicalParams{NAN, 0.09f, 0.3f}, vocab), skippy::Error);
  CHECK_THROWS_AS(Typical(TypicalParams{1e-39f, 0.09f, 0.3f}, vocab), skippy::Error);  // 1 / T overflows
  CHECK_THROWS_AS(Typical(TypicalParams{1.0f, 0.0f, 0.3f}, vocab), skippy::Error);
  CHECK_THROWS_AS(Typical(TypicalParams{1.0f, 1.5f, 0.3f}, vocab), skippy::Error);
  CHECK_THROWS_AS(Typical(TypicalParams{1.0f, 0.09f, 0.0f}, vocab), skippy::Error);
  CHECK_NOTHROW(Typical(TypicalParams{1.0f, 1.0f, 0.3f}, vocab));
}
