#pragma once
// The checks the device sampling kernels are judged by against the host rules, shared by the emulated
// and the GPU tests. A warp (kernels::warp_rows) against sampling::warp: the same tokens kept, except
// that top-p's boundary (a float sum compared with a limit, summed in another order) may flip one token,
// which must then be the least probable of the tokens kept; and within the tokens both keep, the same
// probabilities, each side renormalised over them. A draw (kernels::sample_row) against
// sampling::sample_categorical: the same token, or one at a boundary within the host's own float drift.

#include <skippy/accept/typical.hpp>
#include <skippy/sampling/argmax.hpp>
#include <skippy/sampling/warp.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace skippy::test {

// rows x n logits: Gaussian (standard deviation `scale`), or on 7 integer levels (many exact ties).
inline std::vector<float> random_logits(int rows, int n, bool ties, std::uint32_t seed, float scale = 2.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, scale);
  std::uniform_int_distribution<int> level(0, 6);
  std::vector<float> x(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n));
  for (float& v : x) v = ties ? static_cast<float>(level(rng)) : g(rng);
  return x;
}

struct WarpComparison {
  int kept = 0;             // tokens the host keeps
  int only = 0;             // tokens one side keeps and the other does not
  int may_flip = 1;         // how many of those top-p's boundary allows (below)
  bool flip_least = true;   // each such token is no more probable than any token both keep
  int differ = 0;           // tokens both keep whose renormalised probabilities differ
  double mass = 0.0;        // the device's probabilities summed
  // What is allowed: no flip without top-p, with it the least probable tokens, as many as the host's own
  // float drift spans, no difference, and a distribution (a sum of 1 up to rounding).
  bool ok(const sampling::WarpParams& w) const {
    return only <= (w.top_p < 1.0f ? may_flip : 0) && flip_least && differ == 0 && std::fabs(mass - 1.0) < 1e-4;
  }
};

// The warp parameters the tests take each of the device warp's ways through: temperature alone, top-k
// alone (a bound from the threads' maxima), top-p alone (bounded where the maxima hold its mass, else
// the whole row), both, and a k above the threads (no bound). (Top-k 50 then top-p 0.9 over 50 tied
// tokens would put the cut exactly on token 45: rounding alone decides it, on the host as on the device;
// 0.87 keeps the tied case decidable.)
inline std::vector<sampling::WarpParams> warp_grid() {
  return {{1.0f, 0, 1.0f},   {0.7f, 5, 1.0f}, {1.3f, 0, 0.6f},     {1.0f, 50, 0.87f},
          {0.5f, 3, 0.35f},  {1.0f, 0, 0.9f}, {2.0f, 999, 0.999f}, {0.8f, 40, 0.95f}};
}

// Temperatures at which logit / T overflows float (the warp scales differences from the max instead):
// one-hot rows, or even mass over tied maxima; alone, and with cuts over those rows.
inline std::vector<sampling::WarpParams> tiny_temperature_warps() { return {{1e-37f, 0, 1.0f}, {1e-30f, 2, 0.5f}}; }
// A subnormal top_p, alone and after top-k: its limit (top_p times the mass) may round to 0, which must
// still keep the top token.
inline std::vector<sampling::WarpParams> subnormal_top_p_warps() { return {{1.0f, 2, 1e-44f}, {1.0f, 0, 1e-44f}}; }

// logits: one row of n values; got: the device's warped row. Top-p's boundary is a float sum of the kept
// mass compared with a limit, summed in another order on each side: one token may flip, or more where
// the boundary falls in a run of equal probabilities that the host's float drift spans (its running sum
// and the mass its limit is a share of, each summed one value at a time, against the exact sums).
inline WarpComparison compare_warp(const float* logits, const float* got, int n, const sampling::WarpParams& w) {
  std::vector<float> want(static_cast<std::size_t>(n)), plain(want.size());
  std::vector<int> order;
  sampling::warp(logits, want.data(), n, w, order);
  sampling::softmax(logits, plain.data(), n, w.temperature);
  WarpComparison c;
  float smallest_common = 1.0f, largest_only = 0.0f;
  double sg = 0, sh = 0;
  for (int v = 0; v < n; ++v) {
    const float g = got[v], h = want[static_cast<std::size_t>(v)];
    c.mass += g;
    c.kept += h > 0.0f;
    if ((g > 0.0f) != (h > 0.0f)) {
      ++c.only;
      largest_only = std::max(largest_only, plain[static_cast<std::size_t>(v)]);
    } else if (h > 0.0f) {
      smallest_common = std::min(smallest_common, plain[static_cast<std::size_t>(v)]);
      sg += g;
      sh += h;
    }
  }
  c.flip_least = largest_only <= smallest_common;
  if (c.only > 1) {  // the host's drift, in tokens of the boundary's value: its limit's and its running sum's
    const int keep_k = w.top_k > 0 && w.top_k < n ? w.top_k : n;
    float mass = 0.0f, running = 0.0f;
    double mass_exact = 0.0, running_exact = 0.0;
    for (int r = 0; r < keep_k; ++r) {
      const float v = plain[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
      mass += v;
      mass_exact += v;
      if (want[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] == 0.0f) continue;
      running += v;
      running_exact += v;
    }
    const double drift = std::fabs(running - running_exact) + w.top_p * std::fabs(mass - mass_exact);
    c.may_flip = 1 + static_cast<int>(2.0 * drift / smallest_common);
  }
  for (int v = 0; v < n; ++v) {
    const double g = got[v] / sg, h = want[static_cast<std::size_t>(v)] / sh;
    if (g > 0.0 && h > 0.0) c.differ += std::fabs(g - h) > 1e-7 + 2e-5 * h;
  }
  return c;
}

// Whether two draws from the weights w[0..n) with the uniform u may differ by rounding alone: at the
// lower of the two ids the exact cumulative sum lies within the host's own float drift (its running sum
// and total against the exact ones) of u * total. The host sums up to 128k floats one by one and drifts;
// the device's chunked sums do not.
inline bool draws_at_boundary(const float* w, int n, float u, int got, int want) {
  double total = 0, cum = 0;
  float total_f = 0, cum_f = 0;
  for (int v = 0; v < n; ++v) {
    total += w[v];
    total_f += w[v];
    if (v <= std::min(got, want)) {
      cum += w[v];
      cum_f += w[v];
    }
  }
  const double drift = std::fabs(cum_f - cum) + std::fabs(total_f - total);
  return std::fabs(cum - u * total) <= 2 * drift + 1e-6 * total;
}

// A typical-acceptance trial: k + 1 target rows of n logits and the step's block [0, d_1..d_k], each
// draft its row's argmax or, one time in four, another token (so acceptance stops at varied places).
// decidable is false where a draft's probability lies within rounding of its threshold.
struct TypicalTrial {
  std::vector<float> target;
  std::vector<int> block;
  bool decidable = true;
};
inline TypicalTrial typical_trial(int trial, int k, int n, const accept::TypicalParams& params) {
  TypicalTrial t;
  t.target = random_logits(k + 1, n, false, static_cast<std::uint32_t>(9000 + trial), 3.0f);
  std::mt19937 rng(static_cast<std::uint32_t>(trial));
  t.block = {0};
  for (int i = 0; i < k; ++i)
    t.block.push_back(rng() % 4 == 0 ? static_cast<int>(rng() % static_cast<unsigned>(n))
                                     : sampling::argmax(t.target.data() + static_cast<long>(i) * n, n));
  std::vector<float> p(static_cast<std::size_t>(n));
  for (int i = 0; i < k; ++i) {
    sampling::softmax(t.target.data() + static_cast<long>(i) * n, p.data(), n, params.temperature);
    const float thr = accept::typical_threshold(sampling::entropy(p.data(), n), params.eps, params.delta);
    const float pd = p[static_cast<std::size_t>(t.block[static_cast<std::size_t>(i + 1)])];
    t.decidable = t.decidable && std::fabs(pd - thr) >= 1e-4f * thr;
  }
  return t;
}

}  // namespace skippy::test
