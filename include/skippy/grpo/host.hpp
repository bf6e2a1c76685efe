#pragma once
// Host kernels of group-robust preference optimization (README §2), the reference backend.
//
// Inputs per sample i: log pi(y_w), log pi(y_l) under the policy being trained, the same under the frozen
// reference, and a group id in 0..G-1. Pipeline of one step (step() runs it all):
//   1. sample_losses        h_i, l_i = loss(h_i)
//   2. group_reduce         S_g = sum of l_i over group g (in sample order), N_g, L_g = S_g / N_g (0 if N_g = 0)
//   3. update_alpha         mirror ascent alpha_g <- alpha_g exp(eta L_g), renormalised (GroupRobust only)
//   4. group_weights        w_g of the weighting policy (with the updated alpha)
//   5. weighted_objective   J = sum_g w_g L_g
//   6. gradient_coefficients  dJ/dlog pi(y_w,i) = (w_g / N_g) l'(h_i) and dJ/dlog pi(y_l,i) = -that, so a
//                           runtime back-propagates J through its own model (alpha held fixed, as in §2).
// A group absent from the batch contributes nothing to J and, by default, keeps its alpha exactly
// (AbsentGroups::keep_alpha; see policy.hpp for the paper's alternative).
// Every rejected input throws skippy::Error naming the field, the sample index and the bad value.

#include <climits>
#include <cstddef>
#include <limits>
#include <vector>

#include "../core/error.hpp"
#include "formulas.hpp"
#include "policy.hpp"

namespace skippy::grpo {

// A non-owning view of a contiguous array (C++17 has no std::span); converts from std::vector.
template <class T>
struct Span {
  T* data = nullptr;
  std::size_t size = 0;

  constexpr Span() = default;
  constexpr Span(T* p, std::size_t n) : data(p), size(n) {}
  template <class U, class A>
  Span(std::vector<U, A>& v) : data(v.data()), size(v.size()) {}  // NOLINT: implicit on purpose
  template <class U, class A>
  Span(const std::vector<U, A>& v) : data(v.data()), size(v.size()) {}  // NOLINT: implicit on purpose

  T& operator[](std::size_t i) const { return data[i]; }
  T* begin() const { return data; }
  T* end() const { return data + size; }
};

// One mini-batch of preference pairs, as sequence log-probabilities.
template <class Real>
struct PreferenceBatch {
  Span<const Real> policy_chosen;       // log pi_theta(y_w | x)
  Span<const Real> policy_rejected;     // log pi_theta(y_l | x)
  Span<const Real> reference_chosen;    // log pi_ref(y_w | x)
  Span<const Real> reference_rejected;  // log pi_ref(y_l | x)
  Span<const int> group;                // g_i in 0..G-1

  std::size_t size() const { return group.size; }
};

namespace detail {

template <class Real>
void check_finite_field(Span<const Real> v, const char* field) {
  for (std::size_t i = 0; i < v.size; ++i)
    require(formula::finite(v[i]), "grpo: ", field, "[", i, "] is not finite (", v[i], ")");
}

inline void check_groups(int groups) { require(groups >= 1, "grpo: the number of groups must be >= 1, got ", groups); }

inline void check_group_ids(Span<const int> group, int groups) {
  for (std::size_t i = 0; i < group.size; ++i)
    require(group[i] >= 0 && group[i] < groups, "grpo: group id ", group[i], " of sample ", i,
            " is out of range 0..", groups - 1);
}

inline void check_length(std::size_t got, std::size_t want, const char* field, const char* of) {
  require(got == want, "grpo: mismatched lengths: ", field, " has ", got, " entries, ", of, " has ", want);
}

inline const char* real_name(float) { return "float"; }
inline const char* real_name(double) { return "double"; }

// beta > 0 and finite, and IPO's target 1/(2 beta) finite too (a tiny beta would make it inf).
// IPO's loss squares h - 1/(2 beta): a target whose square overflows would make every loss infinite.
template <class Real>
bool beta_fits(Real beta) {
  const Real target = formula::ipo_target(beta);
  return beta > Real(0) && formula::finite(beta) && formula::finite(target) && formula::finite(target * target);
}

template <class Real>
void check_beta(Real beta) {
  require(beta_fits(beta), "grpo: beta must be positive and finite, with 1/(2 beta) and its square finite, got ",
          beta);
}

// beta as the kernels' Real: checked before and after the conversion (1e-50 would become 0 in float, 1e39 inf).
template <class Real>
Real narrow_beta(double beta) {
  check_beta(beta);
  const bool in_range = beta <= static_cast<double>(std::numeric_limits<Real>::max());  // the cast is defined
  const Real b = in_range ? static_cast<Real>(beta) : Real(0);
  require(in_range && beta_fits(b), "grpo: beta = ", beta, " does not fit ", real_name(b),
          " (it becomes 0 or overflows, or 1/(2 beta) or its square overflows)");
  return b;
}

inline void check_eta(double eta_alpha) {
  require(formula::finite(eta_alpha) && eta_alpha >= 0.0, "grpo: eta_alpha must be finite and >= 0, got ", eta_alpha);
}

inline void check_chi(double chi) { require(chi >= 0.0 && chi <= 1.0, "grpo: chi must be in [0, 1], got ", chi); }

// A count of samples (or responses, positions) a caller passes beside device pointers.
inline void check_count(long n, const char* what) { require(n >= 0, "grpo: ", what, " must be >= 0, got ", n); }

// Group counts N_g are ints: a batch holds at most INT_MAX samples.
inline void check_batch_size(std::size_t n) {
  require(n <= static_cast<std::size_t>(INT_MAX), "grpo: a batch of ", n, " samples exceeds ", INT_MAX,
          " (group counts are int)");
}

inline void check_group_counts(Span<const int> count) {
  for (std::size_t g = 0; g < count.size; ++g)
    require(count[g] >= 0, "grpo: group_count[", g, "] must be >= 0, got ", count[g]);
}

template <class Real>
void check_alpha(Span<const Real> alpha) {
  for (std::size_t g = 0; g < alpha.size; ++g)
    require(formula::finite(alpha[g]) && alpha[g] >= Real(0), "grpo: alpha[", g, "] must be finite and >= 0, got ",
            alpha[g]);
}

}  // namespace detail

// Throws skippy::Error unless all five arrays have one length, every group id is in 0..groups-1 and every
// log-probability is finite.
template <class Real>
void validate(const PreferenceBatch<Real>& b, int groups) {
  detail::check_groups(groups);
  const std::size_t n = b.group.size;
  detail::check_length(b.policy_chosen.size, n, "policy_chosen", "group");
  detail::check_length(b.policy_rejected.size, n, "policy_rejected", "group");
  detail::check_length(b.reference_chosen.size, n, "reference_chosen", "group");
  detail::check_length(b.reference_rejected.size, n, "reference_rejected", "group");
  detail::check_group_ids(b.group, groups);
  detail::check_finite_field(b.policy_chosen, "policy_chosen");
  detail::check_finite_field(b.policy_rejected, "policy_rejected");
  detail::check_finite_field(b.reference_chosen, "reference_chosen");
  detail::check_finite_field(b.reference_rejected, "reference_rejected");
}

// Step 1: margins h_i and losses l_i (the batch is validated first; an h or l_i that overflows Real throws).
template <class Loss, class Real>
void sample_losses(const PreferenceBatch<Real>& b, int groups, double beta, Span<Real> margin, Span<Real> loss) {
  static_assert(is_loss_policy_v<Loss>, "grpo::sample_losses<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  validate(b, groups);
  const Real beta_r = detail::narrow_beta<Real>(beta);
  const std::size_t n = b.size();
  detail::check_length(margin.size, n, "margin", "the batch");
  detail::check_length(loss.size, n, "loss", "the batch");
  for (std::size_t i = 0; i < n; ++i) {
    margin[i] = formula::margin(b.policy_chosen[i], b.reference_chosen[i], b.policy_rejected[i],
                                b.reference_rejected[i]);
    loss[i] = formula::loss<Loss>(margin[i], beta_r);
    // Finite log-probabilities far apart (e.g. -3e38 and 3e38 in float) overflow h or the loss: an inf here
    // would reach J and the gradients silently under fixed weights.
    require(formula::finite(margin[i]) && formula::finite(loss[i]), "grpo: the margin or loss of sample ", i,
            " is not finite in ", detail::real_name(Real{}), " (h = ", margin[i], ", loss ", loss[i],
            "): its log-probabilities are too far apart");
  }
}

// Step 2: per-group sums (in sample order, accumulated in double whatever Real is: a float running sum of
// millions of losses drifts by percents), counts and mean losses L_g (0 for an absent group).
template <class Real>
void group_reduce(Span<const int> group, Span<const Real> loss, int groups, Span<Real> group_sum,
                  Span<int> group_count, Span<Real> group_loss) {
  detail::check_groups(groups);
  detail::check_length(loss.size, group.size, "loss", "group");
  const auto g_size = static_cast<std::size_t>(groups);
  detail::check_length(group_sum.size, g_size, "group_sum", "the group count");
  detail::check_length(group_count.size, g_size, "group_count", "the group count");
  detail::check_length(group_loss.size, g_size, "group_loss", "the group count");
  detail::check_group_ids(group, groups);
  detail::check_batch_size(group.size);
  std::vector<double> sum(g_size, 0.0);
  for (std::size_t g = 0; g < g_size; ++g) group_count[g] = 0;
  for (std::size_t i = 0; i < group.size; ++i) {
    sum[static_cast<std::size_t>(group[i])] += static_cast<double>(loss[i]);
    ++group_count[static_cast<std::size_t>(group[i])];
  }
  for (std::size_t g = 0; g < g_size; ++g) {
    group_sum[g] = static_cast<Real>(sum[g]);
    group_loss[g] = static_cast<Real>(formula::group_mean(sum[g], group_count[g]));
  }
}

// Step 3: one mirror-ascent step of the group weights alpha (in place), computed in double whatever Real
// is (eta_alpha is never narrowed); an exponent log alpha_g + eta L_g that overflows even there is an error.
//   keep_alpha:    groups with N_g = 0 keep alpha_g; the others become
//                  alpha_g exp(eta L_g) / sum_{present} alpha_h exp(eta L_h) * (their mass before the step).
//   zero_exponent: every group is updated, absent ones with L_g = 0 (the paper's algorithm).
template <class Real>
void update_alpha(Span<Real> alpha, Span<const Real> group_loss, Span<const int> group_count, double eta_alpha,
                  AbsentGroups absent = AbsentGroups::keep_alpha) {
  const std::size_t g_size = alpha.size;
  require(g_size >= 1, "grpo: alpha is empty");
  detail::check_length(group_loss.size, g_size, "group_loss", "alpha");
  detail::check_length(group_count.size, g_size, "group_count", "alpha");
  detail::check_eta(eta_alpha);
  detail::check_alpha(Span<const Real>(alpha.data, alpha.size));
  detail::check_group_counts(group_count);
  for (std::size_t g = 0; g < g_size; ++g)
    require(formula::finite(group_loss[g]), "grpo: group_loss[", g, "] is not finite (", group_loss[g], ")");
  const auto updated = [&](std::size_t g) { return absent == AbsentGroups::zero_exponent || group_count[g] > 0; };
  const double eta = eta_alpha;
  const auto a = [&](std::size_t g) { return static_cast<double>(alpha[g]); };
  const auto l = [&](std::size_t g) { return static_cast<double>(group_loss[g]); };
  bool any = false;  // an updated group with a positive alpha (zero ones stay zero)
  double shift = 0.0, mass = 0.0;
  for (std::size_t g = 0; g < g_size; ++g) {
    if (!updated(g)) continue;
    mass += a(g);
    if (!(a(g) > 0.0)) continue;
    const double e = formula::mirror_exponent(a(g), eta, l(g));
    require(formula::finite(e), "grpo: the mirror-ascent exponent log alpha + eta_alpha * group_loss of group ", g,
            " overflows (eta_alpha ", eta_alpha, ", group_loss ", group_loss[g], ")");
    if (!any || e > shift) shift = e;
    any = true;
  }
  if (!any) return;
  double sum = 0.0;
  for (std::size_t g = 0; g < g_size; ++g)
    if (updated(g)) sum += formula::mirror_unnormalised(a(g), eta, l(g), shift);
  for (std::size_t g = 0; g < g_size; ++g)
    if (updated(g))
      alpha[g] = formula::mirror_alpha<Real>(a(g), eta, l(g), shift, mass, sum);
}

// Step 4: the weights w_g of the weighting policy. alpha is read only by GroupRobust (may be empty otherwise).
template <class Weighting, class Real>
void group_weights(Span<const Real> alpha, Span<const int> group_count, const typename Weighting::Params& params,
                   Span<Real> weight) {
  static_assert(is_weighting_policy_v<Weighting>,
                "grpo::group_weights<Weighting>: Weighting must be UniformWeights, BalancedWeights or GroupRobust");
  const std::size_t g_size = group_count.size;
  require(g_size >= 1, "grpo: group_count is empty");
  detail::check_length(weight.size, g_size, "weight", "group_count");
  detail::check_group_counts(group_count);
  Real chi = Real(0);
  bool balanced_mix = false;
  if constexpr (Weighting::adaptive) {
    detail::check_length(alpha.size, g_size, "alpha", "group_count");
    detail::check_alpha(alpha);
    detail::check_chi(params.chi);
    chi = static_cast<Real>(params.chi);
    balanced_mix = params.mix == RobustMix::balanced;
  } else {
    (void)params;
  }
  long long total = 0;
  for (std::size_t g = 0; g < g_size; ++g) total += group_count[g];
  require(total <= INT_MAX, "grpo: the group counts sum to ", total, ", more than ", INT_MAX);
  for (std::size_t g = 0; g < g_size; ++g) {
    const Real a = Weighting::adaptive ? alpha[g] : Real(0);
    weight[g] = formula::group_weight<Weighting>(a, chi, group_count[g], static_cast<int>(total),
                                                 static_cast<int>(g_size), balanced_mix);
  }
}

// Step 5: J = sum_g w_g L_g (absent groups have L_g = 0).
template <class Real>
Real weighted_objective(Span<const Real> weight, Span<const Real> group_loss) {
  detail::check_length(group_loss.size, weight.size, "group_loss", "weight");
  Real j = Real(0);
  for (std::size_t g = 0; g < weight.size; ++g) j += weight[g] * group_loss[g];
  return j;
}

// Step 6: per-sample gradient coefficients c_i = dJ/dlog pi(y_w,i) = (w_g / N_g) l'(h_i), and
// dJ/dlog pi(y_l,i) = -c_i. Multiply by d log pi / d theta of the runtime's model and sum.
template <class Loss, class Real>
void gradient_coefficients(Span<const Real> margin, Span<const int> group, Span<const Real> weight,
                           Span<const int> group_count, double beta, Span<Real> d_chosen, Span<Real> d_rejected) {
  static_assert(is_loss_policy_v<Loss>, "grpo::gradient_coefficients<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  const Real beta_r = detail::narrow_beta<Real>(beta);
  const std::size_t n = group.size;
  detail::check_length(margin.size, n, "margin", "group");
  detail::check_length(d_chosen.size, n, "d_chosen", "group");
  detail::check_length(d_rejected.size, n, "d_rejected", "group");
  detail::check_length(group_count.size, weight.size, "group_count", "weight");
  detail::check_group_ids(group, static_cast<int>(weight.size));
  detail::check_group_counts(group_count);
  for (std::size_t i = 0; i < n; ++i) {
    const auto g = static_cast<std::size_t>(group[i]);
    const Real c = formula::sample_scale(weight[g], group_count[g]) *
                   formula::dloss<Loss>(margin[i], beta_r);
    d_chosen[i] = c;
    d_rejected[i] = -c;
  }
}

// ---- the whole step ---------------------------------------------------------------------------------------

template <class Real>
struct StepResult {
  std::vector<Real> margin, loss;                // per sample
  std::vector<Real> group_sum, group_loss;       // per group: S_g, L_g
  std::vector<int> group_count;                  // per group: N_g
  std::vector<Real> weight;                      // per group: w_g (with the updated alpha)
  Real objective = Real(0);                      // J = sum_g w_g L_g
  std::vector<Real> d_chosen, d_rejected;        // per sample: dJ/dlog pi(y_w), dJ/dlog pi(y_l)
};

// Group weights carried between steps (GroupRobust); alpha starts uniform.
template <class Real>
struct GroupState {
  std::vector<Real> alpha;
  explicit GroupState(int groups) {
    detail::check_groups(groups);
    alpha.assign(static_cast<std::size_t>(groups), Real(1) / static_cast<Real>(groups));
  }
  int groups() const { return static_cast<int>(alpha.size()); }
};

// Runs steps 1-6 for Method = Objective<Loss, Weighting>; for GroupRobust, state.alpha is updated first
// (mirror ascent on this batch's group losses) and the weights use the new alpha.
template <class Method, class Real>
StepResult<Real> step(const PreferenceBatch<Real>& b, const typename Method::Params& params, GroupState<Real>& state) {
  static_assert(is_objective<Method>::value,
                "grpo::step<Method>: Method must be grpo::Objective<Loss, Weighting> (e.g. grpo::GrDpoMethod)");
  using Loss = typename Method::loss;
  using Weighting = typename Method::weighting;
  // The weighting's parameters before anything runs: a bad chi found after update_alpha would throw
  // with state.alpha already moved.
  if constexpr (Weighting::adaptive) {
    detail::check_chi(params.weighting.chi);
    detail::check_eta(params.weighting.eta_alpha);
  }
  const int groups = state.groups();
  const std::size_t n = b.size();
  const auto gs = static_cast<std::size_t>(groups);
  StepResult<Real> r;
  r.margin.resize(n);
  r.loss.resize(n);
  sample_losses<Loss>(b, groups, params.loss.beta, Span<Real>(r.margin), Span<Real>(r.loss));
  r.group_sum.resize(gs);
  r.group_loss.resize(gs);
  r.group_count.resize(gs);
  group_reduce(b.group, Span<const Real>(r.loss), groups, Span<Real>(r.group_sum), Span<int>(r.group_count),
               Span<Real>(r.group_loss));
  if constexpr (Weighting::adaptive)
    update_alpha(Span<Real>(state.alpha), Span<const Real>(r.group_loss), Span<const int>(r.group_count),
                 params.weighting.eta_alpha, params.weighting.absent);
  r.weight.resize(gs);
  group_weights<Weighting>(Span<const Real>(state.alpha), Span<const int>(r.group_count), params.weighting,
                           Span<Real>(r.weight));
  r.objective = weighted_objective(Span<const Real>(r.weight), Span<const Real>(r.group_loss));
  r.d_chosen.resize(n);
  r.d_rejected.resize(n);
  gradient_coefficients<Loss>(Span<const Real>(r.margin), b.group, Span<const Real>(r.weight),
                              Span<const int>(r.group_count), params.loss.beta, Span<Real>(r.d_chosen),
                              Span<Real>(r.d_rejected));
  return r;
}

}  // namespace skippy::grpo
