#pragma once
// Block-wide reductions and scans whose result every thread of the block receives, on CUB's block
// primitives. Each call ends with a barrier, so calls can follow one another on the same storage and
// results steer block-uniform control flow (search loops, early exits). CUB's reductions combine in a
// fixed order for a fixed block size: the same inputs give the same bits on every run.

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <cstdint>
#include <type_traits>

#include "../../math/multiway_search.hpp"
#include "arrival.cuh"

namespace skippy::cuda::kernels {

struct MaxJoin {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
  __device__ __forceinline__ int operator()(int a, int b) const { return a > b ? a : b; }
};
struct MinJoin {
  __device__ __forceinline__ int operator()(int a, int b) const { return a < b ? a : b; }
};

// N values reduced element by element in one block reduction (the probes of a multiway search).
template <class T, int N>
struct Lanes {
  T v[N];
};
struct LanesSum {
  template <class T, int N>
  __device__ __forceinline__ Lanes<T, N> operator()(const Lanes<T, N>& a, const Lanes<T, N>& b) const {
    Lanes<T, N> r;
#pragma unroll
    for (int k = 0; k < N; ++k) r.v[k] = a.v[k] + b.v[k];
    return r;
  }
};

// Reductions and scans of float or int values (T), and element-wise sums of the multiway search's probes.
template <int Threads>
class BlockAll {
  template <class T>
  using Reduce = cub::BlockReduce<T, Threads>;
  template <class T>
  using Scan = cub::BlockScan<T, Threads>;
  static constexpr int probes = math::MultiwaySearch::probes;

 public:
  struct Storage {
    union {
      typename Reduce<float>::TempStorage float_reduce;
      typename Reduce<int>::TempStorage int_reduce;
      typename Scan<float>::TempStorage float_scan;
      typename Scan<int>::TempStorage int_scan;
      typename Reduce<Lanes<float, probes>>::TempStorage float_lanes;
      typename Reduce<Lanes<int, probes>>::TempStorage int_lanes;
    } tmp;
    union {
      float f;
      int i;
      Lanes<float, probes> float_lanes;
      Lanes<int, probes> int_lanes;
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

  // x[j] = the block's sum of x[j], for each of the multiway search's probes (one reduction for all).
  template <class T>
  __device__ void sum_each(T (&x)[probes]) {
    Lanes<T, probes> in;
#pragma unroll
    for (int k = 0; k < probes; ++k) in.v[k] = x[k];
    Lanes<T, probes> r;
    if constexpr (std::is_same_v<T, float>) r = Reduce<Lanes<float, probes>>(s_.tmp.float_lanes).Reduce(in, LanesSum());
    else r = Reduce<Lanes<int, probes>>(s_.tmp.int_lanes).Reduce(in, LanesSum());
    r = publish(r);
#pragma unroll
    for (int k = 0; k < probes; ++k) x[k] = r.v[k];
  }

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

// f(i, x[i]) for this thread's share of the ids [0, n), each id once and a thread's in ascending order:
// where x is 16-byte aligned, 4 consecutive ids a load and two loads in flight (a warp's load one
// 512-byte run), else one id at a time, Threads apart. For a block's passes over a whole row, where one
// block keeps too few loads in flight to be fast and f may store where the compiler cannot tell x's
// loads from its stores.
template <int Threads, class F>
__device__ __forceinline__ void for_row(const float* x, int n, F&& f) {
  const int t = static_cast<int>(threadIdx.x);
  int done = 0;
  if (reinterpret_cast<std::uintptr_t>(x) % 16 == 0) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const int n4 = n / 4;
    for (int j = t; j < n4; j += 2 * Threads) {
      const bool second = j + Threads < n4;
      const float4 a = x4[j];
      const float4 b = second ? x4[j + Threads] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      f(4 * j, a.x);
      f(4 * j + 1, a.y);
      f(4 * j + 2, a.z);
      f(4 * j + 3, a.w);
      if (second) {
        const int i = 4 * (j + Threads);
        f(i, b.x);
        f(i + 1, b.y);
        f(i + 2, b.z);
        f(i + 3, b.w);
      }
    }
    done = 4 * n4;
  }
  for (int i = done + t; i < n; i += Threads) f(i, x[i]);
}

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
