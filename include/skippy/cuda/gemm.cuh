#pragma once
// Weight x activation for long blocks of rows (prefill: M in the tens to thousands) on tensor cores:
// y[i][r] = W[r] . x[i]. A thread block computes 64 (or 32) weight rows x 64 activation rows; each step
// of 32 columns dequantises its weight tile into shared memory with quant::dequantize (the host's
// formula; for a packed matrix, quant::Packed<Q>::value, the same values from the packed layout) and
// rounds both operands to TF32 (10-bit mantissa, FP32's range: activations cannot overflow as they could
// in FP16), accumulating in FP32. The weights are read once per 64 activation rows.
//
// Decoding steps keep gemv, whose rows are bit-identical whatever M; every decoder of the backend
// prefills through this kernel alike, so greedy S3D still emits exactly the greedy AR tokens. Against
// the host the TF32 rounding adds a relative error of about 1e-3 to prefilled rows (README §1 promises
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
// Weight rows of the narrow tile: twice the blocks, for grids that would leave SMs idle (launch_gemm).
inline constexpr int gemm_narrow_tile_r = 32;
static_assert(gemm_threads == 2 * gemm_tile_m && gemm_tile_k % 8 == 0,
              "gemm_tf32: two threads stage each activation row, 16-byte aligned");

// TileR weight rows (gemm_tile_r or gemm_narrow_tile_r) x 64 activation rows a block, 2 x 2 warps. Every
// output is the same sum, in the same k order, whichever the tile. Four blocks an SM: 128 registers a
// thread, without spills (ptxas: up to 236 unbounded).
template <class Q, class L = quant::InPlace<Q>, int TileR = gemm_tile_r>
__global__ void __launch_bounds__(gemm_threads, 4)
    gemm_tf32(const typename Q::block* __restrict__ w, int rows, int cols, const float* __restrict__ x, int m,
              float* __restrict__ y) {
  static_assert(TileR == gemm_tile_r || TileR == gemm_narrow_tile_r, "gemm_tf32: 64 or 32 weight rows a block");
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  dependent_prologue();
  using namespace nvcuda;
  constexpr int ld = gemm_tile_k + 4;  // row stride of the operand tiles (a multiple of 4 floats)
  constexpr int ldc = TileR + 4;       // row stride of the staged output tile
  constexpr int operands = (TileR + gemm_tile_m) * ld, staged = gemm_tile_m * ldc;
  __shared__ __align__(32) float smem[operands > staged ? operands : staged];
  float* ws = smem;               // [r][k] weight tile
  float* xs = smem + TileR * ld;  // [i][k] activation tile

  const int r0 = static_cast<int>(blockIdx.x) * TileR, i0 = static_cast<int>(blockIdx.y) * gemm_tile_m;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32;
  constexpr int SR = TileR / 32;  // 16-row fragments of a warp's TileR / 2 weight rows
  const int wr = (warp / 2) * (TileR / 2), wi = (warp % 2) * 32;  // this warp's part of the tile

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[SR][2];
#pragma unroll
  for (int a = 0; a < SR; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b) wmma::fill_fragment(acc[a][b], 0.0f);

  // Software-pipelined: a thread's part of the next k tile (wspan columns of weight row ws_r, dequantised,
  // and 16 columns of activation row xs_r) is requested before this tile's mma, all at once, and staged
  // after it. (Staged element by element, one load at a time, a k step cost about 9 us: BM_gemm at M = 64
  // on an H200, runs 1-7, at any number of rows; at best 18 TFLOP/s, under 4% of the TF32 peak.) The
  // operands and the mma order are unchanged: the same bits.
  constexpr int wthreads = gemm_threads / TileR, wspan = gemm_tile_k / wthreads, xspan = gemm_tile_k / 2;
  const int ws_r = tid / wthreads, ws_k = (tid % wthreads) * wspan;
  const int xs_r = tid / 2, xs_k = (tid % 2) * xspan;
  const bool w_in = r0 + ws_r < rows, x_in = i0 + xs_r < m;  // rows past the end stage zeros
  const auto wrow = L::row(w, w_in ? r0 + ws_r : rows - 1, rows, cols);
  const float* xrow = x + static_cast<long>(x_in ? i0 + xs_r : 0) * cols + xs_k;
  float wv[wspan], xv[xspan];
  const auto fetch = [&](int k0) {
#pragma unroll
    for (int c = 0; c < wspan; ++c) wv[c] = w_in ? L::value(wrow, k0 + ws_k + c) : 0.0f;
#pragma unroll
    for (int c = 0; c < xspan; ++c) xv[c] = x_in ? xrow[k0 + c] : 0.0f;
  };
  // 16-byte shared stores of four values rounded to TF32 (ld, ws_k and xs_k keep them aligned).
  const auto stage4 = [](float* to, const float* v) {
    *reinterpret_cast<float4*>(to) = make_float4(wmma::__float_to_tf32(v[0]), wmma::__float_to_tf32(v[1]),
                                                 wmma::__float_to_tf32(v[2]), wmma::__float_to_tf32(v[3]));
  };
  fetch(0);
  for (int k0 = 0; k0 < cols; k0 += gemm_tile_k) {
#pragma unroll
    for (int c = 0; c < wspan; c += 4) stage4(ws + ws_r * ld + ws_k + c, wv + c);
#pragma unroll
    for (int c = 0; c < xspan; c += 4) stage4(xs + xs_r * ld + xs_k + c, xv + c);
    __syncthreads();
    if (k0 + gemm_tile_k < cols) fetch(k0 + gemm_tile_k);  // in flight during this tile's mma
#pragma unroll
    for (int kk = 0; kk < gemm_tile_k; kk += 8) {
      // A = W (rows x k, row-major); B = x^T (k x rows of x): x's [i][k] tile is B in column-major order.
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[SR];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b[2];
#pragma unroll
      for (int s = 0; s < SR; ++s) wmma::load_matrix_sync(a[s], ws + (wr + 16 * s) * ld + kk, ld);
#pragma unroll
      for (int u = 0; u < 2; ++u) wmma::load_matrix_sync(b[u], xs + (wi + 16 * u) * ld + kk, ld);
#pragma unroll
      for (int s = 0; s < SR; ++s)
#pragma unroll
        for (int u = 0; u < 2; ++u) wmma::mma_sync(acc[s][u], a[s], b[u], acc[s][u]);
    }
    __syncthreads();
  }
  // C (weight rows x activation rows) stored column-major is y's [i][r] layout: stage, then write the
  // in-range part with consecutive threads on consecutive weight rows.
#pragma unroll
  for (int s = 0; s < SR; ++s)
#pragma unroll
    for (int u = 0; u < 2; ++u)
      wmma::store_matrix_sync(smem + (wi + 16 * u) * ldc + wr + 16 * s, acc[s][u], ldc, wmma::mem_col_major);
  __syncthreads();
  for (int e = tid; e < gemm_tile_m * TileR; e += gemm_threads) {
    const int i = e / TileR, r = e % TileR, gi = i0 + i, gr = r0 + r;
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
  return tensor_core_kernel_runs(detail::gemm_attributes<Q>);
}

namespace detail {
// Weight rows a block for a prefill launch: the narrow tile where the wide one would make fewer than two
// blocks per SM (a decoder's 64-row prefill blocks over 1024- to 14336-row matrices: 16 to 224 blocks on
// an H200's 132 SMs, where runs 1-7 took the same time for 64 and 224 blocks). Not yet measured.
inline int gemm_tile_rows(int rows, int m) {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    return kernels::gemm_tile_r;
  }
  const long wide = static_cast<long>((rows + kernels::gemm_tile_r - 1) / kernels::gemm_tile_r) *
                    ((m + kernels::gemm_tile_m - 1) / kernels::gemm_tile_m);
  return wide < 2L * sms ? kernels::gemm_narrow_tile_r : kernels::gemm_tile_r;
}

// One launch of the kernel for weight layout L and R weight rows a block.
template <class Q, class L, int R>
cudaError_t launch_gemm_tile(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on) {
  const dim3 grid(static_cast<unsigned>((w.rows + R - 1) / R),
                  static_cast<unsigned>((m + kernels::gemm_tile_m - 1) / kernels::gemm_tile_m));
  return launch(kernels::gemm_tf32<Q, L, R>, grid, kernels::gemm_threads, 0, on, w.data, w.rows, w.cols, x, m, y);
}

// tile_rows: gemm_tile_r, gemm_narrow_tile_r, or 0 for gemm_tile_rows' choice (the same bits either way).
template <class Q>
cudaError_t launch_gemm(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on,
                        int tile_rows = 0) {
  if (w.tiled) return cudaErrorInvalidValue;  // the tiled layout: the 8-bit activation kernels only
  if (tile_rows == 0) tile_rows = gemm_tile_rows(w.rows, m);
  constexpr int wide = kernels::gemm_tile_r, narrow = kernels::gemm_narrow_tile_r;
  if (tile_rows != wide && tile_rows != narrow) return cudaErrorInvalidValue;
  if constexpr (quant::is_int_blocks_v<Q>) {
    using P = quant::Packed<Q>;
    if (w.packed)
      return tile_rows == wide ? launch_gemm_tile<Q, P, wide>(w, x, m, y, on)
                               : launch_gemm_tile<Q, P, narrow>(w, x, m, y, on);
  }
  if (w.packed) return cudaErrorInvalidValue;
  using I = quant::InPlace<Q>;
  return tile_rows == wide ? launch_gemm_tile<Q, I, wide>(w, x, m, y, on)
                           : launch_gemm_tile<Q, I, narrow>(w, x, m, y, on);
}
}  // namespace detail

// y[i][r] = W[r] . x[i] for i < m, all device memory (x: m rows of w.cols floats; y: m rows of w.rows).
// Returns the launch error; cudaErrorInvalidValue for a bad shape or a null operand,
// cudaErrorMisalignedAddress for an operand not aligned to its element, cudaErrorNotSupported where
// gemm_supported<Q>() is false.
template <class Q>
cudaError_t gemm(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on = {}) {
  if (m < 1 || w.rows < 1 || w.cols < kernels::gemm_tile_k || w.cols % kernels::gemm_tile_k != 0 ||
      w.data == nullptr || x == nullptr || y == nullptr)
    return cudaErrorInvalidValue;  // the kernel fetches its first k-tile before the loop tests cols
  if (!detail::aligned(w.data, alignof(typename Q::block)) || !detail::aligned(x, alignof(float)) ||
      !detail::aligned(y, alignof(float)))
    return cudaErrorMisalignedAddress;
  if (!gemm_supported<Q>()) return cudaErrorNotSupported;
  return detail::launch_gemm(w, x, m, y, on);
}

}  // namespace skippy::cuda

#include "instances.cuh"
#ifdef SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS
SKIPPY_CUDA_STANDARD_GEMM_KERNELS(extern)  // compiled once, by skippy/cuda/instantiate.cuh
#endif
