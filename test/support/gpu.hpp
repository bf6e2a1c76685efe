#pragma once
// CUDA tests return early, visibly, where no GPU exists (CTest then reports them as skipped).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/check.cuh>

#define SKIPPY_SKIP_WITHOUT_GPU(what)                          \
  do {                                                         \
    if (!::skippy::cuda::device_available()) {                 \
      std::printf("skipped: no GPU (%s)\n", what);             \
      return;                                                  \
    }                                                          \
  } while (0)

namespace skippy::test {
// Defined by test/emulation for its build of these tests, which runs each block's threads as fibers on one
// core: there the longest cases check fewer rows or trials of the same shapes (each kernel path still runs).
#ifdef SKIPPY_EMULATED_CUDA
inline constexpr bool emulated = true;
#else
inline constexpr bool emulated = false;
#endif

// Set by bench/gpu_check.sh's sanitizer phase: tests that loop over hundreds of random cases for their
// statistics run a few instead (a race or a bad access shows in one), and skip those statistics.
inline bool sanitizer_run() {
  const char* v = std::getenv("SKIPPY_SANITIZER_RUN");
  return v != nullptr && v[0] == '1';
}

// The host copy of a device buffer.
template <class T>
std::vector<T> on_host(const cuda::DeviceBuffer<T>& d) {
  std::vector<T> h(d.size());
  d.download(h.data(), h.size());
  return h;
}
// Whether two device buffers of equal size hold the same bytes.
template <class T>
bool same_bytes(const cuda::DeviceBuffer<T>& a, const cuda::DeviceBuffer<T>& b) {
  return a.size() == b.size() && std::memcmp(on_host(a).data(), on_host(b).data(), a.size() * sizeof(T)) == 0;
}
}  // namespace skippy::test
