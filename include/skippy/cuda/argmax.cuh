#pragma once
// An owning helper for kernels::argmax_rows' scratch (kernels/select.cuh): per row, the best key and the
// arrival counter where a row spreads over several blocks, and the rows-done counter of a fused greedy
// verdict, allocated and zeroed once.

#include <cuda_runtime.h>

#include "buffer.cuh"
#include "check.cuh"
#include "kernels/select.cuh"

namespace skippy::cuda {

class ArgmaxScratchBuffer {
 public:
  // Scratch for launches of up to `rows` rows (synchronous: zeroed before any stream uses it).
  explicit ArgmaxScratchBuffer(int rows)
      : best_(static_cast<std::size_t>(rows > 0 ? rows : 0)),
        arrived_(static_cast<std::size_t>(rows > 0 ? rows + 1 : 0)) {
    require(rows >= 1, "argmax scratch: rows must be >= 1, got ", rows);
    check(cudaMemset(best_.data(), 0, best_.size() * sizeof(unsigned long long)), "argmax scratch: clear");
    check(cudaMemset(arrived_.data(), 0, arrived_.size() * sizeof(unsigned)), "argmax scratch: clear");
    check(cudaDeviceSynchronize(), "argmax scratch: clear");
  }
  kernels::ArgmaxScratch get() const { return {best_.data(), arrived_.data(), arrived_.data() + best_.size()}; }

 private:
  DeviceBuffer<unsigned long long> best_;
  DeviceBuffer<unsigned> arrived_;
};

}  // namespace skippy::cuda
