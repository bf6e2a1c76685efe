#pragma once
// Greedy acceptance: drafts are the draft argmax; d_i is accepted while it equals the target argmax.

#include "../sampling/argmax.hpp"
#include "verdict.hpp"

namespace skippy::accept {

class Greedy {
 public:
  struct Params {};  // no knobs
  static constexpr const char* name = "greedy";

  Greedy(const Params&, int vocab) : vocab_(vocab) {}

  int propose(int /*i*/, const float* draft_logits, const StepContext&) {
    return sampling::argmax(draft_logits, vocab_);
  }

  // target_logits holds k+1 rows of vocab values: row i is the target's distribution after d_i (row 0
  // after x_t).
  Verdict verify(const float* target_logits, const int* drafts, int k, const StepContext&) const {
    int n = 0;
    while (n < k && drafts[n] == sampling::argmax(target_logits + static_cast<long>(n) * vocab_, vocab_)) ++n;
    return {n, sampling::argmax(target_logits + static_cast<long>(n) * vocab_, vocab_)};
  }

 private:
  int vocab_;
};

}  // namespace skippy::accept
