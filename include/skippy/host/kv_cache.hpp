#pragma once
// Host KV cache: K and V of every layer for `capacity` positions, layout [layer][position][kv_dim], with
// the position bookkeeping of decode::KvPositions (shared with the CUDA cache).

#include <cstddef>
#include <vector>

#include "../core/error.hpp"
#include "../decode/kv_positions.hpp"

namespace skippy::host {

class KvCache : public decode::KvPositions {
 public:
  KvCache(int n_layers, int capacity, int kv_dim) : KvPositions(capacity), n_layers_(n_layers), kv_dim_(kv_dim) {
    require(n_layers > 0 && kv_dim > 0, "KV cache: n_layers and kv_dim must be > 0");
    const std::size_t n = static_cast<std::size_t>(n_layers) * static_cast<std::size_t>(capacity) *
                          static_cast<std::size_t>(kv_dim);
    k_.resize(n);
    v_.resize(n);
  }

  int kv_dim() const { return kv_dim_; }
  int n_layers() const { return n_layers_; }

  float* k(int layer, int pos) { return k_.data() + offset(layer, pos); }
  float* v(int layer, int pos) { return v_.data() + offset(layer, pos); }
  const float* k(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const float* v(int layer, int pos) const { return v_.data() + offset(layer, pos); }

 private:
  std::size_t offset(int layer, int pos) const {
    return (static_cast<std::size_t>(layer) * static_cast<std::size_t>(capacity()) + static_cast<std::size_t>(pos)) *
           static_cast<std::size_t>(kv_dim_);
  }

  int n_layers_, kv_dim_;
  std::vector<float> k_, v_;
};

}  // namespace skippy::host
