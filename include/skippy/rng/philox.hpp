#pragma once
// Counter-based Philox4x32-10 (Salmon et al., SC'11): the same (seed, counter) gives the same four
// 32-bit words on host and device, with no state to carry between steps or threads.
//
// Counter layout used by the decoders (DrawId):
//   key     = { seed & 0xffffffff, seed >> 32 }
//   counter = { index, position, purpose, sequence }
//     index    - lane inside a step: the draft position i (0-based) for draft/accept draws, 0 otherwise
//     position - absolute position t of the step's pending token (strictly increasing across steps)
//     purpose  - what the draw is for (Purpose below), so streams never overlap
//     sequence - the sequence id in a batch (0 for single-sequence decoding)
// Word 0 of the output block is the draw used; words 1..3 are spare.

#include <cstdint>

#include "../core/config.hpp"

namespace skippy::rng {

struct Philox4x32 {
  std::uint32_t v[4];
};

SKIPPY_HD_INLINE void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

SKIPPY_HD_INLINE Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
  constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += w0;
      k1 += w1;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(m0, ctr.v[0], hi0, lo0);
    mulhilo(m1, ctr.v[2], hi1, lo1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

enum class Purpose : std::uint32_t { draft_sample = 1, accept_test = 2, final_sample = 3, evaluation = 4 };

struct DrawId {
  std::uint32_t index;
  std::uint32_t position;
  Purpose purpose;
  std::uint32_t sequence;
};

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
SKIPPY_HD_INLINE float uniform(std::uint64_t seed, DrawId id) {
  const Philox4x32 out = philox4x32_10(
      Philox4x32{{id.index, id.position, static_cast<std::uint32_t>(id.purpose), id.sequence}},
      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  return static_cast<float>(out.v[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace skippy::rng
