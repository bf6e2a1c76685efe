#pragma once
// Logits -> warped probabilities: temperature, then top-k, then top-p (nucleus), renormalised.
// Ranks are by probability descending with ties to the lowest id; top-p then keeps a token while the
// renormalised top-k mass ranked strictly before it is below p (so the top token always stays). This is the reference
// semantics the device kernels reproduce without sorting.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace skippy::sampling {

// The unnormalised softmax weight of a logit at inverse temperature inv_t, given the row's largest logit;
// and a probability's entropy term. Host loops and device kernels share both. Scaling the difference
// (<= 0) rather than each logit keeps tiny temperatures finite: logit * inv_t overflows to inf where
// (logit - max) * inv_t only falls to -inf, a weight of 0. The difference itself overflows only between
// logits near float's range ends (-3e38 against 3e38); a huge temperature (inv_t < 1) can still make their
// scaled difference finite, so then each is scaled first (a select, not a branch, on the device).
SKIPPY_HD_INLINE float softmax_weight(float logit, float inv_t, float max_logit) {
  const float d = logit - max_logit;
  return expf(d >= -FLT_MAX ? d * inv_t : logit * inv_t - max_logit * inv_t);
}
SKIPPY_HD_INLINE float entropy_term(float p) { return p > 0.0f ? -p * logf(p) : 0.0f; }

// Top-p's limit: top_p times the mass it acts on, never below the smallest normal float, so that a product
// rounding to 0 (a subnormal top_p over a small top-k mass) still keeps the top token rather than none.
SKIPPY_HD_INLINE float top_p_limit(float top_p, float mass) {
  const float limit = top_p * mass;
  return limit > 0x1p-126f ? limit : 0x1p-126f;
}

struct WarpParams {
  float temperature = 1.0f;  // > 0 (temperature 0 is greedy and never warps)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off

  void validate() const {
    require(std::isfinite(temperature) && temperature >= 0.0f, "temperature must be finite and >= 0, got ",
            temperature);
    require(temperature == 0.0f || std::isfinite(1.0f / temperature),
            "temperature must be 0 (greedy) or at least ~3e-39 (1 / temperature must be finite), got ", temperature);
    require(top_k >= 0, "top_k must be >= 0 (0 disables it), got ", top_k);
    require(top_p > 0.0f && top_p <= 1.0f, "top_p must be in (0, 1], got ", top_p);
  }
};

// softmax(logits / temperature) into p (n values); returns nothing, p sums to 1. Temperature 0 is greedy
// and has no softmax (every p would be NaN): an error here, as in warp().
inline void softmax(const float* logits, float* p, int n, float temperature) {
  require(temperature > 0.0f && std::isfinite(1.0f / temperature), "sampling::softmax: temperature must be > 0 ",
          "with 1 / temperature finite (temperature 0 is greedy: take the argmax), got ", temperature);
  const float inv_t = 1.0f / temperature;
  float mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    p[i] = softmax_weight(logits[i], inv_t, mx);
    sum += p[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) p[i] *= inv;
}

// Full warp into p. `order` is scratch reused across calls.
inline void warp(const float* logits, float* p, int n, const WarpParams& w, std::vector<int>& order) {
  softmax(logits, p, n, w.temperature);
  const bool use_k = w.top_k > 0 && w.top_k < n;
  const bool use_p = w.top_p < 1.0f;
  if (!use_k && !use_p) return;
  order.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto by_rank = [p](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
  const int keep_k = use_k ? w.top_k : n;
  std::partial_sort(order.begin(), order.begin() + keep_k, order.end(), by_rank);
  int keep = keep_k;
  if (use_p) {
    // top-p acts on top-k's output: mass is measured against the renormalised top-k distribution.
    float kept_mass = 0.0f;
    for (int r = 0; r < keep_k; ++r) kept_mass += p[order[static_cast<std::size_t>(r)]];
    const float limit = top_p_limit(w.top_p, kept_mass);
    float before = 0.0f;
    for (int r = 0; r < keep_k; ++r) {
      if (before >= limit) {
        keep = r;
        break;
      }
      before += p[order[static_cast<std::size_t>(r)]];
    }
  }
  float sum = 0.0f;
  for (int r = 0; r < keep; ++r) sum += p[order[static_cast<std::size_t>(r)]];
  for (int r = keep; r < n; ++r) p[order[static_cast<std::size_t>(r)]] = 0.0f;
  const float inv = 1.0f / sum;
  for (int r = 0; r < keep; ++r) p[order[static_cast<std::size_t>(r)]] *= inv;
}

// Entropy in nats of a probability vector.
inline float entropy(const float* p, int n) {
  float h = 0.0f;
  for (int i = 0; i < n; ++i) h += entropy_term(p[i]);
  return h;
}

}  // namespace skippy::sampling
