#pragma once
// Device KV cache: K and V of every layer for `capacity` positions, layout [layer][position][kv_dim]
// (the host cache's), with the shared position bookkeeping. Storage is the caller's (two device
// pointers of bytes(n_layers, capacity, kv_dim) / 2 each) or owned.

#include <cstddef>

#include "../decode/kv_positions.hpp"
#include "buffer.cuh"

namespace skippy::cuda {

class KvCache : public decode::KvPositions {
 public:
  // Bytes of device memory K and V take together.
  static std::size_t bytes(int n_layers, int capacity, int kv_dim) { return 2 * values(n_layers, capacity, kv_dim) * sizeof(float); }

  // Owning: allocates K and V.
  KvCache(int n_layers, int capacity, int kv_dim) : KvPositions(capacity), n_layers_(n_layers), kv_dim_(kv_dim) {
    require_shape();
    owned_ = DeviceBuffer<float>(2 * values(n_layers, capacity, kv_dim));
    k_ = owned_.data();
    v_ = k_ + values(n_layers, capacity, kv_dim);
  }
  // Non-owning: k and v each hold values(n_layers, capacity, kv_dim) floats of device memory.
  KvCache(int n_layers, int capacity, int kv_dim, float* k, float* v)
      : KvPositions(capacity), n_layers_(n_layers), kv_dim_(kv_dim), k_(k), v_(v) {
    require_shape();
    require(k != nullptr && v != nullptr, "KV cache: the caller's K and V device pointers must not be null");
  }
  KvCache(KvCache&&) noexcept = default;
  KvCache& operator=(KvCache&&) noexcept = default;

  int kv_dim() const { return kv_dim_; }
  int n_layers() const { return n_layers_; }

  // Device pointers to the first position of a layer.
  float* k(int layer) const { return k_ + static_cast<std::size_t>(layer) * layer_values(); }
  float* v(int layer) const { return v_ + static_cast<std::size_t>(layer) * layer_values(); }

 private:
  static std::size_t values(int n_layers, int capacity, int kv_dim) {
    return static_cast<std::size_t>(n_layers) * static_cast<std::size_t>(capacity) * static_cast<std::size_t>(kv_dim);
  }
  void require_shape() const { require(n_layers_ > 0 && kv_dim_ > 0, "KV cache: n_layers and kv_dim must be > 0"); }
  std::size_t layer_values() const { return static_cast<std::size_t>(capacity()) * static_cast<std::size_t>(kv_dim_); }

  int n_layers_, kv_dim_;
  float* k_ = nullptr;
  float* v_ = nullptr;
  DeviceBuffer<float> owned_;
};

}  // namespace skippy::cuda
