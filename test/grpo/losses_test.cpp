// GRPO losses and per-sample gradient coefficients against finite differences; input validation.

#include <doctest/doctest.h>

#include <skippy/grpo/grpo.hpp>

#include "../support/error_message.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace skippy;
using namespace skippy::grpo;

namespace {

struct Buffers {
  std::vector<double> pc, pr, rc, rr;
  std::vector<int> group;
  PreferenceBatch<double> view() const { return PreferenceBatch<double>{pc, pr, rc, rr, group}; }
};

// A deterministic batch of n pairs over `groups` groups.
Buffers make(int n, int groups) {
  Buffers b;
  for (int i = 0; i < n; ++i) {
    const double x = static_cast<double>(i);
    b.pc.push_back(-2.0 - 0.7 * std::sin(1.3 * x));
    b.pr.push_back(-2.5 + 0.9 * std::cos(0.7 * x));
    b.rc.push_back(-2.2 + 0.3 * std::sin(2.1 * x));
    b.rr.push_back(-2.1 - 0.2 * std::cos(1.9 * x));
    b.group.push_back((i * 7 + i / 3) % groups);
  }
  return b;
}

// J with the weights held fixed (alpha fixed, as in README §2).
template <class Loss>
double objective_fixed(const Buffers& b, const std::vector<double>& weight, double beta) {
  const int groups = static_cast<int>(weight.size());
  const std::size_t n = b.group.size();
  std::vector<double> h(n), l(n), sum(weight.size()), mean(weight.size());
  std::vector<int> count(weight.size());
  sample_losses<Loss>(b.view(), groups, beta, Span<double>(h), Span<double>(l));
  group_reduce(Span<const int>(b.group), Span<const double>(l), groups, Span<double>(sum), Span<int>(count),
               Span<double>(mean));
  return weighted_objective(Span<const double>(weight), Span<const double>(mean));
}

template <class Method>
void check_coefficients_fd(typename Method::Params params) {
  using Loss = typename Method::loss;
  Buffers b = make(23, 3);
  GroupState<double> state(3);
  const StepResult<double> r = step<Method>(b.view(), params, state);
  const double beta = params.loss.beta, eps = 1e-6;
  CHECK(r.objective == doctest::Approx(objective_fixed<Loss>(b, r.weight, beta)).epsilon(1e-14));
  for (std::size_t i = 0; i < b.group.size(); ++i) {
    for (int which = 0; which < 2; ++which) {
      std::vector<double>& v = which == 0 ? b.pc : b.pr;
      const double keep = v[i];
      v[i] = keep + eps;
      const double up = objective_fixed<Loss>(b, r.weight, beta);
      v[i] = keep - eps;
      const double down = objective_fixed<Loss>(b, r.weight, beta);
      v[i] = keep;
      const double fd = (up - down) / (2 * eps);
      const double analytic = which == 0 ? r.d_chosen[i] : r.d_rejected[i];
      INFO(std::string(Loss::name), " sample ", i, which == 0 ? " chosen" : " rejected");
      CHECK(analytic == doctest::Approx(fd).epsilon(1e-6).scale(1e-3));
    }
  }
}

}  // namespace

TEST_CASE("grpo: log-sigmoid and sigmoid are stable for large arguments") {
  CHECK(formula::log_sigmoid(1000.0) == doctest::Approx(0.0));
  CHECK(formula::log_sigmoid(-1000.0) == doctest::Approx(-1000.0));
  CHECK(formula::log_sigmoid(0.0) == doctest::Approx(-std::log(2.0)));
  CHECK(formula::sigmoid(-1000.0) == 0.0);
  CHECK(formula::sigmoid(1000.0) == 1.0);
  CHECK(std::isfinite(formula::log_sigmoid(-200.0f)));
  CHECK(formula::loss<Dpo>(-500.0f, 1.0f) == doctest::Approx(500.0f));
  CHECK(formula::dloss<Dpo>(-500.0f, 1.0f) == doctest::Approx(-1.0f));
}

TEST_CASE("grpo: dloss/dh of DPO and IPO match central differences") {
  const double eps = 1e-6;
  for (const double beta : {0.1, 0.5, 2.0}) {
    for (const double h : {-7.0, -1.3, 0.0, 0.4, 3.0, 12.0}) {
      INFO("beta ", beta, " h ", h);
      const double fd_dpo = (formula::loss<Dpo>(h + eps, beta) - formula::loss<Dpo>(h - eps, beta)) / (2 * eps);
      const double fd_ipo = (formula::loss<Ipo>(h + eps, beta) - formula::loss<Ipo>(h - eps, beta)) / (2 * eps);
      CHECK(formula::dloss<Dpo>(h, beta) == doctest::Approx(fd_dpo).epsilon(1e-6));
      CHECK(formula::dloss<Ipo>(h, beta) == doctest::Approx(fd_ipo).epsilon(1e-6));
    }
  }
  // The definitions, written out here (the checks above compare the library with itself): DPO
  // -log sigmoid(beta h) = log(1 + e^(-beta h)), IPO (h - 1/(2 beta))^2, and their derivatives.
  for (const double beta : {0.1, 0.5, 2.0}) {
    for (const double h : {-7.0, -1.3, 0.4, 3.0, 12.0}) {
      INFO("beta ", beta, " h ", h);
      CHECK(formula::loss<Dpo>(h, beta) == doctest::Approx(std::log1p(std::exp(-beta * h))).epsilon(1e-12));
      CHECK(formula::dloss<Dpo>(h, beta) == doctest::Approx(-beta / (1.0 + std::exp(beta * h))).epsilon(1e-12));
      const double t = 1.0 / (2.0 * beta);
      CHECK(formula::loss<Ipo>(h, beta) == doctest::Approx((h - t) * (h - t)).epsilon(1e-12));
      CHECK(formula::dloss<Ipo>(h, beta) == doctest::Approx(2.0 * (h - t)).epsilon(1e-12));
    }
  }
  // The defining values: DPO at h = 0 is log 2; IPO is 0 at its target margin 1/(2 beta).
  CHECK(formula::loss<Dpo>(0.0, 0.3) == doctest::Approx(std::log(2.0)));
  CHECK(formula::loss<Ipo>(1.0 / (2 * 0.3), 0.3) == doctest::Approx(0.0));
  CHECK(formula::margin(-1.0, -2.0, -3.0, -5.0) == doctest::Approx(-1.0));
}

TEST_CASE("grpo: gradient coefficients are dJ/dlog pi by finite differences (alpha fixed)") {
  ObjectiveParams<UniformWeights> u;
  u.loss.beta = 0.7;
  check_coefficients_fd<DpoMethod>(u);
  check_coefficients_fd<IpoMethod>(u);
  ObjectiveParams<BalancedWeights> b;
  b.loss.beta = 0.4;
  check_coefficients_fd<IsDpoMethod>(b);
  check_coefficients_fd<IsIpoMethod>(b);
  ObjectiveParams<GroupRobust> g;
  g.loss.beta = 1.3;
  g.weighting.chi = 0.6;
  g.weighting.eta_alpha = 0.8;
  check_coefficients_fd<GrDpoMethod>(g);
  check_coefficients_fd<GrIpoMethod>(g);
}

TEST_CASE("grpo: float and double kernels agree") {
  const Buffers b = make(17, 2);
  std::vector<float> pc(b.pc.begin(), b.pc.end()), pr(b.pr.begin(), b.pr.end()), rc(b.rc.begin(), b.rc.end()),
      rr(b.rr.begin(), b.rr.end());
  ObjectiveParams<GroupRobust> p;
  p.weighting.eta_alpha = 0.5;
  GroupState<float> sf(2);
  GroupState<double> sd(2);
  const auto rf = step<GrDpoMethod>(PreferenceBatch<float>{pc, pr, rc, rr, b.group}, p, sf);
  const auto rd = step<GrDpoMethod>(b.view(), p, sd);
  CHECK(rf.objective == doctest::Approx(rd.objective).epsilon(1e-5));
  for (std::size_t i = 0; i < b.group.size(); ++i) CHECK(rf.d_chosen[i] == doctest::Approx(rd.d_chosen[i]).epsilon(1e-5));
}

TEST_CASE("grpo: bad input gets a clear error") {
  const auto says = [](auto&& fn, const char* needle) {
    return test::error_message(fn).find(needle) != std::string::npos;
  };
  ObjectiveParams<UniformWeights> p;
  {
    Buffers b = make(5, 2);
    b.group[2] = 5;
    GroupState<double> s(2);
    CHECK(says([&] { step<DpoMethod>(b.view(), p, s); }, "group id 5 of sample 2 is out of range 0..1"));
  }
  {
    Buffers b = make(5, 2);
    b.group[0] = -1;
    GroupState<double> s(2);
    CHECK(says([&] { step<DpoMethod>(b.view(), p, s); }, "group id -1 of sample 0"));
  }
  {
    Buffers b = make(5, 2);
    b.rr[3] = std::numeric_limits<double>::quiet_NaN();
    GroupState<double> s(2);
    CHECK(says([&] { step<DpoMethod>(b.view(), p, s); }, "reference_rejected[3] is not finite"));
  }
  {
    Buffers b = make(5, 2);
    b.pc[1] = std::numeric_limits<double>::infinity();
    GroupState<double> s(2);
    CHECK(says([&] { step<DpoMethod>(b.view(), p, s); }, "policy_chosen[1] is not finite"));
  }
  {
    Buffers b = make(5, 2);
    b.pr.pop_back();
    GroupState<double> s(2);
    CHECK(says([&] { step<DpoMethod>(b.view(), p, s); },
               "mismatched lengths: policy_rejected has 4 entries, group has 5"));
  }
  {
    Buffers b = make(5, 2);
    ObjectiveParams<UniformWeights> bad;
    bad.loss.beta = 0.0;
    GroupState<double> s(2);
    CHECK(says([&] { step<DpoMethod>(b.view(), bad, s); }, "beta must be positive"));
  }
  {
    Buffers b = make(5, 2);
    ObjectiveParams<GroupRobust> bad;
    bad.weighting.chi = 1.5;
    bad.weighting.eta_alpha = 2.0;
    GroupState<double> s(2);
    const std::vector<double> before = s.alpha;
    CHECK(says([&] { step<GrDpoMethod>(b.view(), bad, s); }, "chi must be in [0, 1]"));
    CHECK(s.alpha == before);  // rejected before mirror ascent moved it
    bad.weighting.chi = 1.0;
    (void)step<GrDpoMethod>(b.view(), bad, s);
    CHECK(s.alpha != before);  // the same batch with a valid chi does move it
  }
  CHECK(says([] { GroupState<double> s(0); }, "number of groups must be >= 1"));
}
