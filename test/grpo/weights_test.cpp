// GRPO group weights: the mirror-ascent update against its formula, chi = 0 is plain DPO, permuted group ids,
// absent groups.

#include <doctest/doctest.h>

#include <skippy/grpo/grpo.hpp>

#include <cmath>
#include <limits>
#include <vector>

using namespace skippy;
using namespace skippy::grpo;

namespace {

struct Buffers {
  std::vector<double> pc, pr, rc, rr;
  std::vector<int> group;
  PreferenceBatch<double> view() const { return PreferenceBatch<double>{pc, pr, rc, rr, group}; }
};

Buffers make(int n, int groups) {
  Buffers b;
  for (int i = 0; i < n; ++i) {
    const double x = static_cast<double>(i);
    b.pc.push_back(-1.0 - 0.8 * std::sin(0.9 * x));
    b.pr.push_back(-1.4 + 0.6 * std::cos(1.7 * x));
    b.rc.push_back(-1.2 + 0.2 * std::sin(3.1 * x));
    b.rr.push_back(-1.1 - 0.3 * std::cos(0.5 * x));
    b.group.push_back((i * 5 + 1) % groups);
  }
  return b;
}

// The same step bit for bit: the objective, the group weights and both gradients.
void check_same_step(const StepResult<double>& got, const StepResult<double>& want) {
  CHECK(got.objective == want.objective);
  CHECK(got.weight == want.weight);
  CHECK(got.d_chosen == want.d_chosen);
  CHECK(got.d_rejected == want.d_rejected);
}

}  // namespace

TEST_CASE("grpo: the alpha update is alpha_g exp(eta L_g) / Z") {
  std::vector<double> alpha{0.2, 0.3, 0.5};
  const std::vector<double> loss{1.0, 2.0, 0.5};
  const std::vector<int> count{4, 1, 7};
  const double eta = 0.7;
  double z = 0;
  for (int g = 0; g < 3; ++g) z += alpha[g] * std::exp(eta * loss[g]);
  std::vector<double> expected(3);
  for (int g = 0; g < 3; ++g) expected[g] = alpha[g] * std::exp(eta * loss[g]) / z;
  update_alpha(Span<double>(alpha), Span<const double>(loss), Span<const int>(count), eta);
  for (int g = 0; g < 3; ++g) CHECK(alpha[g] == doctest::Approx(expected[g]).epsilon(1e-14));

  // Huge eta * L: the max-subtracted form neither overflows nor loses the simplex.
  std::vector<double> a2{0.25, 0.25, 0.5};
  const std::vector<double> big{900.0, 1000.0, 10.0};
  update_alpha(Span<double>(a2), Span<const double>(big), Span<const int>(count), 50.0);
  CHECK(std::isfinite(a2[0]));
  CHECK(a2[1] == doctest::Approx(1.0));
  CHECK(a2[0] + a2[1] + a2[2] == doctest::Approx(1.0));
  std::vector<float> af{0.5f, 0.5f};
  const std::vector<float> lf{100.0f, 90.0f};
  const std::vector<int> cf{1, 1};
  update_alpha(Span<float>(af), Span<const float>(lf), Span<const int>(cf), 100.0);
  CHECK(af[0] == doctest::Approx(1.0f));
  CHECK(af[1] >= 0.0f);
  // The largest loss in a group of zero alpha: the other factors underflowed to a zero sum and the mass
  // was lost ([0, 0]) while a shift by the largest exponent log alpha + eta L keeps it.
  std::vector<double> a3{1.0, 0.0};
  update_alpha(Span<double>(a3), Span<const double>(std::vector<double>{0.0, 1.0}), Span<const int>(cf), 1000.0);
  CHECK(a3 == std::vector<double>{1.0, 0.0});
  // A tiny alpha with the largest loss: its factor alone (1e-39 in float) made mass / sum overflow.
  std::vector<float> a4{1e-39f, 1.0f};
  update_alpha(Span<float>(a4), Span<const float>(std::vector<float>{100.0f, 0.0f}), Span<const int>(cf), 1.0);
  const double r = static_cast<double>(1e-39f) * std::exp(100.0);  // alpha_0 exp(eta L_0) / alpha_1 exp(eta L_1)
  CHECK(a4[0] == doctest::Approx(r / (1.0 + r)).epsilon(1e-5));
  CHECK(a4[1] == doctest::Approx(1.0 / (1.0 + r)).epsilon(1e-4));
}

// Exact mirror ascent never reaches 0; a group far behind underflows there, and a zero alpha stays zero.
// Kept at the smallest normal value instead, it regains the weight once its losses lead.
template <class Real>
void check_underflow_recovers(double eta, int behind, int ahead) {
  std::vector<Real> a{Real(0.5), Real(0.5)};
  const std::vector<int> count{3, 3};
  const std::vector<Real> first{Real(1), Real(0)}, second{Real(0), Real(1)};
  for (int k = 0; k < behind; ++k) update_alpha(Span<Real>(a), Span<const Real>(first), Span<const int>(count), eta);
  CHECK(a[1] == std::numeric_limits<Real>::min());  // floored: exp(-eta * behind) is far below it
  CHECK(a[0] == doctest::Approx(1.0));
  for (int k = 0; k < ahead; ++k) update_alpha(Span<Real>(a), Span<const Real>(second), Span<const int>(count), eta);
  CHECK(a[1] > Real(0.99));
  // A zero the caller set stays zero.
  std::vector<Real> z{Real(1), Real(0)};
  update_alpha(Span<Real>(z), Span<const Real>(second), Span<const int>(count), eta);
  CHECK(z == std::vector<Real>{Real(1), Real(0)});
}

TEST_CASE("grpo: a positive alpha never underflows to 0, so a group far behind can regain its weight") {
  check_underflow_recovers<double>(10.0, 100, 200);  // e^-1000 underflows double
  check_underflow_recovers<float>(5.0, 40, 80);      // e^-200 underflows float
}

TEST_CASE("grpo: weights of the three policies") {
  const std::vector<int> count{3, 0, 9};
  const std::vector<double> alpha{0.1, 0.6, 0.3};
  std::vector<double> w(3);
  group_weights<UniformWeights>(Span<const double>(), Span<const int>(count), NoWeightingParams{}, Span<double>(w));
  CHECK(w[0] == doctest::Approx(0.25));
  CHECK(w[1] == 0.0);
  CHECK(w[2] == doctest::Approx(0.75));
  group_weights<BalancedWeights>(Span<const double>(), Span<const int>(count), NoWeightingParams{}, Span<double>(w));
  for (double x : w) CHECK(x == doctest::Approx(1.0 / 3));
  GroupRobustParams p;
  p.chi = 0.4;
  group_weights<GroupRobust>(Span<const double>(alpha), Span<const int>(count), p, Span<double>(w));
  CHECK(w[0] == doctest::Approx(0.6 * 0.25 + 0.4 * 0.1));
  CHECK(w[1] == doctest::Approx(0.4 * 0.6));
  CHECK(w[2] == doctest::Approx(0.6 * 0.75 + 0.4 * 0.3));
  // README §2's other form: alpha mixed with the group-balanced 1/G, absent groups included.
  p.mix = RobustMix::balanced;
  group_weights<GroupRobust>(Span<const double>(alpha), Span<const int>(count), p, Span<double>(w));
  CHECK(w[0] == doctest::Approx(0.6 / 3 + 0.4 * 0.1));
  CHECK(w[1] == doctest::Approx(0.6 / 3 + 0.4 * 0.6));
  CHECK(w[2] == doctest::Approx(0.6 / 3 + 0.4 * 0.3));
  CHECK(w[0] + w[1] + w[2] == doctest::Approx(1.0));
}

TEST_CASE("grpo: chi = 0 with the balanced mix reproduces IS-DPO exactly (w_g = 1/G); chi = 1 ignores the mix") {
  const Buffers b = make(31, 3);
  ObjectiveParams<BalancedWeights> is;
  is.loss.beta = 0.3;
  ObjectiveParams<GroupRobust> robust, worst, worst_balanced;
  robust.loss.beta = worst.loss.beta = worst_balanced.loss.beta = 0.3;
  robust.weighting.chi = 0.0;
  robust.weighting.eta_alpha = worst.weighting.eta_alpha = worst_balanced.weighting.eta_alpha = 2.0;
  robust.weighting.mix = worst_balanced.weighting.mix = RobustMix::balanced;
  GroupState<double> s_is(3), s_robust(3), s_worst(3), s_worst_balanced(3);
  for (int it = 0; it < 3; ++it) {
    const auto a = step<IsDpoMethod>(b.view(), is, s_is);
    const auto r = step<GrDpoMethod>(b.view(), robust, s_robust);
    check_same_step(r, a);
    const auto x = step<GrDpoMethod>(b.view(), worst, s_worst);
    const auto y = step<GrDpoMethod>(b.view(), worst_balanced, s_worst_balanced);
    check_same_step(y, x);
  }
  CHECK(s_robust.alpha[0] != doctest::Approx(1.0 / 3));  // alpha did move
  CHECK(s_worst.alpha == s_worst_balanced.alpha);
}

TEST_CASE("grpo: chi = 0 reproduces plain DPO exactly (w_g = N_g/N, the pooled mean)") {
  const Buffers b = make(31, 3);
  ObjectiveParams<UniformWeights> plain;
  plain.loss.beta = 0.3;
  ObjectiveParams<GroupRobust> robust;
  robust.loss.beta = 0.3;
  robust.weighting.chi = 0.0;
  robust.weighting.eta_alpha = 2.0;  // alpha moves, but has no effect at chi = 0
  GroupState<double> s_plain(3), s_robust(3);
  for (int it = 0; it < 3; ++it) {
    const auto a = step<DpoMethod>(b.view(), plain, s_plain);
    const auto r = step<GrDpoMethod>(b.view(), robust, s_robust);
    check_same_step(r, a);
    double pooled = 0;
    for (double l : a.loss) pooled += l;
    CHECK(a.objective == doctest::Approx(pooled / 31).epsilon(1e-14));
    for (std::size_t g = 0; g < 3; ++g)
      CHECK(a.weight[g] == doctest::Approx(static_cast<double>(a.group_count[g]) / 31));
  }
  CHECK(s_robust.alpha[0] != doctest::Approx(1.0 / 3));  // alpha did move
}

TEST_CASE("grpo: chi = 1 weights are alpha; balanced weights are 1/G") {
  const Buffers b = make(12, 4);
  ObjectiveParams<GroupRobust> p;
  p.weighting.eta_alpha = 0.9;
  GroupState<double> s(4);
  const auto r = step<GrDpoMethod>(b.view(), p, s);
  for (std::size_t g = 0; g < 4; ++g) CHECK(r.weight[g] == doctest::Approx(s.alpha[g]));
  double sum = 0;
  for (double a : s.alpha) sum += a;
  CHECK(sum == doctest::Approx(1.0));
  // The worst group gains weight.
  std::size_t worst = 0;
  for (std::size_t g = 1; g < 4; ++g)
    if (r.group_loss[g] > r.group_loss[worst]) worst = g;
  for (std::size_t g = 0; g < 4; ++g)
    if (g != worst) CHECK(s.alpha[worst] > s.alpha[g]);
}

TEST_CASE("grpo: permuted group ids give permuted results") {
  const Buffers b = make(29, 4);
  const int perm[4] = {2, 0, 3, 1};  // group g becomes perm[g]
  Buffers c = b;
  for (int& g : c.group) g = perm[g];
  ObjectiveParams<GroupRobust> p;
  p.loss.beta = 0.5;
  p.weighting.chi = 0.7;
  p.weighting.eta_alpha = 1.1;
  GroupState<double> sb(4), sc(4);
  sb.alpha = {0.1, 0.2, 0.3, 0.4};
  for (int g = 0; g < 4; ++g) sc.alpha[static_cast<std::size_t>(perm[g])] = sb.alpha[static_cast<std::size_t>(g)];
  for (int it = 0; it < 2; ++it) {
    const auto rb = step<GrIpoMethod>(b.view(), p, sb);
    const auto rc = step<GrIpoMethod>(c.view(), p, sc);
    for (std::size_t g = 0; g < 4; ++g) {
      const auto pg = static_cast<std::size_t>(perm[g]);
      CHECK(rc.group_loss[pg] == rb.group_loss[g]);  // same samples, same order
      CHECK(rc.group_count[pg] == rb.group_count[g]);
      CHECK(sc.alpha[pg] == doctest::Approx(sb.alpha[g]).epsilon(1e-14));
      CHECK(rc.weight[pg] == doctest::Approx(rb.weight[g]).epsilon(1e-14));
    }
    CHECK(rc.objective == doctest::Approx(rb.objective).epsilon(1e-14));
    for (std::size_t i = 0; i < b.group.size(); ++i)
      CHECK(rc.d_chosen[i] == doctest::Approx(rb.d_chosen[i]).epsilon(1e-13));
  }
}

TEST_CASE("grpo: a group absent from the batch keeps its alpha and contributes nothing") {
  Buffers b = make(20, 3);
  for (int& g : b.group) g = g == 1 ? 2 : g;  // no sample of group 1
  ObjectiveParams<GroupRobust> p;
  p.weighting.chi = 0.5;
  p.weighting.eta_alpha = 1.5;
  GroupState<double> s(3);
  s.alpha = {0.2, 0.45, 0.35};
  const auto r = step<GrDpoMethod>(b.view(), p, s);
  CHECK(r.group_count[1] == 0);
  CHECK(r.group_loss[1] == 0.0);
  CHECK(s.alpha[1] == 0.45);  // kept exactly
  CHECK(s.alpha[0] + s.alpha[2] == doctest::Approx(0.55));
  // Among the present groups it is the plain mirror step.
  const double u0 = 0.2 * std::exp(1.5 * r.group_loss[0]), u2 = 0.35 * std::exp(1.5 * r.group_loss[2]);
  CHECK(s.alpha[0] == doctest::Approx(0.55 * u0 / (u0 + u2)).epsilon(1e-14));
  CHECK(r.objective == doctest::Approx(r.weight[0] * r.group_loss[0] + r.weight[2] * r.group_loss[2]));

  // The paper's variant: the absent group's exponent is 0 and every group is renormalised.
  GroupState<double> z(3);
  z.alpha = {0.2, 0.45, 0.35};
  ObjectiveParams<GroupRobust> pz = p;
  pz.weighting.absent = AbsentGroups::zero_exponent;
  const auto rz = step<GrDpoMethod>(b.view(), pz, z);
  const double norm = u0 + 0.45 + u2;
  CHECK(z.alpha[1] == doctest::Approx(0.45 / norm).epsilon(1e-14));
  CHECK(z.alpha[0] == doctest::Approx(u0 / norm).epsilon(1e-14));
  CHECK(rz.objective == doctest::Approx(rz.weight[0] * rz.group_loss[0] + rz.weight[2] * rz.group_loss[2]));

  // An empty batch changes nothing.
  const Buffers empty;
  GroupState<double> e(3);
  e.alpha = {0.2, 0.45, 0.35};
  const auto re = step<GrDpoMethod>(empty.view(), p, e);
  CHECK(re.objective == 0.0);
  CHECK(e.alpha == std::vector<double>{0.2, 0.45, 0.35});
}
