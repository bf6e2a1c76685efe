#pragma once
// A log-linear policy trainer and the synthetic benchmark of the GRPO paper (README §2).
//
// Policy: pi_theta(a | s, g) = exp(theta . phi_g(s, a)) / sum_a' exp(theta . phi_g(s, a')), 8 actions, theta in R^4,
// one theta shared by both groups (the group enters only through the features, as the prompt does in an LLM).
// Reference: uniform, so log ref(y_w) - log ref(y_l) = 0 and h = theta . (phi(y_w) - phi(y_l)).
//
// Synthetic data (make_synthetic): state s ~ U(0,1)^2, action a in {0..7}, u = a/8 + 1,
//   group 0: phi = [u cos(pi s1), u cos(pi s2), sin(pi s1)/u, sin(pi s2)/u],  true theta* = [1, 3, 1, 3]
//   group 1: phi = [sin(pi s1)/u, sin(pi s2)/u, u cos(pi s1), u cos(pi s2)],  true theta* = [3, 1, 3, 1]
// A pair draws two distinct actions uniformly; the one with the higher true reward theta*_g . phi_g wins
// (deterministic preferences). Optionally (action_gap, the GRPO paper's "uneven" setting; not README §2's
// benchmark) a group's pairs compare a with a + d instead (a - d where a + d passes the last action): gap 1
// (neighbouring actions, close rewards) makes a group's preferences hard, gap 4 easy. Imbalance: the first
// round(minority_share * N) pairs belong to group 0 (the minority, 20% by default), the rest to group 1.
// Draws come from Philox (rng::uniform) keyed by the seed.
//
// Training (train<Method>), objective J(theta) = sum_g w_g L_g(theta) + lambda |theta|^2:
//   DPO-type losses: `steps` full-batch gradient steps theta <- theta - lr dJ/dtheta from theta = 0. The
//     gradient is closed form: the host kernels (host.hpp step) give c_i = dJ/dlog pi(y_w,i) = -dJ/dlog pi(y_l,i),
//     and dlog pi(a|s)/dtheta = phi(s,a) - E_pi[phi(s,.)].
//   IPO-type losses: for fixed weights the minimiser is weighted least squares,
//     theta = (Y^T W Y + lambda I)^-1 Y^T W t,  rows Y_i = phi(y_w) - phi(y_l),  W_ii = w_{g_i}/N_{g_i},  t_i = 1/(2 beta),
//     solved by Cholesky; GR-IPO alternates it with the mirror-ascent update of alpha, `steps` times.
//   GroupRobust: every step first updates alpha from the current group losses, then moves theta (README §2).
//
// Evaluation (evaluate<Loss>) on a validation set:
//   group loss L_g     = mean loss of group g's validation pairs under the method's own loss and beta;
//   worst_loss         = max_g L_g;
//   r_opt(g)           = mean over group g's validation states of max_a r*_g(s, a);
//   r_pi(g)            = mean over the same states of E_{a ~ pi_theta(.|s,g)} r*_g(s, a) (the expected true reward of
//                        the policy's full distribution over the 8 actions);
//   reward_error(g)    = (r_opt(g) - r_pi(g)) / r_opt(g);  max_reward_error = max_g reward_error(g).
// Every group must have pairs in the evaluation set (an absent one is an error, not a loss of 0).

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../rng/philox.hpp"
#include "formulas.hpp"
#include "host.hpp"
#include "policy.hpp"

namespace skippy::grpo::loglinear {

inline constexpr int dim = 4;      // feature dimension
inline constexpr int actions = 8;  // actions per state
inline constexpr int groups = 2;   // groups of the synthetic benchmark
inline constexpr double pi = 3.14159265358979323846;

using Vec = std::array<double, dim>;

inline double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (int k = 0; k < dim; ++k) s += a[static_cast<std::size_t>(k)] * b[static_cast<std::size_t>(k)];
  return s;
}

// phi_g(s, a) as specified above.
inline Vec features(int group, double s1, double s2, int action) {
  const double u = static_cast<double>(action) / 8.0 + 1.0;
  const Vec cos_half{u * std::cos(pi * s1), u * std::cos(pi * s2), std::sin(pi * s1) / u, std::sin(pi * s2) / u};
  if (group == 0) return cos_half;
  return Vec{cos_half[2], cos_half[3], cos_half[0], cos_half[1]};
}

inline Vec true_theta(int group) { return group == 0 ? Vec{1, 3, 1, 3} : Vec{3, 1, 3, 1}; }

inline double true_reward(int group, double s1, double s2, int action) {
  return dot(true_theta(group), features(group, s1, s2, action));
}

struct Pair {
  int group = 0;
  double s1 = 0, s2 = 0;
  int chosen = 0, rejected = 0;  // action ids: the chosen one has the higher true reward
};

// A pair the trainer can index: its group and both action ids in range, the actions distinct (a data set
// built by hand, not by make_synthetic, may break any of these).
inline const Pair& checked(const Pair& p, std::size_t i) {
  require(p.group >= 0 && p.group < groups, "grpo::loglinear: pair ", i, " has group ", p.group, ", outside 0..",
          groups - 1);
  require(p.chosen >= 0 && p.chosen < actions && p.rejected >= 0 && p.rejected < actions,
          "grpo::loglinear: pair ", i, " has action ids ", p.chosen, " and ", p.rejected, ", outside 0..", actions - 1);
  require(p.chosen != p.rejected, "grpo::loglinear: pair ", i, " chose and rejected the same action ", p.chosen);
  return p;
}

struct SyntheticConfig {
  int pairs = 300;              // N
  double minority_share = 0.2;  // share of group 0 (20/80 imbalance)
  // Per group: 0 compares two distinct actions drawn uniformly (README §2); d in 1..4 compares a with
  // a + d (or a - d). Groups of equal difficulty mirror each other, so group-balanced weights (IS) already
  // equalise their losses; {1, 4} (the paper's uneven setting: the minority hard) is where GR differs.
  std::array<int, 2> action_gap = {0, 0};
};

// The synthetic benchmark's uneven setting: a hard minority (neighbouring actions), an easy majority.
inline SyntheticConfig uneven_synthetic(SyntheticConfig cfg = {}) {
  cfg.action_gap = {1, 4};
  return cfg;
}

// Which independent Philox stream a data set is drawn from (training and validation never overlap).
enum class Split : std::uint32_t { train = 0x47520001u, validation = 0x47520002u };

inline std::vector<Pair> make_synthetic(std::uint64_t seed, const SyntheticConfig& cfg, Split split) {
  require(cfg.pairs >= 2, "grpo::loglinear: the synthetic set needs at least 2 pairs, got ", cfg.pairs);
  require(cfg.minority_share > 0.0 && cfg.minority_share < 1.0,
          "grpo::loglinear: minority_share must be in (0, 1), got ", cfg.minority_share);
  for (int g = 0; g < 2; ++g) {
    const int gap = cfg.action_gap[static_cast<std::size_t>(g)];
    require(gap >= 0 && gap <= actions / 2, "grpo::loglinear: action_gap of group ", g, " must be in 0..",
            actions / 2, " (0: uniform pairs), got ", gap);
  }
  const int minority = static_cast<int>(std::lround(cfg.minority_share * cfg.pairs));
  std::vector<Pair> out(static_cast<std::size_t>(cfg.pairs));
  const auto purpose = static_cast<rng::Purpose>(static_cast<std::uint32_t>(split));
  for (int i = 0; i < cfg.pairs; ++i) {
    const auto draw = [&](std::uint32_t field) {
      return static_cast<double>(rng::uniform(seed, rng::DrawId{static_cast<std::uint32_t>(i), field, purpose, 0u}));
    };
    Pair& p = out[static_cast<std::size_t>(i)];
    p.group = i < minority ? 0 : 1;
    p.s1 = draw(0);
    p.s2 = draw(1);
    const int a = static_cast<int>(draw(2) * actions);                 // 0..7
    int b = static_cast<int>(draw(3) * (actions - 1));                 // 0..6, skipping a
    if (b >= a) ++b;
    const int gap = cfg.action_gap[static_cast<std::size_t>(p.group)];
    if (gap > 0) b = a + gap < actions ? a + gap : a - gap;  // the uniform draws stay: the same states
    const bool a_wins = true_reward(p.group, p.s1, p.s2, a) >= true_reward(p.group, p.s1, p.s2, b);
    p.chosen = a_wins ? a : b;
    p.rejected = a_wins ? b : a;
  }
  return out;
}

// phi_g(s, a) of all 8 actions of one state.
using ActionFeatures = std::array<Vec, actions>;

inline ActionFeatures action_features(int group, double s1, double s2) {
  ActionFeatures f{};
  for (int a = 0; a < actions; ++a) f[static_cast<std::size_t>(a)] = features(group, s1, s2, a);
  return f;
}

// log pi_theta(. | s, g) over the 8 actions (stable log-softmax).
inline std::array<double, actions> log_policy(const Vec& theta, const ActionFeatures& phi) {
  std::array<double, actions> z{};
  double m = 0.0;
  for (std::size_t a = 0; a < z.size(); ++a) {
    z[a] = dot(theta, phi[a]);
    m = a == 0 ? z[0] : (z[a] > m ? z[a] : m);
  }
  double s = 0.0;
  for (const double v : z) s += formula::exp_shifted(v, m);
  const double lse = formula::logsumexp_finish(m, s);
  for (auto& v : z) v -= lse;
  return z;
}

inline std::array<double, actions> log_policy(const Vec& theta, int group, double s1, double s2) {
  return log_policy(theta, action_features(group, s1, s2));
}

// Solves A x = b for a symmetric positive definite n x n matrix A (row-major) by Cholesky.
inline std::vector<double> solve_spd(std::vector<double> a, std::vector<double> b, int n) {
  const auto at = [&](int i, int j) -> double& { return a[static_cast<std::size_t>(i * n + j)]; };
  for (int j = 0; j < n; ++j) {
    double d = at(j, j);
    for (int k = 0; k < j; ++k) d -= at(j, k) * at(j, k);
    require(d > 0.0, "grpo::loglinear: the weighted least-squares matrix is not positive definite (lambda = 0 "
                     "with too few distinct pairs?)");
    at(j, j) = std::sqrt(d);
    for (int i = j + 1; i < n; ++i) {
      double s = at(i, j);
      for (int k = 0; k < j; ++k) s -= at(i, k) * at(j, k);
      at(i, j) = s / at(j, j);
    }
  }
  for (int i = 0; i < n; ++i) {  // L y = b
    double s = b[static_cast<std::size_t>(i)];
    for (int k = 0; k < i; ++k) s -= at(i, k) * b[static_cast<std::size_t>(k)];
    b[static_cast<std::size_t>(i)] = s / at(i, i);
  }
  for (int i = n - 1; i >= 0; --i) {  // L^T x = y
    double s = b[static_cast<std::size_t>(i)];
    for (int k = i + 1; k < n; ++k) s -= at(k, i) * b[static_cast<std::size_t>(k)];
    b[static_cast<std::size_t>(i)] = s / at(i, i);
  }
  return b;
}

struct TrainConfig {
  double beta = 1.0;            // both losses
  int steps = 500;              // gradient steps (DPO-type) or alternations (IPO-type)
  double learning_rate = 0.5;   // DPO-type gradient steps
  double lambda = 1e-3;         // L2 penalty lambda |theta|^2 (both; the ridge term of the IPO solve)
  GroupRobustParams robust{1.0, 5.0, AbsentGroups::keep_alpha};  // chi, eta_alpha (GroupRobust methods only)
};

struct TrainResult {
  Vec theta{};
  std::vector<std::array<double, groups>> alpha;  // alpha after each step (alpha[0] = initial, uniform)
  std::vector<double> objective;                  // J before each step's theta move (without the L2 term)
};

// The preference batch of a data set under theta: policy log-probs of chosen/rejected, uniform reference.
struct BatchBuffers {
  std::vector<double> policy_chosen, policy_rejected, reference_chosen, reference_rejected;
  std::vector<int> group;
  PreferenceBatch<double> view() const {
    return PreferenceBatch<double>{policy_chosen, policy_rejected, reference_chosen, reference_rejected, group};
  }
};

// The features of every pair's state, computed once per data set.
inline std::vector<ActionFeatures> feature_table(const std::vector<Pair>& data) {
  std::vector<ActionFeatures> t(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) t[i] = action_features(data[i].group, data[i].s1, data[i].s2);
  return t;
}

inline BatchBuffers make_batch(const Vec& theta, const std::vector<Pair>& data,
                               const std::vector<ActionFeatures>& table) {
  require(table.size() == data.size(), "grpo::loglinear: the feature table does not match the data set");
  BatchBuffers b;
  const std::size_t n = data.size();
  b.policy_chosen.resize(n);
  b.policy_rejected.resize(n);
  b.reference_chosen.assign(n, -std::log(static_cast<double>(actions)));
  b.reference_rejected.assign(n, -std::log(static_cast<double>(actions)));
  b.group.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Pair& p = checked(data[i], i);
    const auto lp = log_policy(theta, table[i]);
    b.policy_chosen[i] = lp[static_cast<std::size_t>(p.chosen)];
    b.policy_rejected[i] = lp[static_cast<std::size_t>(p.rejected)];
    b.group[i] = p.group;
  }
  return b;
}

inline BatchBuffers make_batch(const Vec& theta, const std::vector<Pair>& data) {
  return make_batch(theta, data, feature_table(data));
}

// dJ/dtheta from the per-sample coefficients: sum_i c_w,i dlog pi(y_w)/dtheta + c_l,i dlog pi(y_l)/dtheta,
// dlog pi(a|s)/dtheta = phi(s,a) - E_pi[phi(s,.)].
inline Vec backprop(const Vec& theta, const std::vector<Pair>& data, const std::vector<ActionFeatures>& table,
                    const std::vector<double>& d_chosen, const std::vector<double>& d_rejected) {
  require(table.size() == data.size(), "grpo::loglinear: the feature table does not match the data set");
  detail::check_length(d_chosen.size(), data.size(), "d_chosen", "the data set");
  detail::check_length(d_rejected.size(), data.size(), "d_rejected", "the data set");
  Vec grad{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    const Pair& p = checked(data[i], i);
    const ActionFeatures& phi = table[i];
    const auto lp = log_policy(theta, phi);
    Vec mean{};
    for (std::size_t a = 0; a < phi.size(); ++a) {
      const double pa = std::exp(lp[a]);
      for (std::size_t k = 0; k < mean.size(); ++k) mean[k] += pa * phi[a][k];
    }
    const Vec& fw = phi[static_cast<std::size_t>(p.chosen)];
    const Vec& fl = phi[static_cast<std::size_t>(p.rejected)];
    for (std::size_t k = 0; k < grad.size(); ++k)
      grad[k] += d_chosen[i] * (fw[k] - mean[k]) + d_rejected[i] * (fl[k] - mean[k]);
  }
  return grad;
}

// theta = (Y^T W Y + lambda I)^-1 Y^T W t with W_ii = w_{g_i} / N_{g_i}, t_i = 1/(2 beta).
inline Vec weighted_least_squares(const std::vector<Pair>& data, const std::vector<double>& weight,
                                  const std::vector<int>& group_count, double beta, double lambda) {
  detail::check_length(weight.size(), groups, "weight", "the benchmark's groups");
  detail::check_length(group_count.size(), groups, "group_count", "the benchmark's groups");
  detail::check_group_counts(Span<const int>(group_count));
  for (std::size_t g = 0; g < weight.size(); ++g)
    require(formula::finite(weight[g]) && weight[g] >= 0.0, "grpo::loglinear: weight[", g,
            "] must be finite and >= 0, got ", weight[g]);
  detail::check_beta(beta);
  require(lambda >= 0.0 && formula::finite(lambda), "grpo::loglinear: lambda must be finite and >= 0, got ", lambda);
  std::vector<double> a(static_cast<std::size_t>(dim * dim), 0.0), rhs(static_cast<std::size_t>(dim), 0.0);
  const double target = formula::ipo_target(beta);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const Pair& p = checked(data[i], i);
    const auto g = static_cast<std::size_t>(p.group);
    // (a count of 0 would drop the group's pairs silently)
    require(group_count[g] > 0, "grpo::loglinear: pair ", i, " is in group ", g, ", whose group_count is 0");
    const double w = formula::sample_scale(weight[g], group_count[g]);
    const Vec fw = features(p.group, p.s1, p.s2, p.chosen), fl = features(p.group, p.s1, p.s2, p.rejected);
    Vec y{};
    for (int k = 0; k < dim; ++k) y[static_cast<std::size_t>(k)] = fw[static_cast<std::size_t>(k)] - fl[static_cast<std::size_t>(k)];
    for (int r = 0; r < dim; ++r) {
      rhs[static_cast<std::size_t>(r)] += w * y[static_cast<std::size_t>(r)] * target;
      for (int c = 0; c < dim; ++c)
        a[static_cast<std::size_t>(r * dim + c)] += w * y[static_cast<std::size_t>(r)] * y[static_cast<std::size_t>(c)];
    }
  }
  for (int k = 0; k < dim; ++k) a[static_cast<std::size_t>(k * dim + k)] += lambda;
  const auto x = solve_spd(a, rhs, dim);
  Vec theta{};
  for (int k = 0; k < dim; ++k) theta[static_cast<std::size_t>(k)] = x[static_cast<std::size_t>(k)];
  return theta;
}

// Trains Method = Objective<Loss, Weighting> on a data set from theta = 0 (see the top of the file).
template <class Method>
TrainResult train(const std::vector<Pair>& data, const TrainConfig& cfg) {
  static_assert(is_objective<Method>::value, "loglinear::train<Method>: Method must be grpo::Objective<Loss, Weighting>");
  using Loss = typename Method::loss;
  using Weighting = typename Method::weighting;
  require(cfg.steps >= 1, "grpo::loglinear: steps must be >= 1, got ", cfg.steps);
  require(cfg.lambda >= 0.0 && formula::finite(cfg.lambda), "grpo::loglinear: lambda must be finite and >= 0, got ",
          cfg.lambda);
  if constexpr (Loss::kind != LossKind::ipo)
    require(cfg.learning_rate > 0.0 && formula::finite(cfg.learning_rate),
            "grpo::loglinear: learning_rate must be positive and finite, got ", cfg.learning_rate);
  typename Method::Params params{};
  params.loss.beta = cfg.beta;
  if constexpr (Weighting::adaptive) params.weighting = cfg.robust;
  GroupState<double> state(groups);
  const std::vector<ActionFeatures> table = feature_table(data);
  TrainResult r;
  r.alpha.push_back({state.alpha[0], state.alpha[1]});
  for (int step = 0; step < cfg.steps; ++step) {
    const BatchBuffers buf = make_batch(r.theta, data, table);
    const StepResult<double> s = grpo::step<Method>(buf.view(), params, state);
    r.alpha.push_back({state.alpha[0], state.alpha[1]});
    r.objective.push_back(s.objective);
    if constexpr (Loss::kind == LossKind::ipo) {
      r.theta = weighted_least_squares(data, s.weight, s.group_count, cfg.beta, cfg.lambda);
    } else {
      const Vec grad = backprop(r.theta, data, table, s.d_chosen, s.d_rejected);
      for (int k = 0; k < dim; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        r.theta[kk] -= cfg.learning_rate * (grad[kk] + 2.0 * cfg.lambda * r.theta[kk]);
      }
    }
  }
  return r;
}

struct Evaluation {
  std::array<double, groups> group_loss{};
  std::array<double, groups> reward_error{};
  double worst_loss = 0.0;
  double max_reward_error = 0.0;
};

// Worst-group loss under Loss (with beta) and maximum per-group reward error (definitions at the top).
template <class Loss>
Evaluation evaluate(const Vec& theta, const std::vector<Pair>& data, double beta) {
  static_assert(is_loss_policy_v<Loss>, "loglinear::evaluate<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  const BatchBuffers buf = make_batch(theta, data);
  const std::size_t n = data.size();
  std::vector<double> margin(n), loss(n), sum(groups), mean(groups);
  std::vector<int> count(groups);
  sample_losses<Loss>(buf.view(), groups, beta, Span<double>(margin), Span<double>(loss));
  group_reduce(Span<const int>(buf.group), Span<const double>(loss), groups, Span<double>(sum), Span<int>(count),
               Span<double>(mean));
  for (std::size_t g = 0; g < static_cast<std::size_t>(groups); ++g)  // a loss or error of 0 would hide it
    require(count[g] > 0, "grpo::loglinear::evaluate: group ", g, " has no pairs in the evaluation set");
  Evaluation e;
  std::array<double, groups> r_opt{}, r_pi{};
  for (const Pair& p : data) {
    const auto lp = log_policy(theta, p.group, p.s1, p.s2);
    double best = 0.0, expected = 0.0;
    for (int a = 0; a < actions; ++a) {
      const double r = true_reward(p.group, p.s1, p.s2, a);
      best = a == 0 ? r : (r > best ? r : best);
      expected += std::exp(lp[static_cast<std::size_t>(a)]) * r;
    }
    r_opt[static_cast<std::size_t>(p.group)] += best;
    r_pi[static_cast<std::size_t>(p.group)] += expected;
  }
  for (std::size_t g = 0; g < static_cast<std::size_t>(groups); ++g) {
    e.group_loss[g] = mean[g];
    // Relative to r_opt: with r_opt <= 0 (a few states whose best reward is negative) the ratio would call
    // a worse policy better, or divide by zero.
    require(r_opt[g] > 0.0, "grpo: group ", g, "'s optimal reward over the validation pairs is ", r_opt[g],
            " (<= 0): the relative reward error is undefined; validate on more pairs");
    e.reward_error[g] = (r_opt[g] - r_pi[g]) / r_opt[g];
    e.worst_loss = g == 0 ? e.group_loss[g] : (e.group_loss[g] > e.worst_loss ? e.group_loss[g] : e.worst_loss);
    e.max_reward_error =
        g == 0 ? e.reward_error[g] : (e.reward_error[g] > e.max_reward_error ? e.reward_error[g] : e.max_reward_error);
  }
  return e;
}

}  // namespace skippy::grpo::loglinear
