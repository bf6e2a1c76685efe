// The log-linear trainer and the paper's synthetic benchmark (README §2).

#include <doctest/doctest.h>

#include <skippy/grpo/grpo.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../support/error_message.hpp"

using namespace skippy;
using namespace skippy::grpo;
using namespace skippy::grpo::loglinear;

TEST_CASE("grpo synthetic: the data set is as specified") {
  const auto d = make_synthetic(7, {}, Split::train);
  REQUIRE(d.size() == 300);
  int minority = 0;
  for (const Pair& p : d) {
    minority += p.group == 0;
    CHECK(p.chosen != p.rejected);
    CHECK(p.chosen >= 0);
    CHECK(p.chosen < actions);
    CHECK(p.s1 >= 0.0);
    CHECK(p.s1 < 1.0);
    CHECK(true_reward(p.group, p.s1, p.s2, p.chosen) >= true_reward(p.group, p.s1, p.s2, p.rejected));
  }
  CHECK(minority == 60);  // 20/80
  const auto again = make_synthetic(7, {}, Split::train);
  const auto val = make_synthetic(7, {}, Split::validation);
  CHECK(again[123].s1 == d[123].s1);
  CHECK(val[123].s1 != d[123].s1);
  // Group 1's features are group 0's with the halves swapped.
  const Vec f0 = features(0, 0.3, 0.6, 5), f1 = features(1, 0.3, 0.6, 5);
  CHECK(f1[0] == f0[2]);
  CHECK(f1[3] == f0[1]);
  CHECK(f0[0] == doctest::Approx((5.0 / 8 + 1) * std::cos(pi * 0.3)));
}

TEST_CASE("grpo synthetic: the uneven setting compares actions 1 apart in group 0, 4 apart in group 1") {
  const auto uniform = make_synthetic(7, {}, Split::train), d = make_synthetic(7, uneven_synthetic(), Split::train);
  REQUIRE(d.size() == uniform.size());
  int wrong = 0, same_states = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const Pair& p = d[i];
    wrong += std::abs(p.chosen - p.rejected) != (p.group == 0 ? 1 : 4) || p.group != uniform[i].group;
    wrong += true_reward(p.group, p.s1, p.s2, p.chosen) < true_reward(p.group, p.s1, p.s2, p.rejected);
    same_states += p.s1 == uniform[i].s1 && p.s2 == uniform[i].s2;
  }
  CHECK(wrong == 0);
  CHECK(same_states == static_cast<int>(d.size()));
  SyntheticConfig bad;
  bad.action_gap = {1, 5};
  CHECK(test::error_message([&] { make_synthetic(7, bad, Split::train); }) ==
        "skippy: grpo::loglinear: action_gap of group 1 must be in 0..4 (0: uniform pairs), got 5");
  bad.action_gap = {-1, 0};
  CHECK(test::error_message([&] { make_synthetic(7, bad, Split::train); }).find("action_gap of group 0") !=
        std::string::npos);
}

TEST_CASE("grpo synthetic: a hand-built pair out of range is an error naming it") {
  const auto message = [](const std::vector<Pair>& d) {
    try {
      make_batch(Vec{}, d);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto d = make_synthetic(7, {}, Split::train);
  CHECK(message(d) == "no error");
  auto bad = d;
  bad[5].chosen = actions;
  CHECK(message(bad).find("pair 5 has action ids 8") != std::string::npos);
  bad = d;
  bad[9].group = 2;
  CHECK(message(bad).find("pair 9 has group 2") != std::string::npos);
  bad = d;
  bad[2].rejected = bad[2].chosen;
  CHECK(message(bad).find("pair 2 chose and rejected the same action") != std::string::npos);
  CHECK_THROWS_AS(weighted_least_squares(bad, {0.5, 0.5}, {60, 240}, 1.0, 1e-3), Error);
}

TEST_CASE("grpo synthetic: the log-linear gradient matches finite differences") {
  const auto d = make_synthetic(3, {40, 0.25}, Split::train);
  const auto table = feature_table(d);
  const Vec theta{0.3, -0.2, 0.5, 0.1};
  ObjectiveParams<GroupRobust> p;
  p.loss.beta = 0.7;
  p.weighting.chi = 0.6;
  GroupState<double> st(2);
  st.alpha = {0.35, 0.65};
  p.weighting.eta_alpha = 0.0;
  const auto J = [&](const Vec& th) {
    GroupState<double> s = st;
    return step<GrDpoMethod>(make_batch(th, d, table).view(), p, s).objective;
  };
  GroupState<double> s = st;
  const auto r = step<GrDpoMethod>(make_batch(theta, d, table).view(), p, s);
  const Vec g = backprop(theta, d, table, r.d_chosen, r.d_rejected);
  for (std::size_t k = 0; k < 4; ++k) {
    Vec up = theta, down = theta;
    up[k] += 1e-6;
    down[k] -= 1e-6;
    CHECK(g[k] == doctest::Approx((J(up) - J(down)) / 2e-6).epsilon(1e-6));
  }
}

TEST_CASE("grpo synthetic: the IPO weighted least squares is the minimiser") {
  const auto d = make_synthetic(5, {}, Split::train);
  const std::vector<double> w{0.4, 0.6};
  const std::vector<int> count{60, 240};
  const double beta = 0.8, lambda = 0.01;
  const Vec theta = weighted_least_squares(d, w, count, beta, lambda);
  // Gradient of sum_g w_g L_g + lambda |theta|^2 vanishes.
  Vec grad{};
  for (const Pair& p : d) {
    const Vec fw = features(p.group, p.s1, p.s2, p.chosen), fl = features(p.group, p.s1, p.s2, p.rejected);
    Vec y{};
    for (std::size_t k = 0; k < 4; ++k) y[k] = fw[k] - fl[k];
    const double res = dot(theta, y) - 1 / (2 * beta);
    for (std::size_t k = 0; k < 4; ++k)
      grad[k] += 2 * w[static_cast<std::size_t>(p.group)] / count[static_cast<std::size_t>(p.group)] * res * y[k];
  }
  for (std::size_t k = 0; k < 4; ++k) CHECK(grad[k] + 2 * lambda * theta[k] == doctest::Approx(0.0).scale(1.0).epsilon(1e-10));
}

TEST_CASE("grpo synthetic: GR-DPO at chi = 0 trains exactly like DPO") {
  const auto d = make_synthetic(11, {}, Split::train);
  TrainConfig cfg;
  cfg.steps = 30;
  cfg.robust.chi = 0.0;
  const auto a = train<DpoMethod>(d, cfg);
  const auto b = train<GrDpoMethod>(d, cfg);
  CHECK(a.theta == b.theta);
  CHECK(a.objective == b.objective);
}

namespace {

// Each method trained with the defaults of TrainConfig on the training pairs of `data` for seeds 1..20, and
// evaluated on 1000 validation pairs of the same kind (each method under its own loss).
struct SeedRuns {
  std::vector<Evaluation> dpo, is_dpo, gr_dpo, ipo, is_ipo, gr_ipo;
};
SeedRuns run_seeds(const SyntheticConfig& data) {
  const TrainConfig cfg;
  SyntheticConfig vc = data;
  vc.pairs = 1000;
  SeedRuns r;
  for (int seed = 1; seed <= 20; ++seed) {
    const auto tr = make_synthetic(static_cast<std::uint64_t>(seed), data, Split::train);
    const auto va = make_synthetic(static_cast<std::uint64_t>(seed), vc, Split::validation);
    r.dpo.push_back(evaluate<Dpo>(train<DpoMethod>(tr, cfg).theta, va, cfg.beta));
    r.is_dpo.push_back(evaluate<Dpo>(train<IsDpoMethod>(tr, cfg).theta, va, cfg.beta));
    r.gr_dpo.push_back(evaluate<Dpo>(train<GrDpoMethod>(tr, cfg).theta, va, cfg.beta));
    r.ipo.push_back(evaluate<Ipo>(train<IpoMethod>(tr, cfg).theta, va, cfg.beta));
    r.is_ipo.push_back(evaluate<Ipo>(train<IsIpoMethod>(tr, cfg).theta, va, cfg.beta));
    r.gr_ipo.push_back(evaluate<Ipo>(train<GrIpoMethod>(tr, cfg).theta, va, cfg.beta));
  }
  return r;
}
double mean(const std::vector<Evaluation>& e, double Evaluation::*measure) {
  double sum = 0;
  for (const Evaluation& x : e) sum += x.*measure;
  return sum / static_cast<double>(e.size());
}
// The seeds where a's measure is below b's.
int lower(const std::vector<Evaluation>& a, const std::vector<Evaluation>& b, double Evaluation::*measure) {
  int n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += a[i].*measure < b[i].*measure;
  return n;
}
constexpr double Evaluation::*loss = &Evaluation::worst_loss;
constexpr double Evaluation::*error = &Evaluation::max_reward_error;

}  // namespace

// Measured with the defaults of TrainConfig (beta 1, 500 steps, lr 0.5, lambda 1e-3, chi 1, eta_alpha 5) on
// seeds 1..20 with 1000 validation pairs: worst-group validation loss DPO 0.3784 ± 0.0247, GR-DPO 0.3454 ± 0.0200
// (mean difference -0.0330, GR-DPO lower in 19/20 seeds); IPO 0.1324 ± 0.0102, GR-IPO 0.1265 ± 0.0065
// (difference -0.0058). Thresholds below leave room for libm differences between platforms.
TEST_CASE("grpo synthetic: GR-DPO lowers the worst-group validation loss of DPO over 20 seeds") {
  const SeedRuns r = run_seeds({});
  const double dpo = mean(r.dpo, loss), gr = mean(r.gr_dpo, loss), ipo = mean(r.ipo, loss);
  const double gr_ipo = mean(r.gr_ipo, loss), dpo_err = mean(r.dpo, error), gr_err = mean(r.gr_dpo, error);
  const int wins = lower(r.gr_dpo, r.dpo, loss);
  MESSAGE("worst-group val loss DPO ", dpo, " GR-DPO ", gr, " (GR-DPO lower in ", wins, "/20); IPO ", ipo,
          " GR-IPO ", gr_ipo, "; max reward error DPO ", dpo_err, " GR-DPO ", gr_err);
  CHECK(gr < dpo - 0.02);  // measured margin 0.033
  CHECK(wins >= 16);       // measured 19/20
  CHECK(gr_ipo < ipo - 0.003);  // measured margin 0.0058
  CHECK(gr_err < dpo_err);      // measured 0.1523 vs 0.1637
}

// README §2's benchmark (above) has groups that mirror each other: group-balanced weights (IS) already
// equalise their population losses, and GR ties with IS there (skippy_grpo_synthetic over 60 seeds:
// worst-group loss GR-DPO 0.3468 vs IS-DPO 0.3421, GR-IPO 0.1266 vs IS-IPO 0.1240). With a hard minority
// (the paper's uneven setting) balancing counts is not enough, and the worst-case weights pay. Measured
// with the defaults on seeds 1..20, 1000 validation pairs: worst-group loss IS-IPO 0.1601, GR-IPO 0.1345
// (lower in 19/20 seeds), IPO 0.2066; max reward error IS-IPO 0.3263, GR-IPO 0.3101 (20/20), IPO 0.3451;
// worst-group loss IS-DPO 0.5277, GR-DPO 0.5098 (18/20), DPO 0.5466. (GR-DPO's max reward error is higher,
// 0.2199 against 0.1663: at eta_alpha 5 the majority's loss rises from 0.22 to 0.45.)
TEST_CASE("grpo synthetic, uneven difficulty: GR-IPO beats IPO and IS-IPO on both measures over 20 seeds") {
  const SeedRuns r = run_seeds(uneven_synthetic());
  const double ipo = mean(r.ipo, loss), is_ipo = mean(r.is_ipo, loss), gr_ipo = mean(r.gr_ipo, loss);
  const double ipo_err = mean(r.ipo, error), is_err = mean(r.is_ipo, error), gr_err = mean(r.gr_ipo, error);
  const double is_dpo = mean(r.is_dpo, loss), gr_dpo = mean(r.gr_dpo, loss);
  const int loss_wins = lower(r.gr_ipo, r.is_ipo, loss), err_wins = lower(r.gr_ipo, r.is_ipo, error);
  const int dpo_wins = lower(r.gr_dpo, r.is_dpo, loss);
  MESSAGE("uneven: worst-group val loss IPO ", ipo, " IS-IPO ", is_ipo, " GR-IPO ", gr_ipo, " (GR lower in ",
          loss_wins, "/20); max reward error IPO ", ipo_err, " IS-IPO ", is_err, " GR-IPO ", gr_err, " (", err_wins,
          "/20); worst-group loss IS-DPO ", is_dpo, " GR-DPO ", gr_dpo, " (", dpo_wins, "/20)");
  CHECK(gr_ipo < is_ipo - 0.012);   // measured margin 0.0256
  CHECK(gr_ipo < ipo - 0.03);       // 0.0722
  CHECK(gr_err < is_err - 0.008);   // 0.0163
  CHECK(gr_err < ipo_err - 0.015);  // 0.0350
  CHECK(loss_wins >= 16);           // measured 19/20
  CHECK(err_wins >= 16);            // 20/20
  CHECK(gr_dpo < is_dpo - 0.008);   // 0.0179
  CHECK(dpo_wins >= 14);            // 18/20
}

TEST_CASE("grpo synthetic: the relative reward error needs a positive optimal reward") {
  // At s = (1, 1) every action's true reward is negative in both groups (-4u): (r_opt - r_pi) / r_opt would
  // rate a worse policy better.
  const std::vector<loglinear::Pair> bad = {{0, 1.0, 1.0, 0, 1}, {1, 1.0, 1.0, 0, 1}};
  CHECK_THROWS_WITH_AS(loglinear::evaluate<Dpo>(loglinear::Vec{}, bad, 0.1),
                       doctest::Contains("group 0's optimal reward over the validation pairs is -4"), Error);
  const std::vector<loglinear::Pair> good = {{0, 0.0, 0.0, 1, 0}, {1, 0.0, 0.0, 1, 0}};  // rewards 4u > 0
  CHECK(loglinear::evaluate<Dpo>(loglinear::Vec{}, good, 0.1).max_reward_error > 0.0);
}
