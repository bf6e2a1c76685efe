// CUDA weight kernel: equal to the host reference within FMA-contraction tolerance for every storage
// type, and bit-identical for a row whether computed with m = 1 or inside a block of m rows.

#include <doctest/doctest.h>

#include <skippy/cuda/check.cuh>
#include <skippy/cuda/gemv.cuh>
#include <skippy/host/matmul.hpp>
#include <skippy/quant/quantize.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace skippy;

namespace {

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  explicit DeviceBuffer(std::size_t n) { cuda::check(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

template <class Q>
void check_gemv(int rows, int cols) {
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.013f * static_cast<float>(i)) * 0.7f;
  const auto w = quant::quantize<Q>(wf);
  const int m = 11;  // more than one tile
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i));
  DeviceBuffer<typename Q::block> dw(w.size());
  DeviceBuffer<float> dx(x.size()), dy(static_cast<std::size_t>(m) * rows), d1(static_cast<std::size_t>(rows));
  cuda::check(cudaMemcpy(dw.p, w.data(), w.size() * sizeof(w[0]), cudaMemcpyHostToDevice), "copy");
  cuda::check(cudaMemcpy(dx.p, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice), "copy");
  const MatrixView<Q> dv{dw.p, rows, cols};
  REQUIRE(cuda::gemv(dv, dx.p, m, dy.p) == cudaSuccess);
  std::vector<float> y(static_cast<std::size_t>(m) * rows), host(y.size()), one(static_cast<std::size_t>(rows));
  cuda::check(cudaMemcpy(y.data(), dy.p, y.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  host::matmul(MatrixView<Q>{w.data(), rows, cols}, x.data(), m, host.data());
  int bad = 0;
  for (std::size_t i = 0; i < y.size(); ++i) bad += !(std::fabs(y[i] - host[i]) <= 1e-4f * (1.0f + std::fabs(host[i])));
  INFO(Q::name, " ", rows, "x", cols);
  CHECK(bad == 0);
  // Row 7 of the block computed alone: the same bits.
  REQUIRE(cuda::gemv(dv, dx.p + 7 * cols, 1, d1.p) == cudaSuccess);
  cuda::check(cudaMemcpy(one.data(), d1.p, one.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(one.data(), y.data() + 7 * rows, one.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("cuda::gemv equals the host reference and does not depend on m") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test)\n");
    return;
  }
  for (int cols : {64, 4096}) {
    check_gemv<quant::F32>(129, cols);
    check_gemv<quant::F16>(129, cols);
    check_gemv<quant::BF16>(129, cols);
    check_gemv<quant::Q8_0>(129, cols);
    check_gemv<quant::Q4_0>(129, cols);
  }
  float* none = nullptr;
  CHECK(cuda::gemv(MatrixView<quant::F32>{nullptr, 4, 33}, none, 1, none) == cudaErrorInvalidValue);
}
