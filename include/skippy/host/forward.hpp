#pragma once
// Host reference forward pass of a LLaMA model over a block of m tokens at consecutive positions, with
// a KV cache and an optional skipped layer range (the draft pass of S3D).

#include <algorithm>
#include <type_traits>
#include <vector>

#include "../math/activation.hpp"
#include "../math/rmsnorm.hpp"
#include "../math/rope.hpp"
#include "../policy/activations.hpp"
#include "../policy/skip_range.hpp"
#include "../quant/dequantize.hpp"
#include "attention.hpp"
#include "kv_cache.hpp"
#include "matmul.hpp"

namespace skippy::host {

// Activations (policy/activations.hpp): Int8Activations quantises the activations of every weight
// product to 8 bits and computes it with the CUDA kernel's arithmetic (matmul_q8), bit for bit.
template <class Q, class Activations = FloatActivations>
class Forward {
  static_assert(CheckActivations<Activations, Q>::ok);

 public:
  explicit Forward(ModelView<Q> model) : model_(std::move(model)) {
    model_.validate();
    require(!model_.any_packed(), "host forward: a weight matrix is in the packed device layout or the tiled one (the "
            "host reads the ggml blocks in place)");
  }

  const ModelView<Q>& model() const { return model_; }
  const ModelConfig& config() const { return model_.config; }

  KvCache make_cache(int capacity) const {
    return KvCache(config().n_layers, capacity, config().kv_dim());
  }

  // Runs tokens[0..m) at positions start..start+m-1. Layers in `skip` are not run; the others write their
  // K/V into cache slots start..start+m-1 (see KvCache::reserve). logits receives m rows of vocab values,
  // or is nullptr to skip the LM head (prefill).
  void run(const int* tokens, int m, int start, KvCache& cache, LayerRange skip, float* logits) {
    const ModelConfig& c = config();
    require(cache.n_layers() == c.n_layers && cache.kv_dim() == c.kv_dim(),
            "forward: KV cache shape (", cache.n_layers(), " layers, kv_dim ", cache.kv_dim(),
            ") does not match the model (", c.n_layers, " layers, kv_dim ", c.kv_dim(), ")");
    require(skip.begin >= 0 && skip.begin <= skip.end && skip.end <= c.n_layers, "forward: skip range [",
            skip.begin, ", ", skip.end, ") is not inside the model's ", c.n_layers, " layers");
    for (int i = 0; i < m; ++i)
      require(tokens[i] >= 0 && tokens[i] < c.vocab, "forward: token id ", tokens[i], " at block index ", i,
              " is outside the vocabulary [0, ", c.vocab, ")");
    cache.reserve(start, m);
    grow(m, cache.capacity());

    // Offsets in ptrdiff_t: m * ffn_dim passes 2^31 for prompts of ~150k tokens at 7B shapes.
    const int d = c.dim, kv = c.kv_dim(), f = c.ffn_dim, hd = c.head_dim();
    const std::ptrdiff_t md = std::ptrdiff_t{m} * d, mf = std::ptrdiff_t{m} * f;
    float* x = x_.data();
    for (std::ptrdiff_t i = 0; i < m; ++i) quant::dequantize_row<Q>(model_.token_embd.row(tokens[i]), x + i * d, d);

    for (int l = 0; l < c.n_layers; ++l) {
      if (skip.contains(l)) continue;
      const LayerView<Q>& L = model_.layers[static_cast<std::size_t>(l)];
      for (std::ptrdiff_t i = 0; i < m; ++i) math::rmsnorm(x + i * d, L.attn_norm, xn_.data() + i * d, d, c.rms_eps);
      const auto xq = input(xn_.data(), m, d);  // Int8Activations: quantised once for Q, K and V
      product(L.wq, xq, m, q_.data());
      product(L.wk, xq, m, k_.data());
      product(L.wv, xq, m, v_.data());
      for (std::ptrdiff_t i = 0; i < m; ++i) {
        const int pos = start + static_cast<int>(i);
        for (int h = 0; h < c.n_heads; ++h) math::rope(q_.data() + i * d + h * hd, pos, hd, c.rope_theta);
        for (int h = 0; h < c.n_kv_heads; ++h) math::rope(k_.data() + i * kv + h * hd, pos, hd, c.rope_theta);
        std::copy_n(k_.data() + i * kv, kv, cache.k(l, pos));
        std::copy_n(v_.data() + i * kv, kv, cache.v(l, pos));
      }
      for (std::ptrdiff_t i = 0; i < m; ++i) attend(q_.data() + i * d, cache, l, start + static_cast<int>(i), c, att_.data() + i * d, scores_.data());
      product(L.wo, input(att_.data(), m, d), m, xn_.data());
      for (std::ptrdiff_t j = 0; j < md; ++j) x[j] += xn_[static_cast<std::size_t>(j)];

      for (std::ptrdiff_t i = 0; i < m; ++i) math::rmsnorm(x + i * d, L.ffn_norm, xn_.data() + i * d, d, c.rms_eps);
      const auto xf = input(xn_.data(), m, d);  // once for gate and up
      product(L.w_gate, xf, m, g_.data());
      product(L.w_up, xf, m, u_.data());
      for (std::ptrdiff_t j = 0; j < mf; ++j) g_[static_cast<std::size_t>(j)] = math::swiglu(g_[static_cast<std::size_t>(j)], u_[static_cast<std::size_t>(j)]);
      product(L.w_down, input(g_.data(), m, f), m, xn_.data());
      for (std::ptrdiff_t j = 0; j < md; ++j) x[j] += xn_[static_cast<std::size_t>(j)];
    }

    if (logits == nullptr) return;
    for (std::ptrdiff_t i = 0; i < m; ++i) math::rmsnorm(x + i * d, model_.output_norm, xn_.data() + i * d, d, c.rms_eps);
    product(model_.output, input(xn_.data(), m, d), m, logits);
  }

 private:
  // The weight products' input: m rows of cols floats, or under Int8Activations their 8-bit form (valid
  // until the next call).
  auto input(const float* x, int m, int cols) {
    if constexpr (std::is_same_v<Activations, Int8Activations>)
      return q8_.quantize(x, m, cols);
    else
      return x;
  }
  static void product(const MatrixView<Q>& w, const float* x, int m, float* y) { matmul(w, x, m, y); }
  static void product(const MatrixView<Q>& w, const quant::Q8Rows& x, int m, float* y) { matmul_q8(w, x, m, y); }

  void grow(int m, int capacity) {
    const ModelConfig& c = config();
    const auto need = [m](int width) { return static_cast<std::size_t>(m) * static_cast<std::size_t>(width); };
    if (x_.size() < need(c.dim)) {
      for (auto* b : {&x_, &xn_, &q_, &att_}) b->resize(need(c.dim));
      for (auto* b : {&k_, &v_}) b->resize(need(c.kv_dim()));
      for (auto* b : {&g_, &u_}) b->resize(need(c.ffn_dim));
    }
    if (scores_.size() < static_cast<std::size_t>(capacity)) scores_.resize(static_cast<std::size_t>(capacity));
  }

  ModelView<Q> model_;
  std::vector<float> x_, xn_, q_, k_, v_, att_, g_, u_, scores_;
  Q8Activations q8_;  // Int8Activations only
};

}  // namespace skippy::host
