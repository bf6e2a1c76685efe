#pragma once
// A small owning device allocation (move-only). The library's entry points take raw device pointers;
// this helper is for callers and for the optional owning paths (DeviceModel, workspaces).

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "check.cuh"

namespace skippy::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    if (n > 0) check(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)), "cudaMalloc");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  T* data() const { return p_; }
  std::size_t size() const { return n_; }

  // Copies n host values to the start of the buffer on the legacy stream (cudaMemcpy: from pageable memory
  // it may return before the DMA lands, so a non-blocking stream must synchronise with the device first).
  void upload(const T* host, std::size_t n) {
    require(n <= n_, "DeviceBuffer: upload of ", n, " values into a buffer of ", n_);
    if (n > 0) check(cudaMemcpy(p_, host, n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  // Copies n host values to the start of the buffer in `stream`'s order. A plain upload runs on the legacy
  // stream, which a non-blocking stream does not wait for, and its DMA from pageable memory may still be
  // in flight when it returns; the host values may be released once this returns.
  void upload(const T* host, std::size_t n, cudaStream_t stream) {
    require(n <= n_, "DeviceBuffer: upload of ", n, " values into a buffer of ", n_);
    if (n > 0)
      check(cudaMemcpyAsync(p_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync to device");
  }
  void download(T* host, std::size_t n) const {
    require(n <= n_, "DeviceBuffer: download of ", n, " values from a buffer of ", n_);
    if (n > 0) check(cudaMemcpy(host, p_, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }

 private:
  void release() {
    if (p_ != nullptr) ignore(cudaFree(p_));
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace skippy::cuda
