#pragma once
// A search for the last x of [lo, hi] where a monotone predicate holds (it holds on a prefix, and at lo by
// assumption), probing probes = ways - 1 evenly spaced points per round. The device's top-k and top-p cuts
// use it on the bit patterns of probabilities: each round is one pass over the vocabulary and one block
// reduction for all its probes, so 16 ways take 8 rounds for the 2^31 patterns where bisection took 31.
// The boundary of a monotone predicate is unique, so the answer is bisection's whatever the probes.

#include <cstdint>

#include "../core/config.hpp"

namespace skippy::math {

struct MultiwaySearch {
  static constexpr int ways = 16;
  static constexpr int probes = ways - 1;

  // Probe j (0 <= j < ways) of [lo, hi]: lo + floor(j * size / ways), size = hi - lo + 1; probe 0 is lo.
  // Non-decreasing in j, and at most hi for j < ways.
  SKIPPY_HD_INLINE static std::uint32_t probe(std::uint32_t lo, std::uint32_t hi, int j) {
    const std::uint64_t size = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::uint32_t>(size * static_cast<std::uint64_t>(j) / ways);
  }

  // After a round: holds = how many of probes 1..probes the predicate holds at (a prefix of them). The
  // range shrinks to [probe(holds), probe(holds + 1) - 1] (or [probe(probes), hi]), strictly while lo < hi.
  SKIPPY_HD_INLINE static void narrow(std::uint32_t& lo, std::uint32_t& hi, int holds) {
    const std::uint32_t first = probe(lo, hi, holds);
    const std::uint32_t last = holds == probes ? hi : probe(lo, hi, holds + 1) - 1;
    lo = first;
    hi = last;
  }
};

}  // namespace skippy::math
