#pragma once
// Decoding statistics (README §1).

#include <array>

#include "../core/error.hpp"
#include "../policy/predictor.hpp"

namespace skippy {

struct DecodeStats {
  long steps = 0;     // verify passes (each emits n + 1 tokens unless generation stops inside the block)
  long drafted = 0;   // drafts proposed (K per step, fewer where K shrank near the end)
  long accepted = 0;  // drafts accepted
  long emitted = 0;   // tokens handed to the caller (a block cut by a stop condition counts what was used;
                      // accepted and the per-position counts keep the drafts the step accepted)
  std::array<long, max_predictors> reached{};          // steps in which draft position i was compared
  std::array<long, max_predictors> accepted_at{};      // ... and accepted
  std::array<long, max_predictors + 1> accept_count{};  // steps that accepted exactly n drafts
  double prefill_seconds = 0, draft_seconds = 0, verify_seconds = 0;

  // Mean tokens emitted per step.
  double tau() const { return steps ? static_cast<double>(emitted) / static_cast<double>(steps) : 0.0; }
  // Acceptance of draft position i (0-based) conditional on being reached.
  double acceptance(int i) const {
    require(i >= 0 && i < max_predictors, "DecodeStats::acceptance: draft position ", i, " outside [0, ",
            max_predictors, ")");
    const auto r = reached[static_cast<std::size_t>(i)];
    return r ? static_cast<double>(accepted_at[static_cast<std::size_t>(i)]) / static_cast<double>(r) : 0.0;
  }
  double decode_seconds() const { return draft_seconds + verify_seconds; }
  double tokens_per_second() const { return decode_seconds() > 0 ? static_cast<double>(emitted) / decode_seconds() : 0.0; }

  // Sums another run's counts and times into this one (evaluation over many independent starts).
  DecodeStats& operator+=(const DecodeStats& o) {
    steps += o.steps;
    drafted += o.drafted;
    accepted += o.accepted;
    emitted += o.emitted;
    for (std::size_t i = 0; i < reached.size(); ++i) {
      reached[i] += o.reached[i];
      accepted_at[i] += o.accepted_at[i];
    }
    for (std::size_t i = 0; i < accept_count.size(); ++i) accept_count[i] += o.accept_count[i];
    prefill_seconds += o.prefill_seconds;
    draft_seconds += o.draft_seconds;
    verify_seconds += o.verify_seconds;
    return *this;
  }
};

}  // namespace skippy
