// The speed-up model: hand-computed cases, a Monte-Carlo simulation of the acceptance process,
// calibration from runs, and the choice of the best configuration (also at compile time).

#include <doctest/doctest.h>

#include <skippy/theory/speedup.hpp>

#include <cmath>
#include <tuple>

#include "../support/models.hpp"

using namespace skippy;
using namespace skippy::theory;

TEST_CASE("expected tau and the improvement factor on hand-computed cases") {
  CHECK(expected_tau(Acceptance{{}, 0}) == 1.0);
  CHECK(expected_tau(Acceptance{{1, 1, 1}, 3}) == 4.0);
  CHECK(expected_tau(Acceptance{{0.5, 0.5}, 2}) == doctest::Approx(1.75));
  CHECK(expected_tau(Acceptance{{0.8, 0.5, 0.25}, 3}) == doctest::Approx(1 + 0.8 + 0.4 + 0.1));
  CHECK(expected_tau(Acceptance{{0.0, 1.0, 1.0}, 3}) == 1.0);  // nothing past a certain rejection
  CHECK(improvement_factor(2.0, 1.0, 0.5, 1.0) == doctest::Approx(2.0 / 1.5));
  // 8 layers, skip [2, 6): the kept half is read once (simultaneous) or K times (sequential).
  CHECK(draft_fraction(8, 2, 6, 4, DraftMode::simultaneous) == doctest::Approx(0.5));
  CHECK(draft_fraction(8, 2, 6, 4, DraftMode::sequential) == doctest::Approx(2.0));
  CHECK(draft_fraction(8, 2, 6, 4, DraftMode::none) == 0.0);
  // With a head that is 20% of a pass's bytes: 0.2 + 0.8 * 0.5.
  CHECK(draft_fraction(8, 2, 6, 1, DraftMode::simultaneous, 0.2) == doctest::Approx(0.6));
  const Acceptance a{{0.9, 0.8, 0.7, 0.6}, 4};
  CHECK(predicted_speedup<SkipRange<2, 6>, Simultaneous<4>>(a, 8) == doctest::Approx(expected_tau(a) / 1.5));
  CHECK(predicted_speedup<SkipRange<2, 6>, Sequential<4>>(a, 8) == doctest::Approx(expected_tau(a) / 3.0));
}

TEST_CASE("expected tau matches a Monte-Carlo simulation of the acceptance process") {
  const Acceptance a{{0.85, 0.6, 0.45, 0.3, 0.2}, 5};
  const int trials = 200000;
  double sum = 0, sum_sq = 0;
  for (int t = 0; t < trials; ++t) {
    int n = 0;
    while (n < a.k && rng::uniform(99, {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(t),
                                        rng::Purpose::accept_test, 0}) < a.a[static_cast<std::size_t>(n)])
      ++n;
    sum += n + 1;
    sum_sq += (n + 1) * (n + 1);
  }
  const double mean = sum / trials, sd = std::sqrt(sum_sq / trials - mean * mean);
  CHECK(std::fabs(mean - expected_tau(a)) < 5 * sd / std::sqrt(static_cast<double>(trials)));
}

TEST_CASE("calibration recovers known acceptance rates from synthetic runs") {
  const Acceptance truth{{0.9, 0.7, 0.5, 0.3}, 4};
  DecodeStats s;
  for (int step = 0; step < 100000; ++step) {
    int n = 0;
    while (n < truth.k && rng::uniform(5, {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(step),
                                           rng::Purpose::accept_test, 0}) < truth.a[static_cast<std::size_t>(n)])
      ++n;
    // The decoder's bookkeeping: positions 0..min(n, K-1) reached, 0..n-1 accepted.
    for (int i = 0; i < truth.k && i <= n; ++i) {
      s.reached[static_cast<std::size_t>(i)] += 1;
      if (i < n) s.accepted_at[static_cast<std::size_t>(i)] += 1;
    }
  }
  const Acceptance got = calibrate(s, 4);
  for (int i = 0; i < 4; ++i) CHECK(got.a[static_cast<std::size_t>(i)] == doctest::Approx(truth.a[static_cast<std::size_t>(i)]).epsilon(0.02));
}

namespace {
constexpr Acceptance deep{{0.6, 0.4, 0.2, 0.1}, 4};     // acceptance of a deep skip
constexpr Acceptance shallow{{0.95, 0.9, 0.8, 0.7}, 4};  // acceptance of a shallow skip
using Candidates = std::tuple<theory::Config<SkipRange<1, 7>, Simultaneous<4>>, theory::Config<SkipRange<3, 5>, Simultaneous<4>>>;
constexpr std::array<Candidate, 2> table{std::tuple_element_t<0, Candidates>::candidate(deep),
                                         std::tuple_element_t<1, Candidates>::candidate(shallow)};
using Best = std::tuple_element_t<best_index(table, 8), Candidates>;
// The shallow skip wins: IF = 3.97 / 1.75 = 2.27 against 1.89 / 1.25 = 1.51.
static_assert(std::is_same_v<Best::skip, SkipRange<3, 5>>, "the theory selects the configuration as a type");

// Autoregressive decoding among the candidates is worth exactly 1, whatever acceptance it is given: with
// IF(S3D) = 1.68 / 1.5 = 1.12, S3D wins (AR used to score E[tau] of the acceptance, 1.68, and won).
constexpr Acceptance modest{{0.5, 0.3, 0.2, 0.1}, 4};
using WithAr =
    std::tuple<theory::Config<SkipRange<0, 0>, Autoregressive>, theory::Config<SkipRange<2, 6>, Simultaneous<4>>>;
constexpr std::array<Candidate, 2> with_ar{std::tuple_element_t<0, WithAr>::candidate(modest),
                                           std::tuple_element_t<1, WithAr>::candidate(modest)};
static_assert(best_index(with_ar, 8) == 1, "S3D at IF 1.12 beats autoregressive decoding at 1");
static_assert(predicted_speedup<SkipRange<0, 0>, Autoregressive>(modest, 8) == 1.0, "no drafts: exactly 1");
}  // namespace

TEST_CASE("the typed model uses the type's K, and bad inputs are errors") {
  const Acceptance a{{0.9, 0.8, 0.7, 0.6}, 4};
  const Acceptance first_two{{0.9, 0.8}, 2};
  CHECK(predicted_speedup<SkipRange<2, 6>, Simultaneous<2>>(a, 8) == doctest::Approx(expected_tau(first_two) / 1.5));
  CHECK(predicted_speedup<SkipRange<2, 6>, Sequential<2>>(a, 8) == doctest::Approx(expected_tau(first_two) / 2.0));
  CHECK(Config<SkipRange<2, 6>, Sequential<2>>::candidate(a).acceptance.k == 2);
  CHECK_THROWS_WITH_AS((predicted_speedup<SkipRange<2, 6>, Sequential<4>>(first_two, 8)),
                       doctest::Contains("an acceptance of 2 positions for a predictor with K = 4"), Error);
  CHECK(predicted_speedup<SkipRange<0, 0>, Autoregressive>(a, 8) == 1.0);
  CHECK_THROWS_WITH_AS(draft_fraction(8, 6, 2, 4, DraftMode::simultaneous), doctest::Contains("skip range [6, 2)"),
                       Error);
  CHECK_THROWS_AS(draft_fraction(8, 0, 10, 4, DraftMode::simultaneous), Error);
  CHECK_THROWS_AS(draft_fraction(0, 0, 0, 4, DraftMode::simultaneous), Error);
  CHECK_THROWS_AS(draft_fraction(8, 2, 6, 4, DraftMode::simultaneous, 1.5), Error);
  CHECK_THROWS_WITH_AS(expected_tau(Acceptance{{}, 33}), doctest::Contains("K = 33 outside [0, 32]"), Error);
  CHECK_THROWS_AS(expected_tau(Acceptance{{}, -1}), Error);
  // Acceptances must be probabilities (a NaN or 1.5 used to give a tau past K + 1 or NaN), K in range, and a
  // config must have heads (head_fraction divided by 0).
  CHECK_THROWS_WITH_AS(expected_tau(Acceptance{{0.9, 1.5}, 2}), doctest::Contains("draft position 2 is 1.5"), Error);
  CHECK_THROWS_WITH_AS(expected_tau(Acceptance{{std::nan("")}, 1}), doctest::Contains("not a probability"), Error);
  CHECK_THROWS_WITH_AS(calibrate(DecodeStats{}, -1), doctest::Contains("calibrate: K = -1"), Error);
  ModelConfig c = test::tiny_config();
  c.n_heads = 0;
  CHECK_THROWS_WITH_AS(head_fraction(c), doctest::Contains("heads > 0"), Error);
}

TEST_CASE("the configuration the theory picks from calibrated runs is the best under the byte cost model") {
  // Calibrate each configuration on the damped test model, pick by predicted IF, and compare with the
  // IF measured in weight bytes: tokens emitted per full-pass-equivalent of weight bytes read.
  const auto hm = HostModel<quant::F32>::from_float(test::damped_weights(31));
  GenerateOptions o;
  o.max_new_tokens = 96;
  const std::vector<int> prompt = {4, 8, 15, 16, 23, 42};
  std::vector<double> predicted, measured;
  auto run = [&](auto dec_tag) {
    using Dec = typename decltype(dec_tag)::type;
    Dec dec(hm.view(), 128, {});
    dec.generate(prompt, o);
    const DecodeStats& s = dec.stats();
    using Skip = typename Dec::skip_type;
    using Pred = typename Dec::predictor_type;
    predicted.push_back(predicted_speedup<Skip, Pred>(calibrate(s, Dec::K), 4));
    const double c = draft_fraction(4, Skip::begin, Skip::end, 1, Pred::mode);
    // Bytes read, in full passes: one verify per step plus one draft pass (simultaneous) or one per draft.
    const double passes = static_cast<double>(s.steps) +
                          c * static_cast<double>(Pred::mode == DraftMode::simultaneous ? s.steps : s.drafted);
    measured.push_back(static_cast<double>(s.emitted) / passes);
  };
  using M = ModelView<quant::F32>;
  run(std::common_type<host::Decoder<M, SkipRange<1, 3>, Sequential<2>, accept::Greedy>>{});
  run(std::common_type<host::Decoder<M, SkipRange<1, 3>, Sequential<4>, accept::Greedy>>{});
  run(std::common_type<host::Decoder<M, SkipRange<1, 2>, Sequential<3>, accept::Greedy>>{});
  run(std::common_type<host::Decoder<M, SkipRange<2, 4>, Sequential<2>, accept::Greedy>>{});
  run(std::common_type<host::Decoder<M, SkipRange<1, 3>, Simultaneous<2>, accept::Greedy>>{});
  const auto argmax = [](const std::vector<double>& v) {
    return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
  };
  for (std::size_t i = 0; i < predicted.size(); ++i)
    MESSAGE("config ", i, ": predicted IF ", predicted[i], ", measured (bytes) ", measured[i]);
  CHECK(argmax(predicted) == argmax(measured));
}
