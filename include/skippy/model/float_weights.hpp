#pragma once
// All weights of a model as plain float arrays: the form tests edit (damping, planted structure) and
// training exports, before quantisation into a HostModel.

#include <cmath>
#include <cstdint>
#include <vector>

#include "../rng/philox.hpp"
#include "config.hpp"

namespace skippy {

struct FloatLayer {
  std::vector<float> attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
};

struct FloatWeights {
  ModelConfig config;
  std::vector<float> token_embd;  // [vocab][dim]
  std::vector<FloatLayer> layers;
  std::vector<float> output_norm;
  std::vector<float> output;  // [vocab][dim]

  // Seeded random weights: matrices uniform in +-sqrt(3 / fan_in) (unit-variance outputs), embeddings
  // uniform in +-1, norm weights 1 + U(-0.1, 0.1). The same seed gives the same weights everywhere.
  static FloatWeights random(const ModelConfig& c, std::uint64_t seed) {
    c.validate();
    std::uint32_t tensor = 0;
    auto fill = [&](std::size_t n, float lo, float hi) {
      std::vector<float> w(n);
      for (std::size_t i = 0; i < n; ++i) {
        const float u = rng::uniform(seed, {static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i >> 32),
                                            static_cast<rng::Purpose>(0x100u + tensor), 0});
        w[i] = lo + (hi - lo) * u;
      }
      ++tensor;
      return w;
    };
    auto matrix = [&](int rows, int cols) {
      const float a = std::sqrt(3.0f / static_cast<float>(cols));
      return fill(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols), -a, a);
    };
    auto norm = [&](int n) { return fill(static_cast<std::size_t>(n), 0.9f, 1.1f); };
    FloatWeights w;
    w.config = c;
    const int d = c.dim, kv = c.kv_dim(), f = c.ffn_dim;
    w.token_embd = fill(static_cast<std::size_t>(c.vocab) * static_cast<std::size_t>(d), -1.0f, 1.0f);
    for (int l = 0; l < c.n_layers; ++l) {
      FloatLayer L;
      L.attn_norm = norm(d);
      L.wq = matrix(d, d);
      L.wk = matrix(kv, d);
      L.wv = matrix(kv, d);
      L.wo = matrix(d, d);
      L.ffn_norm = norm(d);
      L.w_gate = matrix(f, d);
      L.w_up = matrix(f, d);
      L.w_down = matrix(d, f);
      w.layers.push_back(std::move(L));
    }
    w.output_norm = norm(d);
    w.output = matrix(c.vocab, d);
    return w;
  }

  // Scales layer l's residual contributions (attention output and FFN down projection) by `factor`:
  // a layer damped towards 0 barely changes the residual stream, so skipping it barely changes the draft.
  void damp_layer(int l, float factor) {
    for (float& x : layers.at(static_cast<std::size_t>(l)).wo) x *= factor;
    for (float& x : layers.at(static_cast<std::size_t>(l)).w_down) x *= factor;
  }
};

}  // namespace skippy
