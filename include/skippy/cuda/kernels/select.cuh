#pragma once
// Token selection on the device: the argmax of each logits row (ties to the lowest id, as
// sampling::argmax; never a sort) with a flag for non-finite logits, and the fused greedy acceptance
// that turns a verify block's argmaxes into the step's verdict without a host round trip.

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

namespace skippy::cuda::kernels {

inline constexpr int select_threads = 256;

struct ArgmaxCandidate {
  float value;
  int index;
};

// The larger value; equal values keep the lower id (so the result is sampling::argmax's).
struct ArgmaxJoin {
  __device__ __forceinline__ ArgmaxCandidate operator()(const ArgmaxCandidate& a, const ArgmaxCandidate& b) const {
    return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
  }
};

// out[r * out_stride] = argmax of row r of logits (rows of n values); grid = rows. A non-finite logit
// sets *bad to 1 (the decoder reports it; the token written is then meaningless).
template <int Threads = select_threads>
__global__ void __launch_bounds__(Threads)
    argmax_rows(const float* __restrict__ logits, int n, int* __restrict__ out, int out_stride, int* __restrict__ bad) {
  using Reduce = cub::BlockReduce<ArgmaxCandidate, Threads>;
  __shared__ typename Reduce::TempStorage tmp;
  const float* row = logits + static_cast<long>(blockIdx.x) * n;
  ArgmaxCandidate best{-INFINITY, n};
  bool finite = true;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += Threads) {
    const float v = row[i];
    finite = finite && isfinite(v);
    if (v > best.value || best.index == n) best = {v, i};  // ids rise within a thread: strict > keeps the lowest
  }
  if (!finite) atomicExch(bad, 1);
  best = Reduce(tmp).Reduce(best, ArgmaxJoin());
  if (threadIdx.x == 0) out[static_cast<long>(blockIdx.x) * out_stride] = best.index;
}

// Writes a step's verdict: verdict[0] = n (accepted drafts), verdict[1] = the next token, which is also
// written where the next step reads its pending token (pending1 may be null).
__device__ inline void write_verdict(int accepted, int next, int* verdict, int* pending0, int* pending1) {
  verdict[0] = accepted;
  verdict[1] = next;
  *pending0 = next;
  if (pending1 != nullptr) *pending1 = next;
}

// The greedy verdict of a step: block = [x_t, d_1..d_k], target = argmax of the k+1 verify rows. One
// thread. pending0 may alias block[0]: no __restrict__ on those.
template <int Threads = 32>
__global__ void __launch_bounds__(Threads) greedy_accept(const int* block, const int* __restrict__ target, int k,
                                                         int* __restrict__ verdict, int* pending0, int* pending1) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  int n = 0;
  while (n < k && block[n + 1] == target[n]) ++n;
  write_verdict(n, target[n], verdict, pending0, pending1);
}

}  // namespace skippy::cuda::kernels
