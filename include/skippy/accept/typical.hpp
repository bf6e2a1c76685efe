#pragma once
// Typical acceptance (Medusa): drafts are the draft argmax; d_i is accepted while
// p_i(d_i) > min(eps, delta * exp(-H(p_i))), p_i = softmax(target logits / temperature). Fast, not
// lossless. The token after the last accepted draft is the target's argmax.

#include <cmath>
#include <vector>

#include "../core/config.hpp"
#include "../sampling/argmax.hpp"
#include "../sampling/warp.hpp"
#include "verdict.hpp"

namespace skippy::accept {

// The acceptance threshold as a formula of its own, so tests and the device kernel share it.
SKIPPY_HD_INLINE float typical_threshold(float entropy, float eps, float delta) {
  return fminf(eps, delta * expf(-entropy));
}

struct TypicalParams {
  float temperature = 1.0f;
  float eps = 0.09f;   // hard threshold
  float delta = 0.3f;  // entropy-scaled threshold
};

class Typical {
 public:
  using Params = TypicalParams;
  static constexpr const char* name = "typical";

  Typical(const Params& params, int vocab)
      : params_(params), vocab_(vocab), p_(static_cast<std::size_t>(vocab)) {
    require(std::isfinite(params.temperature) && params.temperature > 0.0f && std::isfinite(1.0f / params.temperature),
            "typical acceptance: temperature must be > 0 and at least ~3e-39 (1 / temperature must be finite), got ",
            params.temperature);
    require(params.eps > 0.0f && params.eps <= 1.0f, "typical acceptance: eps must be in (0, 1], got ", params.eps);
    require(params.delta > 0.0f, "typical acceptance: delta must be > 0, got ", params.delta);
  }

  const Params& params() const { return params_; }

  int propose(int /*i*/, const float* draft_logits, const StepContext&) const {
    return sampling::argmax(draft_logits, vocab_);
  }

  Verdict verify(const float* target_logits, const int* drafts, int k, const StepContext&) {
    int n = 0;
    for (; n < k; ++n) {
      require_draft_in_vocab(name, drafts[n], n, vocab_);
      const float* row = target_logits + static_cast<long>(n) * vocab_;
      sampling::softmax(row, p_.data(), vocab_, params_.temperature);
      const float h = sampling::entropy(p_.data(), vocab_);
      if (!(p_[static_cast<std::size_t>(drafts[n])] > typical_threshold(h, params_.eps, params_.delta))) break;
    }
    return {n, sampling::argmax(target_logits + static_cast<long>(n) * vocab_, vocab_)};
  }

 private:
  Params params_;
  int vocab_;
  std::vector<float> p_;
};

}  // namespace skippy::accept
