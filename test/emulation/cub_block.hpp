#pragma once
// Stand-ins for CUB's block reduction and scan (patch_headers.py points <cub/block/block_reduce.cuh> and
// <cub/block/block_scan.cuh> here): every thread leaves its value in the storage, then thread 0 folds
// them in thread order (a reduction's result is thread 0's, as CUB's) or each thread sums those before
// it (a scan's, every thread's). Another order than CUB's, so float sums are not a GPU's bits.

#include "shim.hpp"

namespace cub {

template <class T, int Threads>
class BlockReduce {
 public:
  struct TempStorage {
    T slot[Threads];
  };
  explicit BlockReduce(TempStorage& s) : s_(s) {}

  template <class Op>
  T Reduce(T x, Op op) {
    s_.slot[threadIdx.x] = x;
    __syncthreads();
    T r = s_.slot[0];
    if (threadIdx.x == 0)
      for (int i = 1; i < Threads; ++i) r = op(r, s_.slot[i]);
    __syncthreads();  // every thread has read the slots before a next call rewrites them
    return r;
  }
  T Sum(T x) {
    return Reduce(x, [](const T& a, const T& b) { return a + b; });
  }

 private:
  TempStorage& s_;
};

template <class T, int Threads>
class BlockScan {
 public:
  struct TempStorage {
    T slot[Threads];
  };
  explicit BlockScan(TempStorage& s) : s_(s) {}

  void ExclusiveSum(T x, T& out) {
    s_.slot[threadIdx.x] = x;
    __syncthreads();
    T r{};
    for (unsigned i = 0; i < threadIdx.x; ++i) r += s_.slot[i];
    out = r;
    __syncthreads();
  }

 private:
  TempStorage& s_;
};

}  // namespace cub
