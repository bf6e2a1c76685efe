#pragma once
// The largest relative L2 difference between corresponding rows of n values: how far one forward pass's
// logits are from another's. NaN where a row's difference is not a number (an unwritten NaN-filled output,
// say), so that any bound on it fails.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace skippy::test {

inline double row_error(const std::vector<float>& got, const std::vector<float>& want, int n) {
  double worst = 0;
  for (std::size_t r = 0; r * static_cast<std::size_t>(n) < want.size(); ++r) {
    double num = 0, den = 0;
    for (int v = 0; v < n; ++v) {
      const double a = got[r * static_cast<std::size_t>(n) + static_cast<std::size_t>(v)];
      const double b = want[r * static_cast<std::size_t>(n) + static_cast<std::size_t>(v)];
      num += (a - b) * (a - b);
      den += b * b;
    }
    const double e = std::sqrt(num / den);
    if (std::isnan(e)) return e;  // std::max would drop it
    worst = std::max(worst, e);
  }
  return worst;
}

}  // namespace skippy::test
