#pragma once
// Block-wide reductions and scans whose result every thread of the block receives, on CUB's block
// primitives. Each call ends with a barrier, so calls can follow one another on the same storage and
// results steer block-uniform control flow (bisection loops, early exits). CUB's reductions combine in a
// fixed order for a fixed block size: the same inputs give the same bits on every run.

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <type_traits>

namespace skippy::cuda::kernels {

struct MaxJoin {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
  __device__ __forceinline__ int operator()(int a, int b) const { return a > b ? a : b; }
};
struct MinJoin {
  __device__ __forceinline__ int operator()(int a, int b) const { return a < b ? a : b; }
};

// Reductions and scans of float or int values (T).
template <int Threads>
class BlockAll {
  template <class T>
  using Reduce = cub::BlockReduce<T, Threads>;
  template <class T>
  using Scan = cub::BlockScan<T, Threads>;

 public:
  struct Storage {
    union {
      typename Reduce<float>::TempStorage float_reduce;
      typename Reduce<int>::TempStorage int_reduce;
      typename Scan<float>::TempStorage float_scan;
      typename Scan<int>::TempStorage int_scan;
    } tmp;
    union {
      float f;
      int i;
    } result;
  };

  __device__ explicit BlockAll(Storage& s) : s_(s) {}

  template <class T>
  __device__ T sum(T x) {
    return publish(reduce<T>().Sum(x));
  }
  template <class T>
  __device__ T max(T x) {
    return publish(reduce<T>().Reduce(x, MaxJoin()));
  }
  __device__ int min(int x) { return publish(reduce<int>().Reduce(x, MinJoin())); }

  // Sum of x over the threads before this one (thread order).
  template <class T>
  __device__ T exclusive_sum(T x) {
    T r;
    if constexpr (std::is_same_v<T, float>) Scan<float>(s_.tmp.float_scan).ExclusiveSum(x, r);
    else Scan<int>(s_.tmp.int_scan).ExclusiveSum(x, r);
    __syncthreads();
    return r;
  }

 private:
  template <class T>
  __device__ Reduce<T> reduce() {
    if constexpr (std::is_same_v<T, float>) return Reduce<float>(s_.tmp.float_reduce);
    else return Reduce<int>(s_.tmp.int_reduce);
  }
  // Thread 0 holds a reduction's result: broadcast it, then fence the storage for the next call.
  template <class T>
  __device__ T publish(T r) {
    T& slot = *reinterpret_cast<T*>(&s_.result);
    if (threadIdx.x == 0) slot = r;
    __syncthreads();
    r = slot;
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
