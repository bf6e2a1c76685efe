#pragma once
// CUDA tests return early, visibly, where no GPU exists (CTest then reports them as skipped).

#include <cstdio>
#include <cstdlib>

#include <skippy/cuda/check.cuh>

#define SKIPPY_SKIP_WITHOUT_GPU(what)                          \
  do {                                                         \
    if (!::skippy::cuda::device_available()) {                 \
      std::printf("skipped: no GPU (%s)\n", what);             \
      return;                                                  \
    }                                                          \
  } while (0)

namespace skippy::test {
// Set by bench/gpu_check.sh's sanitizer phase: tests that loop over hundreds of random cases for their
// statistics run a few instead (a race or a bad access shows in one), and skip those statistics.
inline bool sanitizer_run() {
  const char* v = std::getenv("SKIPPY_SANITIZER_RUN");
  return v != nullptr && v[0] == '1';
}
}  // namespace skippy::test
