#pragma once
// Owning host container of a model's weights in storage type Q; view() gives the non-owning ModelView.

#include <string>
#include <vector>

#include "../quant/quantize.hpp"
#include "float_weights.hpp"
#include "view.hpp"

namespace skippy {

template <class Q>
class HostModel {
 public:
  using block = typename Q::block;

  // Quantises every matrix to Q; norm weights stay F32.
  static HostModel from_float(const FloatWeights& w) {
    w.config.validate();
    HostModel m;
    m.config_ = w.config;
    const ModelConfig& c = w.config;
    const std::size_t d = static_cast<std::size_t>(c.dim), kv = static_cast<std::size_t>(c.kv_dim()),
                      f = static_cast<std::size_t>(c.ffn_dim), v = static_cast<std::size_t>(c.vocab);
    require(w.layers.size() == static_cast<std::size_t>(c.n_layers), "model: ", w.layers.size(),
            " layers given, config has n_layers = ", c.n_layers);
    m.token_embd_ = quantize_checked(w.token_embd, v * d, "token_embd.weight");
    m.output_ = quantize_checked(w.output, v * d, "output.weight");
    m.output_norm_ = sized(w.output_norm, d, "output_norm.weight");
    for (std::size_t l = 0; l < w.layers.size(); ++l) {
      const FloatLayer& L = w.layers[l];
      const std::string p = "blk." + std::to_string(l) + ".";
      Layer H;
      H.attn_norm = sized(L.attn_norm, d, p + "attn_norm.weight");
      H.ffn_norm = sized(L.ffn_norm, d, p + "ffn_norm.weight");
      H.wq = quantize_checked(L.wq, d * d, p + "attn_q.weight");
      H.wk = quantize_checked(L.wk, kv * d, p + "attn_k.weight");
      H.wv = quantize_checked(L.wv, kv * d, p + "attn_v.weight");
      H.wo = quantize_checked(L.wo, d * d, p + "attn_output.weight");
      H.w_gate = quantize_checked(L.w_gate, f * d, p + "ffn_gate.weight");
      H.w_up = quantize_checked(L.w_up, f * d, p + "ffn_up.weight");
      H.w_down = quantize_checked(L.w_down, d * f, p + "ffn_down.weight");
      m.layers_.push_back(std::move(H));
    }
    m.view().validate();
    return m;
  }

  static HostModel random(const ModelConfig& c, std::uint64_t seed) { return from_float(FloatWeights::random(c, seed)); }

  const ModelConfig& config() const { return config_; }

  ModelView<Q> view() const {
    const ModelConfig& c = config_;
    const auto mat = [](const std::vector<block>& b, int rows, int cols) { return MatrixView<Q>{b.data(), rows, cols}; };
    ModelView<Q> v;
    v.config = c;
    v.token_embd = mat(token_embd_, c.vocab, c.dim);
    v.output = mat(output_, c.vocab, c.dim);
    v.output_norm = output_norm_.data();
    for (const auto& H : layers_) {
      LayerView<Q> L;
      L.attn_norm = H.attn_norm.data();
      L.ffn_norm = H.ffn_norm.data();
      L.wq = mat(H.wq, c.dim, c.dim);
      L.wk = mat(H.wk, c.kv_dim(), c.dim);
      L.wv = mat(H.wv, c.kv_dim(), c.dim);
      L.wo = mat(H.wo, c.dim, c.dim);
      L.w_gate = mat(H.w_gate, c.ffn_dim, c.dim);
      L.w_up = mat(H.w_up, c.ffn_dim, c.dim);
      L.w_down = mat(H.w_down, c.dim, c.ffn_dim);
      v.layers.push_back(L);
    }
    return v;
  }

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm;
    std::vector<block> wq, wk, wv, wo, w_gate, w_up, w_down;
  };

  static const std::vector<float>& sized(const std::vector<float>& x, std::size_t n, const std::string& name) {
    require(x.size() == n, "model: ", name, " has ", x.size(), " values, expected ", n);
    return x;
  }
  static std::vector<block> quantize_checked(const std::vector<float>& x, std::size_t n, const std::string& name) {
    return quant::quantize<Q>(sized(x, n, name));
  }

  ModelConfig config_;
  std::vector<block> token_embd_, output_;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
};

}  // namespace skippy
