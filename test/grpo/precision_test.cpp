// GRPO at the edges of float: group sums accumulate in double, beta is checked after its conversion to the
// kernels' type, the mirror-ascent exponent is computed in double (an overflow there is an error), and the
// helpers reject counts, alpha and trainer settings that would give silent garbage.

#include <doctest/doctest.h>

#include <skippy/grpo/grpo.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace skippy;
using namespace skippy::grpo;

namespace {

std::string message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Whether fn throws an Error holding needle; prints the message it got otherwise (an INFO here would be
// gone by the time the caller's CHECK fails).
bool has(const std::function<void()>& fn, const std::string& needle) {
  const std::string m = message(fn);
  const bool found = m.find(needle) != std::string::npos;
  if (!found) MESSAGE("wanted \"", needle, "\", got: ", m);
  return found;
}

}  // namespace

TEST_CASE("grpo: float group sums are accumulated in double") {
  SUBCASE("small losses after a large one are not absorbed") {
    // A float running sum keeps 10000: each 1e-4 is below half an ulp of 1e4.
    std::vector<float> loss(100001, 1e-4f);
    loss[0] = 1e4f;
    const std::vector<int> group(loss.size(), 0);
    std::vector<float> sum(1), mean(1);
    std::vector<int> count(1);
    group_reduce(Span<const int>(group), Span<const float>(loss), 1, Span<float>(sum), Span<int>(count),
                 Span<float>(mean));
    const double want = 1e4 + 1e5 * static_cast<double>(1e-4f);
    CHECK(count[0] == 100001);
    CHECK(sum[0] == doctest::Approx(want).epsilon(1e-6));
    CHECK(mean[0] == doctest::Approx(want / 100001.0).epsilon(1e-6));
  }
  SUBCASE("millions of equal losses") {
    // 4e6 x 0.1f drifts by about 0.5% in a float running sum.
    const std::size_t n = 4000000;
    const std::vector<float> loss(n, 0.1f);
    std::vector<int> group(n);
    for (std::size_t i = 0; i < n; ++i) group[i] = static_cast<int>(i % 2);
    std::vector<float> sum(2), mean(2);
    std::vector<int> count(2);
    group_reduce(Span<const int>(group), Span<const float>(loss), 2, Span<float>(sum), Span<int>(count),
                 Span<float>(mean));
    for (std::size_t g = 0; g < 2; ++g) {
      CHECK(count[g] == 2000000);
      CHECK(sum[g] == doctest::Approx(2e6 * static_cast<double>(0.1f)).epsilon(1e-6));
      CHECK(mean[g] == doctest::Approx(static_cast<double>(0.1f)).epsilon(1e-6));
    }
  }
}

TEST_CASE("grpo: beta is checked in the kernels' type") {
  const std::vector<float> pc{-1.0f, -2.0f}, pr{-2.0f, -1.5f}, rc{-1.5f, -1.5f}, rr{-1.5f, -1.5f};
  const std::vector<int> group{0, 1};
  const PreferenceBatch<float> b{pc, pr, rc, rr, group};
  GroupState<float> s(2);
  ObjectiveParams<UniformWeights> p;
  p.loss.beta = 1e-50;  // 0 as a float: DPO's gradient would vanish
  CHECK(has([&] { step<DpoMethod>(b, p, s); }, "beta = 1e-50 does not fit float"));
  p.loss.beta = 1e39;  // inf as a float
  CHECK(has([&] { step<DpoMethod>(b, p, s); }, "does not fit float"));
  p.loss.beta = 1e-39;  // a float denormal: 1/(2 beta) overflows
  CHECK(has([&] { step<IpoMethod>(b, p, s); }, "does not fit float"));
  std::vector<float> margin(2), loss(2);
  CHECK(has([&] { sample_losses<Dpo>(b, 2, 1e-50, Span<float>(margin), Span<float>(loss)); }, "does not fit float"));
  // The same beta is fine in double, and so is the step.
  const std::vector<double> pcd(pc.begin(), pc.end()), prd(pr.begin(), pr.end()), rcd(rc.begin(), rc.end()),
      rrd(rr.begin(), rr.end());
  GroupState<double> sd(2);
  p.loss.beta = 1e-39;
  const auto r = step<IpoMethod>(PreferenceBatch<double>{pcd, prd, rcd, rrd, group}, p, sd);
  CHECK(std::isfinite(r.objective));
  p.loss.beta = 1e-320;  // a double denormal: 1/(2 beta) overflows
  CHECK(has([&] { step<IpoMethod>(PreferenceBatch<double>{pcd, prd, rcd, rrd, group}, p, sd); }, "1/(2 beta)"));
  // The device entry points take beta as Real and check it the same way.
  CHECK(has([] { grpo::detail::check_beta(1e-39f); }, "beta must be positive and finite, with 1/(2 beta) and its"));
  // 1/(2 beta) fits, its square (IPO's loss) does not: beta is named, not the sample's loss.
  p.loss.beta = 1e-20;
  CHECK(has([&] { step<IpoMethod>(b, p, s); }, "beta = 1e-20 does not fit float"));
  CHECK(has([] { grpo::detail::check_beta(1e-20f); }, "1/(2 beta) and its square finite, got 1e-20"));
  CHECK_NOTHROW(grpo::detail::check_beta(1e-18f));
}

TEST_CASE("grpo: a margin or loss that overflows the kernels' type names its sample") {
  // Finite float log-probabilities: sample 1's h = (-3e38 - 0) - (3e38 - 0) overflows; IPO's (h - 5)^2 with
  // h = 1e20 overflows although h does not.
  const std::vector<float> pc{-1.0f, -3e38f, 1e20f}, pr{-2.0f, 3e38f, 0.0f}, rc{-1.5f, 0.0f, 0.0f},
      rr{-1.5f, 0.0f, 0.0f};
  const std::vector<int> group{0, 1, 1};
  const PreferenceBatch<float> b{pc, pr, rc, rr, group};
  std::vector<float> margin(3), loss(3);
  const auto run = [&](const PreferenceBatch<float>& batch, auto loss_policy) {
    using Loss = decltype(loss_policy);
    sample_losses<Loss>(batch, 2, 0.1, Span<float>(margin), Span<float>(loss));
  };
  CHECK(has([&] { run(b, Dpo{}); }, "the margin or loss of sample 1 is not finite in float (h = -inf"));
  const std::vector<float> pc2{-1.0f, -1.0f, 1e20f}, pr2{-2.0f, -2.0f, 0.0f};
  const PreferenceBatch<float> b2{pc2, pr2, rc, rr, group};
  CHECK(has([&] { run(b2, Ipo{}); }, "the margin or loss of sample 2 is not finite in float (h = 1e+20, loss inf"));
  CHECK_NOTHROW(run(b2, Dpo{}));  // DPO's loss of h = 1e20 is 0: finite
  GroupState<float> s(2);
  CHECK(has([&] { step<IpoMethod>(b2, ObjectiveParams<UniformWeights>{}, s); }, "sample 2 is not finite"));
  // In double the same values are fine.
  const std::vector<double> pcd(pc.begin(), pc.end()), prd(pr.begin(), pr.end()), rcd(rc.begin(), rc.end()),
      rrd(rr.begin(), rr.end());
  std::vector<double> md(3), ld(3);
  CHECK_NOTHROW(sample_losses<Ipo>(PreferenceBatch<double>{pcd, prd, rcd, rrd, group}, 2, 0.1, Span<double>(md),
                                   Span<double>(ld)));
}

TEST_CASE("grpo: the mirror-ascent step is computed in double; an exponent that overflows there is an error") {
  // In float, eta L = 1e39 overflows: the step used to give NaN alpha. In double it is the exact limit,
  // all mass on the group with the larger loss (the other kept at the smallest normal float, not 0).
  std::vector<float> alpha{0.5f, 0.5f};
  const std::vector<float> loss{100.0f, 50.0f};
  const std::vector<int> count{3, 4};
  update_alpha(Span<float>(alpha), Span<const float>(loss), Span<const int>(count), 1e37);
  CHECK(alpha[0] == 1.0f);
  CHECK(alpha[1] == std::numeric_limits<float>::min());
  // Ordinary values: the formula's result, to float precision.
  alpha = {0.25f, 0.75f};
  const std::vector<float> big{3e10f, 1e10f};
  update_alpha(Span<float>(alpha), Span<const float>(big), Span<const int>(count), 1e-10);
  const double u0 = 0.25 * std::exp(1e-10 * 3e10), u1 = 0.75 * std::exp(1e-10 * 1e10);
  CHECK(alpha[0] == doctest::Approx(u0 / (u0 + u1)).epsilon(1e-6));
  CHECK(alpha[1] == doctest::Approx(u1 / (u0 + u1)).epsilon(1e-6));
  // Overflow in double is an error that names the group, and alpha is kept.
  std::vector<double> ad{0.5, 0.5};
  const std::vector<double> ld{1e10, 1.0};
  CHECK(has([&] { update_alpha(Span<double>(ad), Span<const double>(ld), Span<const int>(count), 1e300); },
            "exponent log alpha + eta_alpha * group_loss of group 0 overflows"));
  CHECK(ad == std::vector<double>{0.5, 0.5});
}

TEST_CASE("grpo: negative counts and bad alpha are errors in every helper that reads them") {
  std::vector<double> alpha{0.5, 0.5}, weight(2);
  const std::vector<double> loss{1.0, 2.0};
  const std::vector<int> bad_count{3, -1};
  CHECK(has([&] { update_alpha(Span<double>(alpha), Span<const double>(loss), Span<const int>(bad_count), 1.0); },
            "group_count[1] must be >= 0, got -1"));
  CHECK(has([&] {
    group_weights<UniformWeights>(Span<const double>(), Span<const int>(bad_count), UniformWeights::Params{},
                                  Span<double>(weight));
  }, "group_count[1] must be >= 0"));
  const std::vector<int> count{3, 4};
  const std::vector<double> neg_alpha{1.5, -0.5};
  CHECK(has([&] {
    group_weights<GroupRobust>(Span<const double>(neg_alpha), Span<const int>(count), GroupRobustParams{},
                               Span<double>(weight));
  }, "alpha[1] must be finite and >= 0, got -0.5"));
  const std::vector<double> margin{0.1, 0.2};
  const std::vector<int> group{0, 1};
  std::vector<double> dc(2), dr(2);
  CHECK(has([&] {
    gradient_coefficients<Dpo>(Span<const double>(margin), Span<const int>(group), Span<const double>(loss),
                               Span<const int>(bad_count), 1.0, Span<double>(dc), Span<double>(dr));
  }, "group_count[1] must be >= 0"));
}

TEST_CASE("grpo loglinear: the trainer and its helpers reject what would give silent garbage") {
  using namespace skippy::grpo::loglinear;
  const auto data = make_synthetic(7, SyntheticConfig{40, 0.25}, Split::train);
  // Mismatched weight/count sizes used to read past the vectors.
  CHECK(has([&] { weighted_least_squares(data, {1.0}, {10, 30}, 1.0, 1e-3); }, "weight has 1 entries"));
  CHECK(has([&] { weighted_least_squares(data, {0.5, 0.5}, {10}, 1.0, 1e-3); }, "group_count has 1 entries"));
  CHECK(has([&] { weighted_least_squares(data, {0.5, 0.5}, {10, 30}, 0.0, 1e-3); }, "beta must be positive"));
  CHECK(has([&] { weighted_least_squares(data, {0.5, -0.5}, {10, 30}, 1.0, 1e-3); }, "weight[1] must be finite"));
  CHECK(has([&] { weighted_least_squares(data, {std::nan(""), 0.5}, {10, 30}, 1.0, 1e-3); }, "weight[0] must be"));
  CHECK(has([&] { weighted_least_squares(data, {0.5, 0.5}, {10, 0}, 1.0, 1e-3); }, "whose group_count is 0"));
  // Coefficient vectors or a feature table shorter than the data used to be read past their ends.
  const auto table = feature_table(data);
  const std::vector<double> c(data.size(), 0.1), short_c(data.size() - 1, 0.1);
  const Vec theta{};
  CHECK_NOTHROW(backprop(theta, data, table, c, c));
  CHECK(has([&] { backprop(theta, data, table, short_c, c); }, "d_chosen has"));
  CHECK(has([&] { backprop(theta, data, table, c, short_c); }, "d_rejected has"));
  const std::vector<ActionFeatures> short_table(table.begin(), table.end() - 1);
  CHECK(has([&] { backprop(theta, data, short_table, c, c); }, "feature table does not match"));
  TrainConfig cfg;
  cfg.steps = 2;
  cfg.learning_rate = 0.0;
  CHECK(has([&] { train<DpoMethod>(data, cfg); }, "learning_rate must be positive and finite, got 0"));
  cfg.learning_rate = std::numeric_limits<double>::quiet_NaN();
  CHECK(has([&] { train<GrDpoMethod>(data, cfg); }, "learning_rate"));
  CHECK_NOTHROW(train<IpoMethod>(data, cfg));  // the IPO solve takes no learning rate
  // A group absent from the evaluation set is an error, not a worst-group loss of 0.
  std::vector<Pair> only_majority;
  for (const Pair& p : data)
    if (p.group == 1) only_majority.push_back(p);
  CHECK(has([&] { evaluate<Dpo>(Vec{}, only_majority, 1.0); }, "group 0 has no pairs in the evaluation set"));
  CHECK_NOTHROW(evaluate<Dpo>(Vec{}, data, 1.0));
}
