#pragma once
// Options of one generate() call.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace skippy {

struct GenerateOptions {
  int max_new_tokens = 64;
  std::vector<int> end_tokens;  // generation stops right after emitting one of these

  bool is_end(int token) const { return std::find(end_tokens.begin(), end_tokens.end(), token) != end_tokens.end(); }
};

// Receives each emitted token as soon as it is known; returning false stops generation after it.
using TokenCallback = std::function<bool(int token)>;

}  // namespace skippy
