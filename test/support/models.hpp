#pragma once
// Small models shared by the decoder tests.

#include <skippy/skippy.hpp>

namespace skippy::test {

// Sanitizer builds exist to find memory and UB errors, not to add statistical power: the heaviest
// property tests run a smaller (still asserted) sample there so CI stays short.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif

// 4 layers, GQA 4:2, vocabulary of 64 with the mask token 63.
inline ModelConfig tiny_config() {
  ModelConfig c;
  c.n_layers = 4;
  c.dim = 64;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 128;
  c.vocab = 64;
  c.mask_token_id = 63;
  return c;
}

// tiny_config with heads of 32 values (dim 128): whole 8-bit blocks per head, and heads the CUDA grouped
// attention takes.
inline ModelConfig head32_config() {
  ModelConfig c = tiny_config();
  c.dim = 128;
  c.ffn_dim = 256;
  return c;
}

// Random weights: drafts with skipped layers are rarely right.
inline FloatWeights random_weights(std::uint64_t seed, const ModelConfig& c = tiny_config()) {
  return FloatWeights::random(c, seed);
}

// Layers 1 and 2 contribute little to the residual stream, so a draft that skips them is often, but not
// always, right: every accepted count 0..K occurs, exercising acceptance and rollback.
inline FloatWeights damped_weights(std::uint64_t seed, const ModelConfig& c = tiny_config()) {
  FloatWeights w = random_weights(seed, c);
  w.damp_layer(1, 0.05f);
  w.damp_layer(2, 0.05f);
  return w;
}

}  // namespace skippy::test
