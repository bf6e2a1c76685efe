#pragma once
// Owning helper: copies a model whose view points at host memory (a mapped GGUF file, a HostModel) to
// the device, keeping the ggml block layout or, for Q8_0 / Q4_0, in the packed layout (quant/packed.hpp:
// the same bytes per matrix, faster weight kernels, the same bits) or the tiled one (quant/tiled.hpp: for
// the tensor-core kernel over 8-bit activations, its own bits), and hands out the device ModelView the CUDA
// decoder takes. The token embedding stays in place (the embedding kernel reads its rows), and so does a
// tied LM head. Runtimes that already hold the weights on the device build that ModelView from their own
// pointers (cuda::PackedMatrix packs one matrix there, cuda::TiledMatrix tiles one).

#include <vector>

#include "../core/error.hpp"
#include "../model/view.hpp"
#include "../quant/packed.hpp"
#include "../quant/tiled.hpp"
#include "buffer.cuh"

namespace skippy::cuda {

// The layout of a DeviceModel's weight matrices (all but the token embedding).
enum class Upload { in_place, packed, tiled };

template <class Q>
class DeviceModel {
 public:
  using block = typename Q::block;

  explicit DeviceModel(const ModelView<Q>& host, bool packed = false)
      : DeviceModel(host, packed ? Upload::packed : Upload::in_place) {}
  DeviceModel(const ModelView<Q>& host, Upload layout) {
    host.validate();
    require(layout == Upload::in_place || quant::is_int_blocks_v<Q>, "DeviceModel: the ",
            layout == Upload::packed ? "packed" : "tiled", " layout holds Q8_0 and Q4_0 models only, not ", Q::name);
    require(!host.any_packed(), "DeviceModel: the host model must be in the ggml block layout");
    view_.config = host.config;
    const int d = host.config.dim;
    view_.token_embd = matrix(host.token_embd, Upload::in_place);
    view_.output = host.output.data == host.token_embd.data ? view_.token_embd : matrix(host.output, layout);
    view_.output_norm = vector(host.output_norm, d);
    for (const LayerView<Q>& L : host.layers) {
      LayerView<Q> D;
      D.attn_norm = vector(L.attn_norm, d);
      D.ffn_norm = vector(L.ffn_norm, d);
      D.wq = matrix(L.wq, layout);
      D.wk = matrix(L.wk, layout);
      D.wv = matrix(L.wv, layout);
      D.wo = matrix(L.wo, layout);
      D.w_gate = matrix(L.w_gate, layout);
      D.w_up = matrix(L.w_up, layout);
      D.w_down = matrix(L.w_down, layout);
      view_.layers.push_back(D);
    }
    // The uploads ran on the legacy stream, and a copy from pageable memory may return before its DMA lands:
    // a kernel on a non-blocking stream could read the weights too early without this.
    check(cudaDeviceSynchronize(), "DeviceModel: uploading the weights");
  }

  // Device pointers, host-side shapes: pass it to cuda::Decoder or cuda::Forward.
  const ModelView<Q>& view() const { return view_; }

 private:
  MatrixView<Q> matrix(const MatrixView<Q>& h, Upload layout) {
    std::size_t n = static_cast<std::size_t>(h.rows) * static_cast<std::size_t>(h.cols / Q::block_size);
    if constexpr (quant::is_int_blocks_v<Q>) {
      if (layout != Upload::in_place) {  // laid out on the host, one matrix at a time
        if (layout == Upload::tiled) n = (quant::Tiled<Q>::bytes(h.rows, h.cols) + sizeof(block) - 1) / sizeof(block);
        std::vector<block> bytes(n);
        auto* dst = reinterpret_cast<unsigned char*>(bytes.data());
        if (layout == Upload::packed) quant::pack_matrix<Q>(h.data, h.rows, h.cols, dst);
        else quant::tile_matrix<Q>(h.data, h.rows, h.cols, dst);
        blocks_.emplace_back(n);
        blocks_.back().upload(bytes.data(), n);
        MatrixView<Q> d{blocks_.back().data(), h.rows, h.cols};
        d.packed = layout == Upload::packed;
        d.tiled = layout == Upload::tiled;
        return d;
      }
    }
    blocks_.emplace_back(n);
    MatrixView<Q> d{blocks_.back().data(), h.rows, h.cols};
    blocks_.back().upload(h.data, n);
    return d;
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
