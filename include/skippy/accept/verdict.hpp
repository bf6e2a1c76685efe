#pragma once
// What an acceptance rule returns for one step, and the per-step context it draws randomness from.

#include <cstdint>

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

}  // namespace skippy::accept
