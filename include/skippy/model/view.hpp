#pragma once
// Non-owning views of model weights: a custom runtime hands in its own pointers (host or device memory).
// Matrices are row-major [rows][cols] in blocks of the storage type Q, as in a GGUF file (dims (cols, rows)).
// Norm weights are F32.

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "../quant/types.hpp"
#include "config.hpp"

namespace skippy {

template <class Q>
struct MatrixView {
  static_assert(quant::is_quant_v<Q>,
                "MatrixView<Q>: Q must be one of quant::F32, F16, BF16, F8_E4M3, Q8_0, Q4_0");
  using block = typename Q::block;
  const block* data = nullptr;
  int rows = 0;
  int cols = 0;
  // The layout of data: false, the ggml blocks in place; true, quant::Packed<Q>'s bytes (Q8_0 / Q4_0 in
  // device memory, from cuda::PackedMatrix or DeviceModel's packed upload), read by the CUDA weight
  // kernels only: row(r) and the host backend need the blocks in place.
  bool packed = false;
  // true: quant::Tiled<Q>'s bytes instead (Q8_0 / Q4_0 in device memory, from cuda::TiledMatrix or
  // DeviceModel's tiled upload), read by the CUDA weight kernels over 8-bit activations only (gemv_q8 and
  // its batch forms: the tensor-core kernel).
  bool tiled = false;

  SKIPPY_HD_INLINE const block* row(int r) const {
    return data + static_cast<std::size_t>(r) * static_cast<std::size_t>(cols / Q::block_size);
  }
  std::size_t bytes() const { return static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols)); }
};

template <class Q>
struct LayerView {
  const float* attn_norm = nullptr;  // [dim]
  MatrixView<Q> wq;                  // [dim][dim]
  MatrixView<Q> wk;                  // [kv_dim][dim]
  MatrixView<Q> wv;                  // [kv_dim][dim]
  MatrixView<Q> wo;                  // [dim][dim]
  const float* ffn_norm = nullptr;   // [dim]
  MatrixView<Q> w_gate;              // [ffn_dim][dim]
  MatrixView<Q> w_up;                // [ffn_dim][dim]
  MatrixView<Q> w_down;              // [dim][ffn_dim]
};

// The model type users compose decoders with: `Decoder<ModelView<quant::Q8_0>, ...>`.
template <class Q>
struct ModelView {
  static_assert(quant::is_quant_v<Q>,
                "ModelView<Q>: Q must be one of quant::F32, F16, BF16, F8_E4M3, Q8_0, Q4_0");
  using quant_type = Q;

  ModelConfig config;
  MatrixView<Q> token_embd;  // [vocab][dim]
  std::vector<LayerView<Q>> layers;
  const float* output_norm = nullptr;  // [dim]
  MatrixView<Q> output;                // [vocab][dim]; tied models point this at token_embd

  // Whether pred holds for any weight matrix (the token embedding and the LM head included).
  template <class Pred>
  bool any_matrix(Pred pred) const {
    bool any = pred(token_embd) || pred(output);
    for (const auto& L : layers)
      any = any || pred(L.wq) || pred(L.wk) || pred(L.wv) || pred(L.wo) || pred(L.w_gate) || pred(L.w_up) ||
            pred(L.w_down);
    return any;
  }
  // Whether any weight matrix is in a device layout (MatrixView::packed or tiled) rather than the ggml blocks.
  bool any_packed() const {
    return any_matrix([](const MatrixView<Q>& w) { return w.packed || w.tiled; });
  }
  // Whether any weight matrix is in the tiled layout (MatrixView::tiled).
  bool any_tiled() const {
    return any_matrix([](const MatrixView<Q>& w) { return w.tiled; });
  }

  // Throws skippy::Error naming the tensor (llama.cpp names) whose pointer or shape is wrong.
  void validate() const {
    config.validate();
    const int d = config.dim, kv = config.kv_dim(), f = config.ffn_dim, v = config.vocab;
    require(static_cast<int>(layers.size()) == config.n_layers, "model: ", layers.size(),
            " layer views given, config has n_layers = ", config.n_layers);
    check(token_embd, "token_embd.weight", v, d);
    check(output, "output.weight", v, d);
    require(output_norm != nullptr, "model: output_norm.weight is null");
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const auto& L = layers[l];
      const std::string p = "blk." + std::to_string(l) + ".";
      require(L.attn_norm != nullptr, "model: ", p, "attn_norm.weight is null");
      require(L.ffn_norm != nullptr, "model: ", p, "ffn_norm.weight is null");
      check(L.wq, p + "attn_q.weight", d, d);
      check(L.wk, p + "attn_k.weight", kv, d);
      check(L.wv, p + "attn_v.weight", kv, d);
      check(L.wo, p + "attn_output.weight", d, d);
      check(L.w_gate, p + "ffn_gate.weight", f, d);
      check(L.w_up, p + "ffn_up.weight", f, d);
      check(L.w_down, p + "ffn_down.weight", d, f);
    }
  }

 private:
  static void check(const MatrixView<Q>& m, const std::string& name, int rows, int cols) {
    require(m.data != nullptr, "model: ", name, " is null");
    require(m.rows == rows && m.cols == cols, "model: ", name, " has shape [", m.rows, "][", m.cols,
            "], expected [", rows, "][", cols, "]");
  }
};

template <class T>
struct is_model_view : std::false_type {};
template <class Q>
struct is_model_view<ModelView<Q>> : std::true_type {};

}  // namespace skippy
