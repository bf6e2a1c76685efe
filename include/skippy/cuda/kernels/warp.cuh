#pragma once
// Warp-wide reductions over the xor butterfly (v op= shfl_xor(v, o) for o = 16, 8, 4, 2, 1): every lane
// ends with the result, combined in the order math::butterfly_sum writes down for the host.

#include <cuda_runtime.h>

#include "../../math/reduce.hpp"

namespace skippy::cuda::kernels {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = math::warp_lanes / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = math::warp_lanes / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace skippy::cuda::kernels
