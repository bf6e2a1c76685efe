#pragma once
// The GRPO formulas, written once as __host__ __device__ code and used by the host kernels (host.hpp,
// sequence_logprob.hpp) and the CUDA kernels (cuda.cuh). Real is float or double.

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../core/config.hpp"
#include "policy.hpp"

namespace skippy::grpo::formula {

// Precision-matched elementary functions (the C names exist on host and device alike).
SKIPPY_HD_INLINE float exp_(float x) { return expf(x); }
SKIPPY_HD_INLINE double exp_(double x) { return exp(x); }
SKIPPY_HD_INLINE float log_(float x) { return logf(x); }
SKIPPY_HD_INLINE double log_(double x) { return log(x); }
SKIPPY_HD_INLINE float log1p_(float x) { return log1pf(x); }
SKIPPY_HD_INLINE double log1p_(double x) { return log1p(x); }
// x is finite (not NaN, not +-inf), read from the exponent bits: -ffast-math lets a compiler fold
// isfinite(x), and x == x, to true, so NaN inputs would pass the checks unseen.
template <class Real>
SKIPPY_HD_INLINE bool finite(Real x) {
  static_assert(sizeof(Real) == 4 || sizeof(Real) == 8, "formula::finite: Real must be float or double");
  if constexpr (sizeof(Real) == 4) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) != 0x7f800000u;
  } else {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
  }
}

// ---- per sample ---------------------------------------------------------------------------------------

// h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l)); dh/dlogpi(y_w) = 1, dh/dlogpi(y_l) = -1.
template <class Real>
SKIPPY_HD_INLINE Real margin(Real policy_chosen, Real reference_chosen, Real policy_rejected,
                             Real reference_rejected) {
  return (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected);
}

// log sigmoid(x) = -log(1 + e^-x), without overflow for either sign.
template <class Real>
SKIPPY_HD_INLINE Real log_sigmoid(Real x) {
  return x >= Real(0) ? -log1p_(exp_(-x)) : x - log1p_(exp_(x));
}

// sigmoid(x) without overflow for either sign.
template <class Real>
SKIPPY_HD_INLINE Real sigmoid(Real x) {
  if (x >= Real(0)) return Real(1) / (Real(1) + exp_(-x));
  const Real e = exp_(x);
  return e / (Real(1) + e);
}

// IPO's target margin 1/(2 beta) (the loss is (h - target)^2; the log-linear IPO solve regresses on it).
template <class Real>
SKIPPY_HD_INLINE Real ipo_target(Real beta) {
  return Real(1) / (Real(2) * beta);
}

// Per-sample loss l(h).
template <class Loss, class Real>
SKIPPY_HD_INLINE Real loss(Real h, Real beta) {
  static_assert(is_loss_policy_v<Loss>, "formula::loss<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  if constexpr (Loss::kind == LossKind::dpo) {
    return -log_sigmoid(beta * h);
  } else {
    const Real d = h - ipo_target(beta);
    return d * d;
  }
}

// dl/dh.  DPO: -beta * sigmoid(-beta h).  IPO: 2 (h - 1/(2 beta)).
template <class Loss, class Real>
SKIPPY_HD_INLINE Real dloss(Real h, Real beta) {
  static_assert(is_loss_policy_v<Loss>, "formula::dloss<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  if constexpr (Loss::kind == LossKind::dpo) {
    return -beta * sigmoid(-beta * h);
  } else {
    return Real(2) * (h - ipo_target(beta));
  }
}

// ---- per group ----------------------------------------------------------------------------------------

// L_g = mean loss of group g's samples; 0 for a group absent from the batch (it contributes nothing).
template <class Real>
SKIPPY_HD_INLINE Real group_mean(Real sum, int count) {
  return count > 0 ? sum / static_cast<Real>(count) : Real(0);
}

// w_g of the weighting policy. alpha, chi and balanced_mix are ignored by the fixed weightings.
//   UniformWeights: N_g/N.   BalancedWeights: 1/G.
//   GroupRobust: (1-chi) N_g/N + chi alpha_g, or with balanced_mix (RobustMix::balanced) (1-chi)/G + chi alpha_g.
template <class Weighting, class Real>
SKIPPY_HD_INLINE Real group_weight(Real alpha_g, Real chi, int count_g, int count, int groups,
                                   bool balanced_mix = false) {
  static_assert(is_weighting_policy_v<Weighting>,
                "formula::group_weight<Weighting>: Weighting must be UniformWeights, BalancedWeights or GroupRobust");
  const Real share = count > 0 ? static_cast<Real>(count_g) / static_cast<Real>(count) : Real(0);
  if constexpr (Weighting::kind == WeightingKind::uniform) {
    (void)alpha_g, (void)chi, (void)groups, (void)balanced_mix;
    return share;
  } else if constexpr (Weighting::kind == WeightingKind::balanced) {
    (void)alpha_g, (void)chi, (void)share, (void)balanced_mix;
    return Real(1) / static_cast<Real>(groups);
  } else {
    const Real base = balanced_mix ? Real(1) / static_cast<Real>(groups) : share;
    return (Real(1) - chi) * base + chi * alpha_g;
  }
}

// Mirror ascent, one group: alpha_g exp(eta L_g), computed as exp(e_g - shift) from the exponent
// e_g = log alpha_g + eta L_g, where shift is the largest exponent of the groups being updated whose alpha
// is positive (a zero alpha stays zero). Every factor lies in [0, 1] and the largest is 1, so their sum is
// at least 1 for any eta L and any alpha: no overflow, and no sum underflowing to 0 (with a shift by the
// largest loss alone, alpha = [1, 0], L = [0, 1], eta = 1000 gave [0, 0]). Normalising cancels the shift.
template <class Real>
SKIPPY_HD_INLINE Real mirror_exponent(Real alpha_g, Real eta, Real loss_g) {
  return log_(alpha_g) + eta * loss_g;
}
template <class Real>
SKIPPY_HD_INLINE Real mirror_unnormalised(Real alpha_g, Real eta, Real loss_g, Real shift) {
  return alpha_g > Real(0) ? exp_(mirror_exponent(alpha_g, eta, loss_g) - shift) : Real(0);
}

// The renormalised alpha: unnormalised_g * mass / sum, where mass is the total alpha of the updated groups
// before the step (1 when every group is updated) and sum the total of their unnormalised values.
template <class Real>
SKIPPY_HD_INLINE Real mirror_normalise(Real unnormalised_g, Real mass, Real sum) {
  return sum > Real(0) ? unnormalised_g * (mass / sum) : unnormalised_g;
}

// The smallest positive normal value of Real.
SKIPPY_HD_INLINE float smallest_normal(float) { return FLT_MIN; }
SKIPPY_HD_INLINE double smallest_normal(double) { return DBL_MIN; }

// The new alpha_g as Real, from the step's double arithmetic: alpha_g exp(eta L_g) (shifted) times
// mass / sum. A positive alpha stays at least Real's smallest normal value: exact mirror ascent never
// reaches 0, but a group far behind underflows there, and a zero alpha stays zero, so the group could
// never regain weight however large its losses became (eta 10, losses {1, 0} for 100 steps in double).
// An alpha the caller set to 0 stays 0.
template <class Real>
SKIPPY_HD_INLINE Real mirror_alpha(double alpha_g, double eta, double loss_g, double shift, double mass, double sum) {
  const Real a = static_cast<Real>(mirror_normalise(mirror_unnormalised(alpha_g, eta, loss_g, shift), mass, sum));
  return alpha_g > 0.0 && a < smallest_normal(Real(0)) ? smallest_normal(Real(0)) : a;
}

// d objective / d l_i for a sample of group g: w_g / N_g (objective = sum_g w_g * mean_{i in g} l_i).
template <class Real>
SKIPPY_HD_INLINE Real sample_scale(Real weight_g, int count_g) {
  return count_g > 0 ? weight_g / static_cast<Real>(count_g) : Real(0);
}

// ---- sequence log-probability (the fused step) ----------------------------------------------------------
// log p_t(y_t) = z_t[y_t] - logsumexp_v z_t[v];  logsumexp = m + log(sum_v exp(z_v - m)), m = max_v z_v.
// d/dz_t[v] of sum_t mask_t log p_t(y_t) = mask_t (1[v == y_t] - softmax_t[v]).

template <class Real>
SKIPPY_HD_INLINE Real logsumexp_finish(Real max, Real sum_exp_shifted) {
  return max + log_(sum_exp_shifted);
}

template <class Real>
SKIPPY_HD_INLINE Real exp_shifted(Real z, Real max) {
  return exp_(z - max);
}

// coef * mask * (onehot - softmax) for one logit; lse is the position's logsumexp.
template <class Real>
SKIPPY_HD_INLINE Real dlogit(Real z, Real lse, bool is_target, Real coef) {
  const Real p = exp_(z - lse);
  return coef * ((is_target ? Real(1) : Real(0)) - p);
}

}  // namespace skippy::grpo::formula
