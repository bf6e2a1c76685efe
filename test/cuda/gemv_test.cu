// CUDA weight kernels: equal to the host reference within FMA-contraction tolerance for every storage
// type, bit-identical for a row whether computed with m = 1 or inside a block of m rows, and the
// interleaved kernel bit-identical to its host account (quant::interleaved_dot_row).

#include <doctest/doctest.h>

#include <skippy/cuda/check.cuh>
#include <skippy/cuda/gemv.cuh>
#include <skippy/host/matmul.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/slice.hpp>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <type_traits>
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

enum class Kernel { chosen, reference };

template <class Q>
cudaError_t run_gemv(Kernel k, const MatrixView<Q>& w, const float* x, int m, float* y) {
  return k == Kernel::chosen ? cuda::gemv(w, x, m, y) : cuda::gemv_reference(w, x, m, y);
}

// x_shift floats of offset on the activations, w_shift blocks on the weights: 0 keeps them aligned (the
// interleaved kernel); 1 does not for the activations and the float types' weights (gemv falls back to
// the reference kernel), while Q8_0 / Q4_0 blocks are read with 2-byte loads anyway.
template <class Q>
void check_gemv(Kernel kernel, int rows, int cols, int x_shift, int w_shift = 0) {
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.013f * static_cast<float>(i)) * 0.7f;
  const auto w = quant::quantize<Q>(wf);
  const int m = 11;  // more than one tile
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i));
  DeviceBuffer<typename Q::block> dw(w.size() + 1);
  DeviceBuffer<float> dx(x.size() + 1), dy(static_cast<std::size_t>(m) * rows), d1(static_cast<std::size_t>(rows));
  const float* xp = dx.p + x_shift;
  cuda::check(cudaMemcpy(dw.p + w_shift, w.data(), w.size() * sizeof(w[0]), cudaMemcpyHostToDevice), "copy");
  cuda::check(cudaMemcpy(dx.p + x_shift, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice), "copy");
  const MatrixView<Q> dv{dw.p + w_shift, rows, cols};
  const bool interleaved = kernel == Kernel::chosen && cuda::gemv_interleaved_fits(dv, xp);
  INFO(Q::name, " ", rows, "x", cols, interleaved ? " interleaved" : " reference", " shifts ", x_shift, w_shift);
  constexpr bool blocks = std::is_same_v<Q, quant::Q8_0> || std::is_same_v<Q, quant::Q4_0>;
  CHECK(interleaved == (kernel == Kernel::chosen && x_shift == 0 && (blocks || w_shift == 0)));
  REQUIRE(run_gemv(kernel, dv, xp, m, dy.p) == cudaSuccess);
  std::vector<float> y(static_cast<std::size_t>(m) * rows), host(y.size()), one(static_cast<std::size_t>(rows));
  cuda::check(cudaMemcpy(y.data(), dy.p, y.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  host::matmul(MatrixView<Q>{w.data(), rows, cols}, x.data(), m, host.data());
  int bad = 0, differ = 0;
  for (std::size_t i = 0; i < y.size(); ++i) bad += !(std::fabs(y[i] - host[i]) <= 1e-4f * (1.0f + std::fabs(host[i])));
  CHECK(bad == 0);
  if (interleaved) {  // the host's account of the interleaved kernel: the same bits
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < rows; ++r) {
        const float e = quant::interleaved_dot_row<Q>(w.data() + static_cast<std::size_t>(r) * (cols / Q::block_size),
                                                      x.data() + static_cast<std::size_t>(i) * cols, cols);
        differ += std::memcmp(&e, &y[static_cast<std::size_t>(i) * rows + r], sizeof e) != 0;
      }
    CHECK(differ == 0);
  }
  // Row 7 of the block computed alone: the same bits.
  REQUIRE(run_gemv(kernel, dv, xp + 7 * cols, 1, d1.p) == cudaSuccess);
  cuda::check(cudaMemcpy(one.data(), d1.p, one.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(one.data(), y.data() + 7 * rows, one.size() * sizeof(float)) == 0);
}

template <class Q>
void check_all(int rows, int cols) {
  check_gemv<Q>(Kernel::chosen, rows, cols, 0);
  check_gemv<Q>(Kernel::chosen, rows, cols, 1);
  check_gemv<Q>(Kernel::chosen, rows, cols, 0, 1);
  check_gemv<Q>(Kernel::reference, rows, cols, 0);
}

}  // namespace

TEST_CASE("cuda::gemv equals the host reference and does not depend on m") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test)\n");
    return;
  }
  // 288 columns: threads with a slice more than others, a second warp with 4 busy lanes. 129 rows: the
  // last block's rows run past the end; 2 rows: fewer rows than a block takes.
  for (int cols : {64, 288, 4096}) {
    for (int rows : {2, 129}) {
      check_all<quant::F32>(rows, cols);
      check_all<quant::F16>(rows, cols);
      check_all<quant::BF16>(rows, cols);
      check_all<quant::Q8_0>(rows, cols);
      check_all<quant::Q4_0>(rows, cols);
    }
  }
  float* none = nullptr;
  CHECK(cuda::gemv(MatrixView<quant::F32>{nullptr, 4, 33}, none, 1, none) == cudaErrorInvalidValue);
  // A pointer not aligned to its type is refused, not read.
  const auto* odd = reinterpret_cast<const half_t*>(reinterpret_cast<std::uintptr_t>(none) + 1);
  CHECK(cuda::gemv(MatrixView<quant::F16>{odd, 4, 32}, none, 1, none) == cudaErrorMisalignedAddress);
}
