#pragma once
// One warp-wide integer matrix product on tensor cores: D = A B for A 16 x 32 and B 32 x 8 int8 (mma
// m16n8k32, sm_80 and newer), D int32 and exact. Fragments in PTX's layout for lane 4g + t: a[0] / a[1]
// hold k = 4t..4t+3 of rows g / g + 8, a[2] / a[3] k = 16+4t..16+4t+3 of the same rows; b[0] / b[1] k =
// 4t.. / 16+4t.. of column g; d[0], d[1] are row g at columns 2t, 2t + 1, d[2], d[3] row g + 8. Every lane
// of the warp must call it.

#include <cuda_runtime.h>

#include <cstdint>

#include "../../quant/q8_slice.hpp"

namespace skippy::cuda::kernels {

__device__ __forceinline__ void mma_s8_16x8x32(const std::uint32_t (&a)[4], const std::uint32_t (&b)[2], int (&d)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(0), "r"(0), "r"(0), "r"(0));
#else
  // The same integers from the other lanes' fragments (older GPUs, and the host emulation of
  // test/emulation): row g's k-quads from lanes 4g + u, column n's from lanes 4n + u.
  const int lane = static_cast<int>(threadIdx.x) & 31, g = lane >> 2, t = lane & 3;
  for (int i = 0; i < 4; ++i) d[i] = 0;
  for (int u = 0; u < 4; ++u) {
    std::uint32_t rows[4], cols[2][2];
    for (int i = 0; i < 4; ++i) rows[i] = __shfl_sync(0xffffffffu, a[i], 4 * g + u);
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 2; ++i) cols[c][i] = __shfl_sync(0xffffffffu, b[i], 4 * (2 * t + c) + u);
    for (int h = 0; h < 2; ++h)
      for (int c = 0; c < 2; ++c)
        d[2 * h + c] =
            quant::detail::dot4(rows[2 + h], cols[c][1], quant::detail::dot4(rows[h], cols[c][0], d[2 * h + c]));
  }
#endif
}

}  // namespace skippy::cuda::kernels
