#pragma once
// Owning helper: copies a model whose view points at host memory (a mapped GGUF file, a HostModel) to
// the device, keeping the ggml block layout, and hands out the device ModelView the CUDA decoder takes.
// Runtimes that already hold the weights on the device build that ModelView from their own pointers.

#include <vector>

#include "../model/view.hpp"
#include "buffer.cuh"

namespace skippy::cuda {

template <class Q>
class DeviceModel {
 public:
  using block = typename Q::block;

  explicit DeviceModel(const ModelView<Q>& host) {
    host.validate();
    view_.config = host.config;
    const int d = host.config.dim;
    view_.token_embd = matrix(host.token_embd);
    view_.output = host.output.data == host.token_embd.data ? view_.token_embd : matrix(host.output);
    view_.output_norm = vector(host.output_norm, d);
    for (const LayerView<Q>& L : host.layers) {
      LayerView<Q> D;
      D.attn_norm = vector(L.attn_norm, d);
      D.ffn_norm = vector(L.ffn_norm, d);
      D.wq = matrix(L.wq);
      D.wk = matrix(L.wk);
      D.wv = matrix(L.wv);
      D.wo = matrix(L.wo);
      D.w_gate = matrix(L.w_gate);
      D.w_up = matrix(L.w_up);
      D.w_down = matrix(L.w_down);
      view_.layers.push_back(D);
    }
  }

  // Device pointers, host-side shapes: pass it to cuda::Decoder or cuda::Forward.
  const ModelView<Q>& view() const { return view_; }

 private:
  MatrixView<Q> matrix(const MatrixView<Q>& h) {
    const std::size_t n = static_cast<std::size_t>(h.rows) * static_cast<std::size_t>(h.cols / Q::block_size);
    blocks_.emplace_back(n);
    blocks_.back().upload(h.data, n);
    return {blocks_.back().data(), h.rows, h.cols};
  }
  const float* vector(const float* h, int n) {
    floats_.emplace_back(static_cast<std::size_t>(n));
    floats_.back().upload(h, static_cast<std::size_t>(n));
    return floats_.back().data();
  }

  ModelView<Q> view_;
  std::vector<DeviceBuffer<block>> blocks_;
  std::vector<DeviceBuffer<float>> floats_;
};

}  // namespace skippy::cuda
