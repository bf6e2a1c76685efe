#pragma once
// Goodness of fit of observed counts to probabilities: Pearson's chi-square with cells of expected count
// below 20 pooled into one, standardised as (chi2 - df) / sqrt(2 df) (about N(0, 1) for many df).

#include <cmath>
#include <vector>

namespace skippy::test {

struct ChiSquare {
  double chi2 = 0;
  int df = -1;
  double z() const { return df > 0 ? (chi2 - df) / std::sqrt(2.0 * df) : 0.0; }
};

inline ChiSquare chi_square(const std::vector<long>& counts, const std::vector<float>& p, long runs) {
  ChiSquare r;
  double pooled_e = 0, pooled_o = 0;
  for (std::size_t v = 0; v < p.size(); ++v) {
    const double e = static_cast<double>(runs) * static_cast<double>(p[v]);
    const double o = static_cast<double>(counts[v]);
    if (e < 20) {
      pooled_e += e;
      pooled_o += o;
      continue;
    }
    r.chi2 += (o - e) * (o - e) / e;
    ++r.df;
  }
  if (pooled_e > 0) {
    r.chi2 += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++r.df;
  }
  return r;
}

}  // namespace skippy::test
