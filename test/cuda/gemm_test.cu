// The tensor-core weight kernel for prefill blocks: within TF32 rounding of the host reference for every
// storage type, on shapes that leave partial tiles, the same bits in either tile of weight rows; shape
// errors are reported.

#include <doctest/doctest.h>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/gemm.cuh>
#include <skippy/host/matmul.hpp>
#include <skippy/quant/quantize.hpp>

#include "../support/gpu.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace skippy;

namespace {

template <class Q>
void check_gemm(int rows, int cols, int m) {
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.013f * static_cast<float>(i)) * 0.7f;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * 3.0f;
  const auto w = quant::quantize<Q>(wf);
  skippy::cuda::DeviceBuffer<typename Q::block> dw(w.size());
  skippy::cuda::DeviceBuffer<float> dx(x.size()), dy(static_cast<std::size_t>(m) * rows);
  dw.upload(w.data(), w.size());
  dx.upload(x.data(), x.size());
  REQUIRE(skippy::cuda::gemm(MatrixView<Q>{dw.data(), rows, cols}, dx.data(), m, dy.data()) == cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<float> y(dy.size()), want(dy.size());
  dy.download(y.data(), y.size());
  const MatrixView<Q> hv{w.data(), rows, cols};
  host::matmul(hv, x.data(), m, want.data());
  // Each operand rounded to TF32 (relative 2^-11) perturbs a product by at most ~2^-10 of its size: the
  // error of y is bounded by 2^-9 of sum |w x| (margin for FP32 accumulation).
  int bad = 0;
  const long bpr = cols / Q::block_size;
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < rows; ++r) {
      double mass = 0;
      for (int k = 0; k < cols; ++k)
        mass += std::fabs(quant::dequantize(w[static_cast<std::size_t>(r * bpr + k / Q::block_size)], k % Q::block_size) *
                          x[static_cast<std::size_t>(i) * cols + k]);
      const std::size_t at = static_cast<std::size_t>(i) * rows + r;
      bad += !(std::fabs(y[at] - want[at]) <= std::ldexp(mass, -9) + 1e-6);
    }
  INFO(std::string(Q::name), " ", rows, "x", cols, " m=", m);
  CHECK(bad == 0);
  // Both tiles of weight rows (gemm picks one by the grid's size) give the same bits.
  std::vector<float> tile[2];
  const int tile_rows[2] = {skippy::cuda::kernels::gemm_tile_r, skippy::cuda::kernels::gemm_narrow_tile_r};
  for (int t = 0; t < 2; ++t) {
    REQUIRE(skippy::cuda::detail::launch_gemm(MatrixView<Q>{dw.data(), rows, cols}, dx.data(), m, dy.data(), {},
                                              tile_rows[t]) == cudaSuccess);
    tile[t].resize(dy.size());
    dy.download(tile[t].data(), tile[t].size());
  }
  CHECK(std::memcmp(tile[0].data(), tile[1].data(), tile[0].size() * sizeof(float)) == 0);
  CHECK(std::memcmp(tile[0].data(), y.data(), y.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("cuda::gemm (tensor cores) equals the host reference within TF32 rounding") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda gemm");
  if (!skippy::cuda::gemm_supported<quant::F32>()) {
    // Not the suite's skip phrase: CTest would report every other CUDA test of the run as skipped.
    MESSAGE("not run: this GPU has no TF32 tensor cores (cuda gemm)");
    std::printf("not run: this GPU has no TF32 tensor cores (cuda gemm)\n");
    return;
  }
  check_gemm<quant::F32>(200, 256, 100);
  check_gemm<quant::F16>(200, 256, 100);
  check_gemm<quant::BF16>(200, 256, 100);
  check_gemm<quant::F8_E4M3>(200, 256, 100);
  check_gemm<quant::Q8_0>(200, 256, 100);
  check_gemm<quant::Q4_0>(200, 256, 100);
  check_gemm<quant::Q8_0>(64, 4096, 64);  // exact tiles, long rows
  check_gemm<quant::F16>(1, 32, 1);       // one row each: everything else of the tile is padding
  float* none = nullptr;
  CHECK(skippy::cuda::gemm(MatrixView<quant::F32>{nullptr, 4, 33}, none, 1, none) == cudaErrorInvalidValue);
  // Refused before the launch (its first k-tile is fetched before the loop tests cols).
  skippy::cuda::DeviceBuffer<float> x(64), y(64);
  skippy::cuda::DeviceBuffer<quant::F16::block> w(4 * 64 + 1);
  for (int cols : {0, -32})
    CHECK(skippy::cuda::gemm(MatrixView<quant::F16>{w.data(), 4, cols}, x.data(), 1, y.data()) == cudaErrorInvalidValue);
  CHECK(skippy::cuda::gemm(MatrixView<quant::F16>{nullptr, 4, 32}, x.data(), 1, y.data()) == cudaErrorInvalidValue);
  const auto* odd = reinterpret_cast<const quant::F16::block*>(reinterpret_cast<const char*>(w.data()) + 1);
  CHECK(skippy::cuda::gemm(MatrixView<quant::F16>{odd, 4, 32}, x.data(), 1, y.data()) == cudaErrorMisalignedAddress);
  CHECK(skippy::cuda::gemm(MatrixView<quant::F16>{w.data(), 4, 32}, x.data(), 1, y.data()) == cudaSuccess);
}
