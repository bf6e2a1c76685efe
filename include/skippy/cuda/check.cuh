#pragma once
// CUDA error handling at the host boundary: entry points return cudaError_t; wrappers throw.

#include <cuda_runtime.h>

#include "../core/error.hpp"

namespace skippy::cuda {

inline void check(cudaError_t e, const char* what) {
  require(e == cudaSuccess, "CUDA error in ", what, ": ", cudaGetErrorString(e));
}

// True when a CUDA device is usable. Any error (no driver, no device) means "no device".
inline bool device_available() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls start clean
    return false;
  }
  return n > 0;
}

}  // namespace skippy::cuda
