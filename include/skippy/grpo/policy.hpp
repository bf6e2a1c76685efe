#pragma once
// Group-robust preference optimization (README §2): the preference loss and the group weighting are
// policies, chosen as template parameters; their runtime values (beta, chi, eta_alpha) live in small
// Params structs at namespace scope.
//
//   Loss policies       Dpo  -log sigmoid(beta*h)         Ipo  (h - 1/(2 beta))^2
//   Weighting policies  UniformWeights   w_g = N_g/N      (plain DPO/IPO: the pooled mean over samples)
//                       BalancedWeights  w_g = 1/G        (importance sampling / group-balanced)
//                       GroupRobust      w_g = (1-chi) N_g/N + chi alpha_g, alpha by mirror ascent
//                                        (or (1-chi)/G + chi alpha_g: GroupRobustParams::mix)
//
// Objective<Loss, Weighting> names one method (DPO = Objective<Dpo, UniformWeights>, GR-IPO =
// Objective<Ipo, GroupRobust>, ...) and rejects anything else with a readable static_assert.

#include <type_traits>

namespace skippy::grpo {

enum class LossKind { dpo, ipo };
enum class WeightingKind { uniform, balanced, group_robust };

// ---- loss policies ------------------------------------------------------------------------------------

// Runtime parameters of both losses.
struct LossParams {
  double beta = 0.1;  // DPO: scale of the implicit reward; IPO: target margin 1/(2 beta)
};

struct Dpo {
  static constexpr LossKind kind = LossKind::dpo;
  static constexpr const char* name = "DPO";
  using Params = LossParams;
};

struct Ipo {
  static constexpr LossKind kind = LossKind::ipo;
  static constexpr const char* name = "IPO";
  using Params = LossParams;
};

template <class T>
struct is_loss_policy : std::false_type {};
template <>
struct is_loss_policy<Dpo> : std::true_type {};
template <>
struct is_loss_policy<Ipo> : std::true_type {};
template <class T>
inline constexpr bool is_loss_policy_v = is_loss_policy<T>::value;

// ---- weighting policies -------------------------------------------------------------------------------

// Weightings without runtime parameters.
struct NoWeightingParams {};

// What the mirror-ascent step does with a group that has no sample in the batch.
enum class AbsentGroups {
  // README §2 (default): the group keeps its alpha exactly; the present groups are updated among
  // themselves and renormalised to the mass they held before, so the simplex constraint still holds.
  keep_alpha,
  // The paper's per-sample loop (Ramesh et al., Algorithm 1): the absent group's exponent is 0 and all
  // groups are renormalised together, so its alpha shrinks relative to groups with positive loss.
  zero_exponent,
};

// What GroupRobust mixes alpha with where chi < 1 (README §2 states both forms).
enum class RobustMix {
  sample_share,  // w_g = (1-chi) N_g/N + chi alpha_g (default): chi = 0 is plain DPO/IPO, the pooled mean
  balanced,      // w_g = (1-chi)/G + chi alpha_g: chi = 0 is the group-balanced weighting (importance sampling)
};

struct GroupRobustParams {
  double chi = 1.0;         // 1: pure worst case; 0: the mix's baseline alone
  double eta_alpha = 0.01;  // mirror-ascent step size of the group weights
  AbsentGroups absent = AbsentGroups::keep_alpha;
  RobustMix mix = RobustMix::sample_share;
};

struct UniformWeights {
  static constexpr WeightingKind kind = WeightingKind::uniform;
  static constexpr bool adaptive = false;  // no alpha state
  static constexpr const char* prefix = "";
  using Params = NoWeightingParams;
};

struct BalancedWeights {
  static constexpr WeightingKind kind = WeightingKind::balanced;
  static constexpr bool adaptive = false;
  static constexpr const char* prefix = "IS-";
  using Params = NoWeightingParams;
};

struct GroupRobust {
  static constexpr WeightingKind kind = WeightingKind::group_robust;
  static constexpr bool adaptive = true;  // carries alpha from step to step
  static constexpr const char* prefix = "GR-";
  using Params = GroupRobustParams;
};

template <class T>
struct is_weighting_policy : std::false_type {};
template <>
struct is_weighting_policy<UniformWeights> : std::true_type {};
template <>
struct is_weighting_policy<BalancedWeights> : std::true_type {};
template <>
struct is_weighting_policy<GroupRobust> : std::true_type {};
template <class T>
inline constexpr bool is_weighting_policy_v = is_weighting_policy<T>::value;

// ---- a method: loss x weighting -------------------------------------------------------------------------

template <class Weighting>
struct ObjectiveParams {
  LossParams loss{};
  typename Weighting::Params weighting{};
};

template <class Loss, class Weighting>
struct Objective {
  static_assert(!(is_weighting_policy_v<Loss> && is_loss_policy_v<Weighting>),
                "Objective<Loss, Weighting>: the arguments are swapped; write Objective<Dpo, GroupRobust>, "
                "loss first");
  static_assert(is_loss_policy_v<Loss>, "Objective<Loss, Weighting>: Loss must be grpo::Dpo or grpo::Ipo");
  static_assert(is_weighting_policy_v<Weighting>,
                "Objective<Loss, Weighting>: Weighting must be grpo::UniformWeights, grpo::BalancedWeights or "
                "grpo::GroupRobust");
  using loss = Loss;
  using weighting = Weighting;
  using Params = ObjectiveParams<Weighting>;
  static constexpr bool adaptive = Weighting::adaptive;
};

template <class T>
struct is_objective : std::false_type {};
template <class L, class W>
struct is_objective<Objective<L, W>> : std::true_type {};

// The five methods of the paper's synthetic experiment.
using DpoMethod = Objective<Dpo, UniformWeights>;
using IsDpoMethod = Objective<Dpo, BalancedWeights>;
using GrDpoMethod = Objective<Dpo, GroupRobust>;
using IpoMethod = Objective<Ipo, UniformWeights>;
using IsIpoMethod = Objective<Ipo, BalancedWeights>;
using GrIpoMethod = Objective<Ipo, GroupRobust>;

}  // namespace skippy::grpo
