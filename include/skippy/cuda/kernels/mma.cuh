#pragma once
// Warp-wide matrix products on tensor cores. Integers: D = A B for A 16 x 32 and B 32 x 8 int8 (mma
// m16n8k32, sm_80 and newer), D int32 and exact. Fragments in PTX's layout for lane 4g + t: a[0] / a[1]
// hold k = 4t..4t+3 of rows g / g + 8, a[2] / a[3] k = 16+4t..16+4t+3 of the same rows; b[0] / b[1] k =
// 4t.. / 16+4t.. of column g; d[0], d[1] are row g at columns 2t, 2t + 1, d[2], d[3] row g + 8. Every lane
// of the warp must call it.

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "../../core/half.hpp"
#include "../../quant/q8_slice.hpp"
#include "../../quant/split.hpp"

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

// D += A B for A 16 x 16 and B 16 x 8 of 16-bit floats H (half_t: f16, bf16_t: bf16), D float (mma
// m16n8k16, sm_80 and newer): each product exact, summed in the tensor cores' order. Fragments as
// mma_s8_16x8x32's with pairs of 16-bit values for quads of bytes: a[0] / a[1] hold k = 2t, 2t+1 of rows
// g / g + 8, a[2] / a[3] k = 2t+8, 2t+9; b[0] / b[1] k = 2t.. / 2t+8.. of column g; d as there.
template <class H>
__device__ __forceinline__ void mma_16x8x16(const std::uint32_t (&a)[4], const std::uint32_t (&b)[2], float (&d)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<H, half_t>)
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  // The same products from the other lanes' fragments (older GPUs, and the host emulation of
  // test/emulation), summed in k order: row g's pairs from lanes 4g + u, column n's from lanes 4n + u.
  const int lane = static_cast<int>(threadIdx.x) & 31, g = lane >> 2, t = lane & 3;
  std::uint32_t rows[4][4], cols[2][4][2];
  for (int u = 0; u < 4; ++u) {
    for (int i = 0; i < 4; ++i) rows[u][i] = __shfl_sync(0xffffffffu, a[i], 4 * g + u);
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 2; ++i) cols[c][u][i] = __shfl_sync(0xffffffffu, b[i], 4 * (2 * t + c) + u);
  }
  for (int h = 0; h < 2; ++h)      // rows g, g + 8
    for (int c = 0; c < 2; ++c)    // columns 2t, 2t + 1
      for (int k = 0; k < 16; ++k) {  // slot k: pair (k % 8) / 2 of lane 4g + k % 8 / 2, word k / 8
        const int u = (k % 8) / 2, half = k % 2, hi = k / 8;
        d[2 * h + c] += quant::detail::unpack_half(rows[u][2 * hi + h], half, H{}) *
                        quant::detail::unpack_half(cols[c][u][hi], half, H{});
      }
#endif
}

}  // namespace skippy::cuda::kernels
