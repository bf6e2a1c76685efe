#pragma once
// Block-wide reductions and scans whose result every thread of the block receives, on CUB's block
// primitives. Each call ends with a barrier, so calls can follow one another on the same storage and
// results steer block-uniform control flow (bisection loops, early exits). CUB's reductions combine in a
// fixed order for a fixed block size: the same inputs give the same bits on every run.

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

namespace skippy::cuda::kernels {

struct MaxJoin {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
  __device__ __forceinline__ int operator()(int a, int b) const { return a > b ? a : b; }
};
struct MinJoin {
  __device__ __forceinline__ int operator()(int a, int b) const { return a < b ? a : b; }
};

template <int Threads>
class BlockAll {
  using FloatReduce = cub::BlockReduce<float, Threads>;
  using IntReduce = cub::BlockReduce<int, Threads>;
  using FloatScan = cub::BlockScan<float, Threads>;
  using IntScan = cub::BlockScan<int, Threads>;

 public:
  struct Storage {
    union {
      typename FloatReduce::TempStorage float_reduce;
      typename IntReduce::TempStorage int_reduce;
      typename FloatScan::TempStorage float_scan;
      typename IntScan::TempStorage int_scan;
    } tmp;
    float f;
    int i;
  };

  __device__ explicit BlockAll(Storage& s) : s_(s) {}

  __device__ float sum(float x) { return publish(FloatReduce(s_.tmp.float_reduce).Sum(x)); }
  __device__ float max(float x) { return publish(FloatReduce(s_.tmp.float_reduce).Reduce(x, MaxJoin())); }
  __device__ int sum(int x) { return publish(IntReduce(s_.tmp.int_reduce).Sum(x)); }
  __device__ int max(int x) { return publish(IntReduce(s_.tmp.int_reduce).Reduce(x, MaxJoin())); }
  __device__ int min(int x) { return publish(IntReduce(s_.tmp.int_reduce).Reduce(x, MinJoin())); }

  // Sum of x over the threads before this one (thread order).
  __device__ float exclusive_sum(float x) {
    float r;
    FloatScan(s_.tmp.float_scan).ExclusiveSum(x, r);
    __syncthreads();
    return r;
  }
  __device__ int exclusive_sum(int x) {
    int r;
    IntScan(s_.tmp.int_scan).ExclusiveSum(x, r);
    __syncthreads();
    return r;
  }

 private:
  // Thread 0 holds a reduction's result: broadcast it, then fence the storage for the next call.
  __device__ float publish(float r) {
    if (threadIdx.x == 0) s_.f = r;
    __syncthreads();
    r = s_.f;
    __syncthreads();
    return r;
  }
  __device__ int publish(int r) {
    if (threadIdx.x == 0) s_.i = r;
    __syncthreads();
    r = s_.i;
    __syncthreads();
    return r;
  }

  Storage& s_;
};

// The contiguous id range [begin, end) of this thread when n ids are split in thread order (for scans
// that need id order: thread t's ids all precede thread t+1's).
struct ThreadChunk {
  int begin, end;
  template <int Threads>
  __device__ static ThreadChunk of(int n) {
    const int chunk = (n + Threads - 1) / Threads;
    const int b = static_cast<int>(threadIdx.x) * chunk;
    return {b < n ? b : n, b + chunk < n ? b + chunk : n};
  }
};

}  // namespace skippy::cuda::kernels
