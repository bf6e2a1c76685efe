#pragma once
// The last block of a launch to finish a shared piece of work (threadFenceReduction's pattern): the
// launch's other blocks' writes are then visible to it, and it finishes the work (a merge, a verdict,
// a norm's scales) without a launch of its own.

#include <cuda_runtime.h>

namespace skippy::cuda::kernels {

// Where a launch's blocks meet: of the gridDim.x blocks counted on `arrived` (a row of the grid, say),
// the last to call this after its writes returns true, with every other block's writes (made before
// their call) visible, and clears the counter for the next launch (it starts at zero). flag: an int of
// the block's shared memory. Block-uniform.
__device__ inline bool last_to_arrive(unsigned* arrived, int* flag) {
  __threadfence();  // every thread's writes land before the arrival that counts them
  __syncthreads();
  if (threadIdx.x == 0) *flag = atomicAdd(arrived, 1u) + 1 == gridDim.x;
  __syncthreads();
  const bool last = *flag != 0;
  if (last) {
    __threadfence();
    if (threadIdx.x == 0) *arrived = 0;
  }
  __syncthreads();  // the flag is read before a later call rewrites it
  return last;
}

}  // namespace skippy::cuda::kernels
