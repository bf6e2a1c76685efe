#pragma once
// The bookkeeping of a KV cache, whatever memory holds it: `length` counts committed positions (exact
// full-model K/V); `filled` >= length counts contiguous slots written since (draft scratch, a verify
// block). Rollback and commit only move these counters: slots past `length` are overwritten later, never
// copied (README §1).

#include <cstdint>

#include "../core/error.hpp"

namespace skippy::decode {

class KvPositions {
 public:
  explicit KvPositions(int capacity) : capacity_(capacity) {
    require(capacity > 0, "KV cache: capacity must be > 0, got ", capacity);
  }

  int capacity() const { return capacity_; }
  int length() const { return length_; }
  int filled() const { return filled_; }

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
  int capacity_;
  int length_ = 0, filled_ = 0;
};

}  // namespace skippy::decode
