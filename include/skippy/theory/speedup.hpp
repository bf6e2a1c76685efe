#pragma once
// The S3D speed-up model of README §1, usable at compile time:
//   E[tau] = 1 + sum_i prod_{j<=i} a_j                      (a_j: acceptance of draft position j given reached)
//   IF     = E[tau] * T_AR / (T_draft + T_verify(K+1))
// with times either measured or from the weight-byte cost model of a memory-bound device, where a step
// reads every weight once to verify (T_verify(K+1) ~ T_AR) and the draft reads the kept layers' weights
// once (simultaneous) or K times (sequential): IF = E[tau] / (1 + c).

#include <array>
#include <cstddef>

#include "../core/error.hpp"
#include "../decode/stats.hpp"
#include "../model/config.hpp"
#include "../policy/predictor.hpp"
#include "../policy/skip_range.hpp"

namespace skippy::theory {

// Per-position acceptance probabilities a_1..a_K (conditional on the position being reached).
struct Acceptance {
  std::array<double, max_predictors> a{};
  int k = 0;
};

// The checks below throw at run time and, in a constant expression, fail to compile (a call of a
// non-constexpr function), naming what is wrong either way.
constexpr void check_k(int k, const char* who) {
  if (k < 0 || k > max_predictors) detail::fail(who, ": K = ", k, " outside [0, ", max_predictors, "]");
}

constexpr double expected_tau(const Acceptance& acc) {
  check_k(acc.k, "expected_tau");
  double tau = 1.0, reach = 1.0;
  for (int i = 0; i < acc.k; ++i) {
    const double a = acc.a[static_cast<std::size_t>(i)];
    if (!(a >= 0.0 && a <= 1.0)) detail::fail("expected_tau: acceptance of draft position ", i + 1, " is ", a,
                                                ", not a probability");
    reach *= a;
    tau += reach;
  }
  return tau;
}

// E[tau] * T_AR / (T_draft + T_verify).
constexpr double improvement_factor(double tau, double t_ar, double t_draft, double t_verify) {
  return tau * t_ar / (t_draft + t_verify);
}

// The LM head's share of a full pass's weight bytes for a model (every pass reads all of it; the
// embedding lookup reads one row, so it is left out).
inline double head_fraction(const ModelConfig& c) {
  require(c.n_layers > 0 && c.dim > 0 && c.vocab > 0 && c.n_heads > 0 && c.n_kv_heads >= 0 && c.ffn_dim >= 0,
          "head_fraction: a model needs layers, dim, vocab and heads > 0 (got ", c.n_layers, ", ", c.dim, ", ",
          c.vocab, ", ", c.n_heads, ")");
  const double layer = 2.0 * c.dim * c.dim + 2.0 * c.kv_dim() * c.dim + 3.0 * c.dim * c.ffn_dim;
  const double head = static_cast<double>(c.vocab) * c.dim;
  return head / (head + c.n_layers * layer);
}

// The fraction of a full pass's weight bytes that one step's drafting reads. Layers are taken as equal
// in size; `head_fraction` is the LM head's share of a full pass, which the draft reads too (once per
// draft pass).
constexpr double draft_fraction(int n_layers, int skip_begin, int skip_end, int k, DraftMode mode,
                                double head_fraction = 0.0) {
  if (!(n_layers > 0 && 0 <= skip_begin && skip_begin <= skip_end && skip_end <= n_layers))
    detail::fail("draft_fraction: skip range [", skip_begin, ", ", skip_end, ") must lie within ", n_layers,
                 " layers (and there must be some)");
  if (!(head_fraction >= 0.0 && head_fraction <= 1.0))
    detail::fail("draft_fraction: head_fraction ", head_fraction, " outside [0, 1]");
  check_k(k, "draft_fraction");
  const double layer_share = 1.0 - head_fraction;
  const double kept = static_cast<double>(n_layers - (skip_end - skip_begin)) / static_cast<double>(n_layers);
  const double pass = head_fraction + layer_share * kept;
  switch (mode) {
    case DraftMode::none:
      return 0.0;
    case DraftMode::simultaneous:
      return pass;
    case DraftMode::sequential:
      return static_cast<double>(k) * pass;
  }
  return 0.0;
}

// IF = E[tau] / (1 + c) under the weight-byte cost model, K = acc.k. Without drafts (DraftMode::none) a
// step is an AR step: exactly 1, whatever acc holds.
constexpr double predicted_speedup(const Acceptance& acc, int n_layers, int skip_begin, int skip_end, DraftMode mode,
                                   double head_fraction = 0.0) {
  if (mode == DraftMode::none) return 1.0;
  return expected_tau(acc) / (1.0 + draft_fraction(n_layers, skip_begin, skip_end, acc.k, mode, head_fraction));
}

// The first Predictor::k positions of acc: the type's K, not whatever acc was calibrated for (acc must
// cover them).
template <class Predictor>
constexpr Acceptance for_predictor(Acceptance acc) {
  static_assert(is_predictor<Predictor>::value, "for_predictor<Predictor>: expected a predictor policy");
  check_k(acc.k, "for_predictor");
  if (acc.k < Predictor::k)
    detail::fail("theory: an acceptance of ", acc.k, " positions for a predictor with K = ", Predictor::k);
  acc.k = Predictor::k;
  return acc;
}

template <class Skip, class Predictor>
constexpr double predicted_speedup(const Acceptance& acc, int n_layers, double head_fraction = 0.0) {
  static_assert(is_skip_range<Skip>::value && is_predictor<Predictor>::value,
                "predicted_speedup<Skip, Predictor>: expected a SkipRange<B, E> and a predictor policy");
  return predicted_speedup(for_predictor<Predictor>(acc), n_layers, Skip::begin, Skip::end, Predictor::mode,
                           head_fraction);
}

// Calibration: the per-position acceptance a run measured (accepted_i / reached_i); a position the run
// never reached counts as 0 (a short run of a poor configuration; calibrate with the run's own K).
inline Acceptance calibrate(const DecodeStats& s, int k) {
  check_k(k, "calibrate");
  Acceptance acc;
  acc.k = k;
  for (int i = 0; i < k; ++i) acc.a[static_cast<std::size_t>(i)] = s.acceptance(i);
  return acc;
}

// A candidate configuration with its (calibrated or assumed) acceptance.
struct Candidate {
  int skip_begin = 0;
  int skip_end = 0;
  DraftMode mode = DraftMode::none;
  Acceptance acceptance{};
};

// Index of the candidate with the highest predicted speed-up (ties to the lowest index).
template <std::size_t N>
constexpr std::size_t best_index(const std::array<Candidate, N>& c, int n_layers, double head_fraction = 0.0) {
  static_assert(N > 0, "best_index: no candidates");
  std::size_t best = 0;
  double best_if = -1.0;
  for (std::size_t i = 0; i < N; ++i) {
    const double f = predicted_speedup(c[i].acceptance, n_layers, c[i].skip_begin, c[i].skip_end, c[i].mode,
                                       head_fraction);
    if (f > best_if) {
      best_if = f;
      best = i;
    }
  }
  return best;
}

// A configuration as a type, and the candidate it describes.
template <class Skip, class Predictor>
struct Config {
  using skip = Skip;
  using predictor = Predictor;
  static constexpr Candidate candidate(const Acceptance& acc) {
    return Candidate{Skip::begin, Skip::end, Predictor::mode, for_predictor<Predictor>(acc)};
  }
};

}  // namespace skippy::theory
