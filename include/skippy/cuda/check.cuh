#pragma once
// CUDA error handling at the host boundary: entry points return cudaError_t; wrappers throw.

#include <cuda_runtime.h>

#include "../core/error.hpp"

namespace skippy::cuda {

// A failed call also leaves its error as the thread's last error, which launch() reports after the next
// kernel launch: check clears it, so that a caller who catches this error (an allocation too large, say)
// is not told it again by an unrelated launch. (A sticky error, a fault on the device, cannot be cleared.)
inline void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  (void)cudaGetLastError();
  skippy::detail::fail("CUDA error in ", what, ": ", cudaGetErrorString(e));
}

// For calls whose failure is ignored (releases, a capture abandoned on an error path): the same clearing.
inline void ignore(cudaError_t e) {
  if (e != cudaSuccess) (void)cudaGetLastError();
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
