#pragma once
// CUDA tests return early, visibly, where no GPU exists (CTest then reports them as skipped).

#include <cstdio>

#include <skippy/cuda/check.cuh>

#define SKIPPY_SKIP_WITHOUT_GPU(what)                          \
  do {                                                         \
    if (!::skippy::cuda::device_available()) {                 \
      std::printf("skipped: no GPU (%s)\n", what);             \
      return;                                                  \
    }                                                          \
  } while (0)
