#pragma once
// The stand-in model of the host benchmarks (any size, no file needed): seeded random
// weights with layers 2..5 damped, so a draft that skips them is usually, not always, right.

#include <skippy/skippy.hpp>

namespace skippy::examples {

inline FloatWeights damped_demo_weights(std::uint64_t seed, float damping) {
  ModelConfig c;
  c.n_layers = 8;
  c.dim = 256;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.ffn_dim = 768;
  c.vocab = 512;
  c.mask_token_id = 511;
  FloatWeights w = FloatWeights::random(c, seed);
  for (int l = 2; l < 6; ++l) w.damp_layer(l, damping);
  return w;
}

}  // namespace skippy::examples
