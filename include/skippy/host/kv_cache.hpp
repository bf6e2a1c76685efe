#pragma once
// Host KV cache: K and V of every layer for `capacity` positions, layout [layer][position][kv_dim].
// `length` counts committed positions (exact full-model K/V); `filled` >= length counts contiguous slots
// written since (draft scratch, a verify block). Rollback and commit only move these counters: slots past
// `length` are overwritten later, never copied (DESIGN.md §1).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"

namespace skippy::host {

class KvCache {
 public:
  KvCache(int n_layers, int capacity, int kv_dim) : n_layers_(n_layers), capacity_(capacity), kv_dim_(kv_dim) {
    require(n_layers > 0 && kv_dim > 0, "KV cache: n_layers and kv_dim must be > 0");
    require(capacity > 0, "KV cache: capacity must be > 0, got ", capacity);
    const std::size_t n = static_cast<std::size_t>(n_layers) * static_cast<std::size_t>(capacity) *
                          static_cast<std::size_t>(kv_dim);
    k_.resize(n);
    v_.resize(n);
  }

  int capacity() const { return capacity_; }
  int length() const { return length_; }
  int filled() const { return filled_; }
  int kv_dim() const { return kv_dim_; }
  int n_layers() const { return n_layers_; }

  float* k(int layer, int pos) { return k_.data() + offset(layer, pos); }
  float* v(int layer, int pos) { return v_.data() + offset(layer, pos); }
  const float* k(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const float* v(int layer, int pos) const { return v_.data() + offset(layer, pos); }

  // Checks that a block of m tokens may be written at `start`: contiguous with what is filled and inside
  // the capacity. Writing at `start` invalidates every later slot (it was computed from the old content),
  // so filled becomes start + m and a committed length past start drops to start.
  void reserve(int start, int m) {
    require(m > 0, "KV cache: block size must be > 0, got ", m);
    require(start >= 0 && start <= filled_, "KV cache: block at position ", start,
            " would leave a gap (positions below ", filled_, " are filled)");
    require(static_cast<std::int64_t>(start) + m <= capacity_, "KV cache overflow: block of ", m, " tokens at position ",
            start, " needs ", static_cast<std::int64_t>(start) + m, " slots, capacity is ", capacity_);
    filled_ = start + m;
    if (length_ > start) length_ = start;
  }

  // Makes positions [0, n) the committed prefix: commit after a verify, or roll back. n <= filled().
  void set_length(int n) {
    require(n >= 0 && n <= filled_, "KV cache: cannot set length ", n, " (", filled_, " positions filled)");
    length_ = n;
    filled_ = n;
  }

  void clear() { length_ = filled_ = 0; }

 private:
  std::size_t offset(int layer, int pos) const {
    return (static_cast<std::size_t>(layer) * static_cast<std::size_t>(capacity_) + static_cast<std::size_t>(pos)) *
           static_cast<std::size_t>(kv_dim_);
  }

  int n_layers_, capacity_, kv_dim_;
  int length_ = 0, filled_ = 0;
  std::vector<float> k_, v_;
};

}  // namespace skippy::host
