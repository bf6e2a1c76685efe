#pragma once
// Token selection on the device: the argmax of each logits row (ties to the lowest id, as
// sampling::argmax; never a sort) with a flag for non-finite logits, and the fused greedy acceptance
// that turns a verify block's argmaxes into the step's verdict without a host round trip.

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

#include "../launch.cuh"
#include "block.cuh"

namespace skippy::cuda::kernels {

inline constexpr int select_threads = 256;
// Logits one block of argmax_rows takes: a 128k row spreads over 32 blocks. (One block a row, up to run 9,
// took 60 us for a 128k row on an H200, 8.5 GB/s: what one SM keeps in flight.)
inline constexpr int argmax_chunk = 4096;

// Blocks of argmax_rows a row of n logits takes.
__host__ __device__ constexpr int argmax_chunks(int n) { return (n + argmax_chunk - 1) / argmax_chunk; }

struct ArgmaxCandidate {
  float value;
  int index;
};

// A candidate as a 64-bit key whose unsigned order is the argmax's (sampling::argmax: the larger value,
// equal values to the lower id): the value's bits made monotone (-0 as +0: they are equal) above the
// complemented id (the lower id the larger key). Blocks and the blocks of a row both join by its maximum.
__device__ __forceinline__ unsigned long long argmax_key(ArgmaxCandidate c) {
  const unsigned u = __float_as_uint(c.value == 0.0f ? 0.0f : c.value);
  const unsigned ordered = (u & 0x80000000u) != 0 ? ~u : u | 0x80000000u;
  return static_cast<unsigned long long>(ordered) << 32 | static_cast<unsigned>(~c.index);
}
__device__ __forceinline__ int argmax_key_index(unsigned long long key) {
  return static_cast<int>(~static_cast<unsigned>(key));
}
struct ArgmaxKeyJoin {
  __device__ __forceinline__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return a > b ? a : b;
  }
};

// Where the blocks of a row meet when it takes more than one (argmax_chunks(n) > 1): per row, the best
// key so far and how many blocks have arrived; and how many rows are done, for a verdict that follows
// them (GreedyVerdict). Zero before the first launch; every launch leaves it so.
struct ArgmaxScratch {
  unsigned long long* best = nullptr;
  unsigned* arrived = nullptr;
  unsigned* rows_done = nullptr;
};

// Writes a step's verdict: verdict[0] = n (accepted drafts), verdict[1] = the next token, which is also
// written where the next step reads its pending token (pending1 may be null).
__device__ inline void write_verdict(int accepted, int next, int* verdict, int* pending0, int* pending1) {
  verdict[0] = accepted;
  verdict[1] = next;
  *pending0 = next;
  if (pending1 != nullptr) *pending1 = next;
}

// The greedy verdict of a step whose block is [x_t, d_1..d_k] and whose verify rows' argmaxes are
// target[0..k]: the drafts accepted while each equals the argmax before it, the next token the argmax
// after the last accepted. pending0 may alias block[0].
struct GreedyVerdict {
  const int* block = nullptr;  // null: no verdict
  int k = 0;
  int* verdict = nullptr;
  int* pending0 = nullptr;
  int* pending1 = nullptr;
  __device__ void write(const int* target) const {
    int n = 0;
    while (n < k && block[n + 1] == target[n]) ++n;
    write_verdict(n, target[n], verdict, pending0, pending1);
  }
};

// out[r * out_stride] = argmax of row r of logits (rows of n values); grid = (argmax_chunks(n), rows),
// block c of a row taking ids [c * argmax_chunk, (c + 1) * argmax_chunk). Several blocks a row join
// their block's key in scratch by atomicMax (the maximum is the same in any order); the last to arrive writes
// the id and clears the row's scratch. A non-finite logit sets *bad to 1 (the decoder reports it; the
// token written is then meaningless). With a GreedyVerdict (out_stride 1), the thread that writes the
// last row's id writes the verdict over them (a launch fewer per step). Launch through launch_argmax,
// which checks the scratch.
template <int Threads = select_threads>
__global__ void __launch_bounds__(Threads)
    argmax_rows(const float* __restrict__ logits, int n, int* out, int out_stride, int* __restrict__ bad,
                ArgmaxScratch scratch, GreedyVerdict then) {
  using Reduce = cub::BlockReduce<unsigned long long, Threads>;
  __shared__ typename Reduce::TempStorage tmp;
  const long r = blockIdx.y;
  const float* row = logits + r * n;
  const int begin = static_cast<int>(blockIdx.x) * argmax_chunk;
  const int end = n - begin < argmax_chunk ? n : begin + argmax_chunk;
  ArgmaxCandidate best{-INFINITY, n};
  bool finite = true;
  for_row<Threads>(row + begin, end - begin, [&](int i, float v) {
    finite = finite && isfinite(v);
    if (v > best.value || best.index == n) best = {v, begin + i};  // ids rise within a thread: > keeps the lowest
  });
  if (!finite) atomicExch(bad, 1);
  const unsigned long long key = Reduce(tmp).Reduce(argmax_key(best), ArgmaxKeyJoin());
  if (threadIdx.x != 0) return;
  // A thread that owns no element keeps {-inf, n}, which outranks a negative NaN: over a row of those
  // (flagged bad) the id would be n, and a verify pass would embed a token past the table. Clamped, the
  // id is meaningless but in the vocabulary, as the warp kernels' is.
  const auto in_vocabulary = [n](int id) { return id < n ? id : n - 1; };
  if (gridDim.x == 1) {
    out[r * out_stride] = in_vocabulary(argmax_key_index(key));
  } else {
    atomicMax(scratch.best + r, key);
    __threadfence();  // the key lands before the arrival that counts it
    if (atomicAdd(scratch.arrived + r, 1u) + 1 < gridDim.x) return;
    out[r * out_stride] = in_vocabulary(argmax_key_index(atomicExch(scratch.best + r, 0ull)));
    scratch.arrived[r] = 0;
  }
  if (then.block == nullptr) return;
  __threadfence();  // the id lands before the row counts as done
  if (atomicAdd(scratch.rows_done, 1u) + 1 < gridDim.y) return;
  __threadfence();
  *scratch.rows_done = 0;
  then.write(out);
}

// argmax_rows over `rows` rows on `stream`; scratch (rows entries of best and arrived) where a row takes
// more than one block, else it may be empty; with a verdict (then.block set: rows = then.k + 1, out_stride
// 1), scratch.rows_done too.
inline cudaError_t launch_argmax(const float* logits, int n, int rows, int* out, int out_stride, int* bad,
                                 ArgmaxScratch scratch, cudaStream_t stream = nullptr, GreedyVerdict then = {}) {
  if (n < 1 || rows < 1) return cudaErrorInvalidValue;
  const int chunks = argmax_chunks(n);
  if (chunks > 1 && (scratch.best == nullptr || scratch.arrived == nullptr)) return cudaErrorInvalidValue;
  if (then.block != nullptr &&
      (scratch.rows_done == nullptr || then.k + 1 != rows || out_stride != 1 || then.verdict == nullptr ||
       then.pending0 == nullptr))
    return cudaErrorInvalidValue;
  return launch(argmax_rows<>, dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(rows)), select_threads, 0,
                stream, logits, n, out, out_stride, bad, scratch, then);
}

}  // namespace skippy::cuda::kernels
