#pragma once
// Where a pass's kernels find their position and a step's seed. A position is a host offset plus,
// optionally, a value the kernel reads from device memory when it runs: a step captured once in a CUDA
// Graph then replays at any position, with any seed, from one small upload (README §1's counters).

#include <cuda_runtime.h>

#include <cstdint>

namespace skippy::cuda::kernels {

// A decoding step's draw key on the device: the seed and the position t of its pending token.
struct StepKey {
  std::uint64_t seed;
  int position;
  int pad;
};

struct Position {
  int offset;
  const int* base;  // nullptr: the position is `offset` alone
  static Position at(int p) { return {p, nullptr}; }
  __device__ int get() const { return base != nullptr ? offset + *base : offset; }
};

}  // namespace skippy::cuda::kernels
