#pragma once
// What an acceptance rule returns for one step, and the per-step context it draws randomness from.

#include <cstdint>

#include "../core/error.hpp"

namespace skippy::accept {

struct Verdict {
  int accepted;  // n in 0..K: drafts d_1..d_n are kept
  int next;      // the correction (n < K) or bonus (n == K) token
};

struct StepContext {
  std::uint64_t seed = 0;
  std::uint32_t position = 0;  // absolute position t of the step's pending token
  std::uint32_t sequence = 0;
};

// A draft id handed to a rule's verify, where the rule indexes a distribution with it: a caller driving the
// rule directly (not through a decoder, which checks what propose returned) may pass any int.
inline void require_draft_in_vocab(const char* rule, int id, int i, int vocab) {
  require(id >= 0 && id < vocab, rule, " acceptance: verify got token id ", id, " for draft ", i + 1,
          ", outside the vocabulary [0, ", vocab, ")");
}

}  // namespace skippy::accept
