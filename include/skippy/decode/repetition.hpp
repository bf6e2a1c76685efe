#pragma once
// Share of repeated n-grams in generated tokens: small models fall into loops, and loops are trivially
// easy to draft, so tau in free generation is reported next to this (README §1).

#include <cstddef>
#include <set>
#include <vector>

#include "../core/error.hpp"

namespace skippy {

// Fraction of the n-grams at positions 0..size-n that already occurred at an earlier position (0 when
// the sequence is shorter than n).
inline double repeated_ngram_share(const std::vector<int>& tokens, int n = 8) {
  require(n >= 1, "repeated_ngram_share: n must be >= 1, got ", n);
  if (tokens.size() < static_cast<std::size_t>(n)) return 0.0;
  std::set<std::vector<int>> seen;
  std::size_t repeated = 0, total = 0;
  for (std::size_t i = 0; i + static_cast<std::size_t>(n) <= tokens.size(); ++i, ++total)
    if (!seen.emplace(tokens.begin() + static_cast<long>(i), tokens.begin() + static_cast<long>(i) + n).second)
      ++repeated;
  return static_cast<double>(repeated) / static_cast<double>(total);
}

}  // namespace skippy
