#pragma once
// Weight x activation for long blocks of rows (prefill: M in the tens to thousands) on tensor cores:
// y[i][r] = W[r] . x[i]. A thread block computes 64 weight rows x 64 activation rows; each step of 32
// columns dequantises its weight tile into shared memory with quant::dequantize (the host's formula; for a
// packed matrix, quant::Packed<Q>::value, the same values from the packed layout) and
// rounds both operands to TF32 (10-bit mantissa, FP32's range: activations cannot overflow as they could
// in FP16), accumulating in FP32. The weights are read once per 64 activation rows.
//
// Decoding steps keep gemv, whose rows are bit-identical whatever M; every decoder of the backend
// prefills through this kernel alike, so greedy S3D still emits exactly the greedy AR tokens. Against
// the host the TF32 rounding adds a relative error of about 1e-3 to prefilled rows (DESIGN.md §1 promises
// no bit equality across backends). Tensor cores need sm_80 or newer; gemm_supported<Q>() tells.

#include <cuda_runtime.h>
#include <mma.h>

#include "../model/view.hpp"
#include "../policy/predictor.hpp"
#include "../quant/dequantize.hpp"
#include "../quant/packed.hpp"
#include "launch.cuh"

namespace skippy::cuda {

// Blocks of at least this many rows take the tensor-core path; decoding blocks (K + 1 rows) never do.
inline constexpr int gemm_min_rows = 48;
static_assert(gemm_min_rows > max_predictors + 1, "decoding blocks must stay on gemv (bit-identical rows)");

namespace kernels {

inline constexpr int gemm_tile_r = 64, gemm_tile_m = 64, gemm_tile_k = 32, gemm_threads = 128;
static_assert(gemm_tile_r == gemm_tile_m && gemm_threads == 2 * gemm_tile_r && gemm_tile_k % 8 == 0,
              "gemm_tf32: two threads stage each row of the weight and the activation tile, 16-byte aligned");

// Four blocks an SM: 128 registers a thread, without spills (ptxas: up to 236 unbounded).
template <class Q, class L = quant::InPlace<Q>>
__global__ void __launch_bounds__(gemm_threads, 4)
    gemm_tf32(const typename Q::block* __restrict__ w, int rows, int cols, const float* __restrict__ x, int m,
              float* __restrict__ y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  dependent_prologue();
  using namespace nvcuda;
  constexpr int ld = gemm_tile_k + 4;   // row stride of the operand tiles (a multiple of 4 floats)
  constexpr int ldc = gemm_tile_r + 4;  // row stride of the staged output tile
  constexpr int operands = (gemm_tile_r + gemm_tile_m) * ld, staged = gemm_tile_m * ldc;
  __shared__ __align__(32) float smem[operands > staged ? operands : staged];
  float* ws = smem;                      // [r][k] weight tile
  float* xs = smem + gemm_tile_r * ld;   // [i][k] activation tile

  const int r0 = static_cast<int>(blockIdx.x) * gemm_tile_r, i0 = static_cast<int>(blockIdx.y) * gemm_tile_m;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32;
  const int wr = (warp / 2) * 32, wi = (warp % 2) * 32;  // this warp's 32 x 32 part of the tile

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b) wmma::fill_fragment(acc[a][b], 0.0f);

  // Software-pipelined: thread t's part of the next k tile (row t / 2 of both tiles, its 16 columns from
  // (t % 2) * 16: the weights dequantised, and the activations) is requested before this tile's mma, all
  // at once, and staged after it. (Staged element by element, one load at a time, a k step cost about 9 us
  // whatever the shape: BM_gemm on an H200, runs 1-7, at most 3% of the TF32 peak.) The operands and
  // the mma order are unchanged: the same bits.
  constexpr int span = gemm_tile_k / 2;
  const int sr = tid / 2, sk = (tid % 2) * span;
  const bool w_in = r0 + sr < rows, x_in = i0 + sr < m;  // rows past the end stage zeros
  const auto wrow = L::row(w, w_in ? r0 + sr : rows - 1, rows, cols);
  const float* xrow = x + static_cast<long>(x_in ? i0 + sr : 0) * cols + sk;
  float wv[span], xv[span];
  const auto fetch = [&](int k0) {
#pragma unroll
    for (int c = 0; c < span; ++c) {
      wv[c] = w_in ? L::value(wrow, k0 + sk + c) : 0.0f;
      xv[c] = x_in ? xrow[k0 + c] : 0.0f;
    }
  };
  fetch(0);
  for (int k0 = 0; k0 < cols; k0 += gemm_tile_k) {
#pragma unroll
    for (int c = 0; c < span; c += 4) {  // 16-byte stores: ld and sk keep them aligned
      const auto tf32 = [](const float* v) {
        return make_float4(wmma::__float_to_tf32(v[0]), wmma::__float_to_tf32(v[1]), wmma::__float_to_tf32(v[2]),
                           wmma::__float_to_tf32(v[3]));
      };
      *reinterpret_cast<float4*>(ws + sr * ld + sk + c) = tf32(wv + c);
      *reinterpret_cast<float4*>(xs + sr * ld + sk + c) = tf32(xv + c);
    }
    __syncthreads();
    if (k0 + gemm_tile_k < cols) fetch(k0 + gemm_tile_k);  // in flight during this tile's mma
#pragma unroll
    for (int kk = 0; kk < gemm_tile_k; kk += 8) {
      // A = W (rows x k, row-major); B = x^T (k x rows of x): x's [i][k] tile is B in column-major order.
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b[2];
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        wmma::load_matrix_sync(a[s], ws + (wr + 16 * s) * ld + kk, ld);
        wmma::load_matrix_sync(b[s], xs + (wi + 16 * s) * ld + kk, ld);
      }
#pragma unroll
      for (int s = 0; s < 2; ++s)
#pragma unroll
        for (int u = 0; u < 2; ++u) wmma::mma_sync(acc[s][u], a[s], b[u], acc[s][u]);
    }
    __syncthreads();
  }
  // C (weight rows x activation rows) stored column-major is y's [i][r] layout: stage, then write the
  // in-range part with consecutive threads on consecutive weight rows.
#pragma unroll
  for (int s = 0; s < 2; ++s)
#pragma unroll
    for (int u = 0; u < 2; ++u)
      wmma::store_matrix_sync(smem + (wi + 16 * u) * ldc + wr + 16 * s, acc[s][u], ldc, wmma::mem_col_major);
  __syncthreads();
  for (int e = tid; e < gemm_tile_m * gemm_tile_r; e += gemm_threads) {
    const int i = e / gemm_tile_r, r = e % gemm_tile_r, gi = i0 + i, gr = r0 + r;
    if (gi < m && gr < rows) y[static_cast<long>(gi) * rows + gr] = smem[i * ldc + r];
  }
#else
  __trap();  // callers check gemm_supported<Q>() first
#endif
}

}  // namespace kernels

namespace detail {
// The kernel's attributes (a launcher like launch_gemm: the kernel is compiled where this is, instances.cuh).
template <class Q>
cudaError_t gemm_attributes(cudaFuncAttributes& attr) {
  return cudaFuncGetAttributes(&attr, kernels::gemm_tf32<Q>);
}
}  // namespace detail

// True when the kernel for Q runs tensor cores here: a device of sm_80 or newer, and the kernel built for
// such an architecture (a build for an older one compiles the kernel as a trap).
template <class Q>
bool gemm_supported() {
  int device = 0, major = 0;
  cudaFuncAttributes attr{};
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      detail::gemm_attributes<Q>(attr) != cudaSuccess) {
    cudaGetLastError();  // leave no error pending for the next launch check
    return false;
  }
  return major >= 8 && attr.ptxVersion >= 80;
}

namespace detail {
template <class Q>
cudaError_t launch_gemm(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on) {
  if (w.tiled) return cudaErrorInvalidValue;  // the tiled layout: the 8-bit activation kernels only
  const dim3 grid(static_cast<unsigned>((w.rows + kernels::gemm_tile_r - 1) / kernels::gemm_tile_r),
                  static_cast<unsigned>((m + kernels::gemm_tile_m - 1) / kernels::gemm_tile_m));
  if constexpr (quant::is_int_blocks_v<Q>) {
    if (w.packed)
      return launch(kernels::gemm_tf32<Q, quant::Packed<Q>>, grid, kernels::gemm_threads, 0, on, w.data, w.rows,
                    w.cols, x, m, y);
  }
  if (w.packed) return cudaErrorInvalidValue;
  return launch(kernels::gemm_tf32<Q>, grid, kernels::gemm_threads, 0, on, w.data, w.rows, w.cols, x, m, y);
}
}  // namespace detail

// y[i][r] = W[r] . x[i] for i < m, all device memory (x: m rows of w.cols floats; y: m rows of w.rows).
// Returns the launch error; cudaErrorInvalidValue for a bad shape, cudaErrorNotSupported where
// gemm_supported<Q>() is false.
template <class Q>
cudaError_t gemm(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on = {}) {
  if (m < 1 || w.rows < 1 || w.cols % kernels::gemm_tile_k != 0) return cudaErrorInvalidValue;
  if (!gemm_supported<Q>()) return cudaErrorNotSupported;
  return detail::launch_gemm(w, x, m, y, on);
}

}  // namespace skippy::cuda

#include "instances.cuh"
#ifdef SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS
SKIPPY_CUDA_STANDARD_GEMM_KERNELS(extern)  // compiled once, by skippy/cuda/instantiate.cuh
#endif
