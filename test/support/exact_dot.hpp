#pragma once
// The double-precision dot product a float kernel is judged against, and the sum of |products| that
// scales its rounding error.

#include <cmath>
#include <cstddef>
#include <vector>

namespace skippy::test {

struct ExactDot {
  double value = 0.0, magnitude = 0.0;
};

inline ExactDot exact_dot(const std::vector<float>& a, const std::vector<float>& b) {
  ExactDot d;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double p = static_cast<double>(a[i]) * b[i];
    d.value += p;
    d.magnitude += std::fabs(p);
  }
  return d;
}

}  // namespace skippy::test
