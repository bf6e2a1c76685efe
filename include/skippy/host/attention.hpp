#pragma once
// Causal grouped-query attention of one query position over the KV cache (host reference). Keys are
// visited in absolute position order 0..pos, so a row's result is the same whatever block it came in.

#include <cmath>

#include "../math/reduce.hpp"
#include "../model/config.hpp"
#include "kv_cache.hpp"

namespace skippy::host {

// q: n_heads * head_dim values (RoPE applied); out: n_heads * head_dim; scores: pos + 1 floats of scratch.
inline void attend(const float* q, const KvCache& cache, int layer, int pos, const ModelConfig& c, float* out,
                   float* scores) {
  const int hd = c.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int h = 0; h < c.n_heads; ++h) {
    const int kvh = h / c.group_size();
    const float* qh = q + h * hd;
    float mx = -INFINITY;
    for (int j = 0; j <= pos; ++j) {
      scores[j] = math::dot(qh, cache.k(layer, j) + kvh * hd, hd) * scale;
      mx = std::fmax(mx, scores[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j <= pos; ++j) {
      scores[j] = std::exp(scores[j] - mx);
      sum += scores[j];
    }
    float* oh = out + h * hd;
    for (int i = 0; i < hd; ++i) oh[i] = 0.0f;
    for (int j = 0; j <= pos; ++j) {
      const float* vj = cache.v(layer, j) + kvh * hd;
      for (int i = 0; i < hd; ++i) oh[i] += scores[j] * vj[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < hd; ++i) oh[i] *= inv;
  }
}

}  // namespace skippy::host
