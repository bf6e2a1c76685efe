#pragma once
// Causal grouped-query attention of one query position over the KV cache (host reference). Keys are
// visited in absolute position order 0..pos, so a row's result is the same whatever block it came in.

#include <cmath>
#include <cstddef>

#include "../math/reduce.hpp"
#include "../model/config.hpp"
#include "kv_cache.hpp"

namespace skippy::host {

namespace detail {
// out[i] = sum_j p[j] * v_j[i] for i < N, j = 0..keys-1 in order, v_j = v + j * stride. N is fixed so that
// the N sums stay in registers: accumulating into the output row instead, the compiler must store and
// reload it for every key (it may alias the cache), which made this loop most of the host's attention time.
template <int N>
void weighted_sum(const float* p, const float* v, std::size_t stride, int keys, float* out) {
  float o[N] = {};
  for (int j = 0; j < keys; ++j) {
    const float* vj = v + static_cast<std::size_t>(j) * stride;
    for (int i = 0; i < N; ++i) o[i] += p[j] * vj[i];
  }
  for (int i = 0; i < N; ++i) out[i] = o[i];
}
}  // namespace detail

// q: n_heads * head_dim values (RoPE applied); out: n_heads * head_dim; scores: pos + 1 floats of scratch.
inline void attend(const float* q, const KvCache& cache, int layer, int pos, const ModelConfig& c, float* out,
                   float* scores) {
  const int hd = c.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const std::size_t stride = static_cast<std::size_t>(cache.kv_dim());
  for (int h = 0; h < c.n_heads; ++h) {
    const int kvh = h / c.group_size();
    const float* qh = q + h * hd;
    float mx = -INFINITY;
    for (int j = 0; j <= pos; ++j) {
      const float s = math::dot(qh, cache.k(layer, j) + kvh * hd, hd) * scale;
      scores[j] = s;
      mx = s > mx ? s : mx;  // a NaN score never becomes the maximum (as with fmax, without its call)
    }
    float sum = 0.0f;
    for (int j = 0; j <= pos; ++j) {
      scores[j] = std::exp(scores[j] - mx);
      sum += scores[j];
    }
    float* oh = out + h * hd;
    const float* v = cache.v(layer, 0) + kvh * hd;
    int i = 0;
    for (; i + 32 <= hd; i += 32) detail::weighted_sum<32>(scores, v + i, stride, pos + 1, oh + i);
    for (; i < hd; i += 2) detail::weighted_sum<2>(scores, v + i, stride, pos + 1, oh + i);  // validate(): hd even
    const float inv = 1.0f / sum;
    for (int k = 0; k < hd; ++k) oh[k] *= inv;
  }
}

}  // namespace skippy::host
