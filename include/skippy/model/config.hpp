#pragma once
// LLaMA-architecture hyper-parameters plus the S3D mask token.

#include <cmath>

#include "../core/error.hpp"
#include "../quant/dot.hpp"

namespace skippy {

struct ModelConfig {
  int n_layers = 0;
  int dim = 0;         // hidden size
  int n_heads = 0;
  int n_kv_heads = 0;  // < n_heads: grouped-query attention
  int ffn_dim = 0;     // SwiGLU inner size
  int vocab = 0;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  int mask_token_id = -1;  // -1: the model has no mask token (simultaneous drafting unavailable)

  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return head_dim() * n_kv_heads; }
  int group_size() const { return n_heads / n_kv_heads; }

  // Throws skippy::Error naming the first inconsistent field.
  void validate() const {
    require(n_layers > 0, "model config: n_layers must be > 0, got ", n_layers);
    require(dim > 0, "model config: dim must be > 0, got ", dim);
    require(n_heads > 0, "model config: n_heads must be > 0, got ", n_heads);
    require(n_kv_heads > 0, "model config: n_kv_heads must be > 0, got ", n_kv_heads);
    require(ffn_dim > 0, "model config: ffn_dim must be > 0, got ", ffn_dim);
    require(vocab > 0, "model config: vocab must be > 0, got ", vocab);
    require(dim % n_heads == 0, "model config: dim ", dim, " is not divisible by n_heads ", n_heads);
    require(n_heads % n_kv_heads == 0, "model config: n_heads ", n_heads, " is not divisible by n_kv_heads ",
            n_kv_heads);
    require(head_dim() % 2 == 0, "model config: head_dim ", head_dim(), " must be even for RoPE");
    require(dim % quant::dot_chunk == 0, "model config: dim ", dim, " must be a multiple of ", quant::dot_chunk);
    require(ffn_dim % quant::dot_chunk == 0, "model config: ffn_dim ", ffn_dim, " must be a multiple of ",
            quant::dot_chunk);
    require(rope_theta > 0.0f && std::isfinite(rope_theta), "model config: rope_theta must be finite and > 0, got ",
            rope_theta);
    require(rms_eps > 0.0f && std::isfinite(rms_eps), "model config: rms_eps must be finite and > 0, got ", rms_eps);
    require(mask_token_id >= -1 && mask_token_id < vocab, "model config: mask_token_id ", mask_token_id,
            " is outside the vocabulary [0, ", vocab, ")");
  }
};

}  // namespace skippy
