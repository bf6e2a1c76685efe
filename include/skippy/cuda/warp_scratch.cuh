#pragma once
// An owning helper for the chunked sampling warp's scratch (kernels/warp_chunks.cuh): per row, what its
// blocks leave one another and room for their candidates, allocated and zeroed once.

#include <cuda_runtime.h>

#include <cstddef>

#include "buffer.cuh"
#include "check.cuh"
#include "kernels/warp_chunks.cuh"

namespace skippy::cuda {

class WarpScratchBuffer {
 public:
  WarpScratchBuffer() = default;  // no scratch: rows of one chunk only
  // Scratch for launches of up to `rows` rows of n entries (synchronous: zeroed before any stream uses it).
  WarpScratchBuffer(int n, int rows) : n_(n), rows_(rows) {
    require(n >= 1 && rows >= 1, "sampling warp scratch: n and rows must be >= 1, got ", n, " and ", rows);
    const std::size_t bytes = kernels::warp_scratch_bytes(n, rows);
    bytes_ = DeviceBuffer<unsigned char>(bytes);
    check(cudaMemset(bytes_.data(), 0, bytes), "sampling warp scratch: clear");
    check(cudaDeviceSynchronize(), "sampling warp scratch: clear");
  }
  kernels::WarpScratch get() const {
    return bytes_.size() == 0 ? kernels::WarpScratch{} : kernels::warp_scratch_at(bytes_.data(), n_, rows_);
  }

 private:
  int n_ = 0, rows_ = 0;
  DeviceBuffer<unsigned char> bytes_;
};

}  // namespace skippy::cuda
