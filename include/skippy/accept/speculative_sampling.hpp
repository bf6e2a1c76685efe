#pragma once
// Lossless speculative sampling (Leviathan et al. / Chen et al.): d_i ~ q_i, accepted with probability
// min(1, p_i(d_i) / q_i(d_i)); the first rejection resamples from normalize(max(0, p_i - q_i)); if all K
// are accepted a bonus token comes from p_{K+1}. p and q are the *warped* distributions (temperature,
// top-k, top-p), and the q in the ratio is exactly the one d_i was drawn from. Temperature 0 is greedy.

#include <vector>

#include "../core/error.hpp"
#include "../rng/philox.hpp"
#include "../sampling/categorical.hpp"
#include "../sampling/warp.hpp"
#include "greedy.hpp"

namespace skippy::accept {

// The two formulas of a speculative step, shared with the device kernel: d ~ q is accepted when
// u < p(d) / q(d) (without the division; q(d) > 0 as d was drawn from q), and the residual a rejection
// resamples from is max(0, p - q), renormalised.
SKIPPY_HD_INLINE bool speculative_accepts(float u, float p_d, float q_d) { return u * q_d < p_d; }
SKIPPY_HD_INLINE float speculative_residual(float p, float q) { return p > q ? p - q : 0.0f; }

struct SpeculativeSamplingParams {
  sampling::WarpParams warp{};
};

class SpeculativeSampling {
 public:
  using Params = SpeculativeSamplingParams;
  static constexpr const char* name = "speculative-sampling";
  // Below this residual mass the residual is rounding noise: sample from p instead (README §1).
  static constexpr float min_residual_mass = 1e-6f;

  SpeculativeSampling(const Params& params, int vocab)
      : params_(params), vocab_(vocab), greedy_({}, vocab), p_(static_cast<std::size_t>(vocab)), residual_(p_.size()) {
    params_.warp.validate();
  }

  bool greedy() const { return params_.warp.temperature == 0.0f; }
  const Params& params() const { return params_; }

  int propose(int i, const float* draft_logits, const StepContext& ctx) {
    if (greedy()) return greedy_.propose(i, draft_logits, ctx);
    require(i == 0 || i == proposed_, "speculative-sampling acceptance: propose(", i, ") after ", proposed_,
            " drafts this step: a step proposes drafts 0, 1, ... in order");
    proposed_ = i + 1;
    if (q_.size() <= static_cast<std::size_t>(i)) q_.resize(static_cast<std::size_t>(i) + 1);
    auto& q = q_[static_cast<std::size_t>(i)];
    q.resize(static_cast<std::size_t>(vocab_));
    sampling::warp(draft_logits, q.data(), vocab_, params_.warp, order_);
    const float u = rng::uniform(ctx.seed, {static_cast<std::uint32_t>(i), ctx.position,
                                            rng::Purpose::draft_sample, ctx.sequence});
    return sampling::sample_categorical(q.data(), vocab_, u);
  }

  Verdict verify(const float* target_logits, const int* drafts, int k, const StepContext& ctx) {
    if (greedy()) return greedy_.verify(target_logits, drafts, k, ctx);
    // Draft i's q is the one propose(i) drew it from in this step, and only this step's are kept.
    require(k >= 0 && k <= proposed_, "speculative-sampling acceptance: verify of ", k, " drafts after ", proposed_,
            " proposed this step (each draft's q is the distribution propose drew it from)");
    proposed_ = 0;
    for (int i = 0; i < k; ++i) require_draft_in_vocab(name, drafts[i], i, vocab_);
    for (int i = 0; i < k; ++i) {
      warp_row(target_logits, i);
      const auto& q = q_[static_cast<std::size_t>(i)];
      const int d = drafts[i];
      const float u = rng::uniform(ctx.seed, {static_cast<std::uint32_t>(i), ctx.position,
                                              rng::Purpose::accept_test, ctx.sequence});
      if (speculative_accepts(u, p_[static_cast<std::size_t>(d)], q[static_cast<std::size_t>(d)])) continue;
      float mass = 0.0f;
      for (int v = 0; v < vocab_; ++v) {
        const auto at = static_cast<std::size_t>(v);
        residual_[at] = speculative_residual(p_[at], q[at]);
        mass += residual_[at];
      }
      const float* w = mass >= min_residual_mass ? residual_.data() : p_.data();
      return {i, sampling::sample_categorical(w, vocab_, final_uniform(ctx))};
    }
    warp_row(target_logits, k);
    return {k, sampling::sample_categorical(p_.data(), vocab_, final_uniform(ctx))};
  }

 private:
  void warp_row(const float* target_logits, int row) {
    sampling::warp(target_logits + static_cast<long>(row) * vocab_, p_.data(), vocab_, params_.warp, order_);
  }
  static float final_uniform(const StepContext& ctx) {
    return rng::uniform(ctx.seed, {0u, ctx.position, rng::Purpose::final_sample, ctx.sequence});
  }

  Params params_;
  int vocab_;
  Greedy greedy_;
  std::vector<float> p_, residual_;
  std::vector<std::vector<float>> q_;
  std::vector<int> order_;
  int proposed_ = 0;  // drafts proposed in this step, whose q_ verify may read
};

}  // namespace skippy::accept
