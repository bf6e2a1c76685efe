// The tiled layout and the tensor-core weight kernel over 8-bit activations (cuda/tiled.cuh,
// kernels/gemv_tiled.cuh): the device tiling has the host tiling's bytes; gemv_q8 over a tiled matrix
// equals quant::tiled_dot bit for bit (so a row's result does not depend on m), for one tile of up to 8
// activation rows and two, and in the prefill form (up to 64 rows a launch: one launch and two), plain and
// launched early, and writes nothing past its m rows; a non-finite activation
// block reaches only its own row; a batch of three tiled matrices and the gate/up launch with SwiGLU give
// each matrix's account; the float-activation kernels and gemm refuse a tiled matrix. gemv_test.cu runs
// the fused Q/K/V launch and the SwiGLU 8-bit output over tiled matrices too.

#include <doctest/doctest.h>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/gemm.cuh>
#include <skippy/cuda/gemv.cuh>
#include <skippy/cuda/tiled.cuh>
#include <skippy/math/activation.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/tiled.hpp>

#include "../support/gpu.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace skippy;

namespace {

using cuda::DeviceBuffer;

// Bit-equal floats, or both NaN.
int mismatches(const std::vector<float>& a, const std::vector<float>& b, std::size_t n) {
  int bad = 0;
  for (std::size_t k = 0; k < n; ++k)
    bad += std::memcmp(&a[k], &b[k], sizeof(float)) != 0 && !(std::isnan(a[k]) && std::isnan(b[k]));
  return bad;
}

// A rows x cols Q matrix on the host and the device, its tiled copy, and each row's account against x.
template <class Q>
struct Tiled {
  std::vector<typename Q::block> host;
  DeviceBuffer<typename Q::block> blocks;
  cuda::TiledMatrix<Q> tiled;
  Tiled(int rows, int cols, float phase)
      : host(quantized(rows, cols, phase)), blocks(upload(host)), tiled(MatrixView<Q>{blocks.data(), rows, cols}) {}
  static std::vector<typename Q::block> quantized(int rows, int cols, float phase) {
    std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
    for (std::size_t i = 0; i < wf.size(); ++i)
      wf[i] = std::sin(0.013f * static_cast<float>(i) + phase) * (0.7f + 0.1f * static_cast<float>(i % 5));
    return quant::quantize<Q>(wf);
  }
  static DeviceBuffer<typename Q::block> upload(const std::vector<typename Q::block>& h) {
    DeviceBuffer<typename Q::block> d(h.size());
    d.upload(h.data(), h.size());
    return d;
  }
  // m rows of account: y[i][r] = tiled_dot(row r, activation row i).
  std::vector<float> account(const std::vector<std::int8_t>& xq, const std::vector<float>& xd, int m) const {
    const MatrixView<Q> v = tiled.view();
    const int blocks_per_row = v.cols / quant::qk;
    std::vector<float> y(static_cast<std::size_t>(m) * v.rows);
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < v.rows; ++r)
        y[static_cast<std::size_t>(i) * v.rows + r] = quant::tiled_dot<Q>(
            host.data() + static_cast<long>(r) * blocks_per_row, xq.data() + static_cast<long>(i) * v.cols,
            xd.data() + static_cast<long>(i) * blocks_per_row, v.cols);
    return y;
  }
};

template <class Q>
void check_tiled(int rows, int cols) {
  INFO(std::string(Q::name), " ", rows, "x", cols);
  constexpr int m_max = 70;
  std::vector<float> x(static_cast<std::size_t>(m_max) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 5);
  x[static_cast<std::size_t>(9) * cols + 3] = std::numeric_limits<float>::infinity();  // row 9, block 0: NaN scale
  std::vector<std::int8_t> xq(x.size());
  std::vector<float> xd(x.size() / quant::qk);
  quant::quantize_activations(x.data(), m_max, cols, xq.data(), xd.data());
  DeviceBuffer<std::int8_t> dq(xq.size());
  DeviceBuffer<float> dd(xd.size()), dx(x.size());
  dq.upload(xq.data(), xq.size());
  dd.upload(xd.data(), xd.size());
  dx.upload(x.data(), x.size());
  const quant::Q8Rows in{dq.data(), dd.data()};

  const Tiled<Q> w(rows, cols, 0.0f);
  const MatrixView<Q> view = w.tiled.view();
  std::vector<unsigned char> host_tiled(quant::Tiled<Q>::bytes(rows, cols)), device_tiled(host_tiled.size());
  quant::tile_matrix<Q>(w.host.data(), rows, cols, host_tiled.data());
  REQUIRE(cudaMemcpy(device_tiled.data(), view.data, device_tiled.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(device_tiled == host_tiled);

  const std::vector<float> account = w.account(xq, xd, m_max);
  for (int r = 0; r < rows; ++r) {
    CHECK(std::isnan(account[static_cast<std::size_t>(9) * rows + r]));
    CHECK(std::isfinite(account[static_cast<std::size_t>(8) * rows + r]));
  }
  DeviceBuffer<float> y(account.size());
  const auto run = [&](int m, const cuda::Launch& on) {
    CAPTURE(m);
    REQUIRE(cudaMemsetAsync(y.data(), 0xff, y.size() * sizeof(float), on.stream) == cudaSuccess);
    REQUIRE(cuda::gemv_q8(view, in, m, y.data(), on) == cudaSuccess);
    REQUIRE(cudaStreamSynchronize(on.stream) == cudaSuccess);
    const auto hy = test::on_host(y);
    const std::size_t n = static_cast<std::size_t>(m) * rows;
    CHECK(mismatches(hy, account, n) == 0);
    std::uint32_t past = 0xffffffffu;
    if (n < hy.size()) std::memcpy(&past, &hy[n], sizeof past);
    CHECK(past == 0xffffffffu);  // nothing past the m rows
  };
  for (int m : {1, 2, 5, 8, 11, 20, 64, m_max}) run(m, {});
  if (cuda::early_launch_supported()) {
    cudaStream_t stream;
    REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
    run(m_max, cuda::Launch(stream, true));
    REQUIRE(cudaStreamDestroy(stream) == cudaSuccess);
  }

  // Refusals: the float-activation kernels and gemm, misaligned operands, a bad shape, another layout.
  CHECK(cuda::gemv(view, dx.data(), 1, y.data()) == cudaErrorInvalidValue);
  CHECK(cuda::gemv_reference(view, dx.data(), 1, y.data()) == cudaErrorInvalidValue);
  if (cuda::gemm_supported<Q>()) CHECK(cuda::gemm(view, dx.data(), 64, y.data()) == cudaErrorInvalidValue);
  CHECK(cuda::gemv_q8(view, in, 0, y.data()) == cudaErrorInvalidValue);
  CHECK(cuda::gemv_q8(view, quant::Q8Rows{dq.data() + 8, dd.data()}, 1, y.data()) == cudaErrorMisalignedAddress);
  MatrixView<Q> shifted = view;
  shifted.data = reinterpret_cast<const typename Q::block*>(static_cast<const unsigned char*>(
                                                                static_cast<const void*>(view.data)) + 8);
  CHECK(cuda::gemv_q8(shifted, in, 1, y.data()) == cudaErrorMisalignedAddress);
  MatrixView<Q> both = view;
  both.packed = true;
  CHECK(cuda::gemv_q8(both, in, 1, y.data()) == cudaErrorInvalidValue);
  DeviceBuffer<unsigned char> dst(host_tiled.size() + 16);
  CHECK(cuda::tile_matrix(MatrixView<Q>{w.blocks.data(), rows, cols}, dst.data() + 8) == cudaErrorMisalignedAddress);
  CHECK(cuda::tile_matrix(view, dst.data()) == cudaErrorInvalidValue);
}

// Three tiled matrices in one launch, and gate/up with SwiGLU: each matrix's account.
template <class Q>
void check_tiled_batch(int cols, int m) {
  INFO(std::string(Q::name), " batch, ", cols, " columns, ", m, " activation rows");
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.05f * static_cast<float>(i)) * (1.0f + i % 3);
  std::vector<std::int8_t> xq(x.size());
  std::vector<float> xd(x.size() / quant::qk);
  quant::quantize_activations(x.data(), m, cols, xq.data(), xd.data());
  DeviceBuffer<std::int8_t> dq(xq.size());
  DeviceBuffer<float> dd(xd.size());
  dq.upload(xq.data(), xq.size());
  dd.upload(xd.data(), xd.size());
  const quant::Q8Rows in{dq.data(), dd.data()};

  const Tiled<Q> a(40, cols, 0.0f), b(16, cols, 1.0f), c(64, cols, 2.0f);
  const MatrixView<Q> views[3] = {a.tiled.view(), b.tiled.view(), c.tiled.view()};
  DeviceBuffer<float> ya(static_cast<std::size_t>(m) * 40), yb(static_cast<std::size_t>(m) * 16),
      yc(static_cast<std::size_t>(m) * 64);
  float* const y[3] = {ya.data(), yb.data(), yc.data()};
  REQUIRE(cuda::gemv_batch_q8(views, y, 3, in, m) == cudaSuccess);
  const std::vector<float> acc_a = a.account(xq, xd, m), acc_b = b.account(xq, xd, m), acc_c = c.account(xq, xd, m);
  CHECK(mismatches(test::on_host(ya), acc_a, acc_a.size()) == 0);
  CHECK(mismatches(test::on_host(yb), acc_b, acc_b.size()) == 0);
  CHECK(mismatches(test::on_host(yc), acc_c, acc_c.size()) == 0);

  // gate/up with SwiGLU: swiglu of the two accounts.
  const Tiled<Q> up(64, cols, 3.0f);
  const std::vector<float> acc_up = up.account(xq, xd, m);
  DeviceBuffer<float> g(acc_c.size());
  REQUIRE(cuda::gemv_swiglu_q8(views[2], up.tiled.view(), in, m, g.data()) == cudaSuccess);
  // The device's SwiGLU of the two accounts: its expf need not round as the host's does.
  DeviceBuffer<float> sg(acc_c.size()), su(acc_up.size());
  sg.upload(acc_c.data(), acc_c.size());
  su.upload(acc_up.data(), acc_up.size());
  REQUIRE(cuda::kernels::launch_swiglu(sg.data(), su.data(), static_cast<long>(acc_c.size()), nullptr) == cudaSuccess);
  const std::vector<float> expected = test::on_host(sg);
  CHECK(mismatches(test::on_host(g), expected, expected.size()) == 0);
  // Layouts one launch cannot mix.
  const MatrixView<Q> in_place{c.blocks.data(), 64, cols};
  CHECK(cuda::gemv_swiglu_q8(views[2], in_place, in, m, g.data()) == cudaErrorInvalidValue);
}

}  // namespace

TEST_CASE("cuda::gemv_q8 over a tiled matrix (tensor cores) equals quant::tiled_dot bit for bit") {
  SKIPPY_SKIP_WITHOUT_GPU("tiled_test");
  const int shapes[][2] = {{16, 32}, {40, 288}, {129, 4096 + 96}, {1000, 1024}};
  for (const auto& s : shapes) {
    check_tiled<quant::Q8_0>(s[0], s[1]);
    check_tiled<quant::Q4_0>(s[0], s[1]);
  }
}

TEST_CASE("cuda::gemv_batch_q8 and gemv_swiglu_q8 over tiled matrices give each matrix's tiled_dot") {
  SKIPPY_SKIP_WITHOUT_GPU("tiled_test batch");
  for (int cols : {288, 4096})
    for (int m : {11, 70}) {  // two decoding launches; two of the prefill form
      check_tiled_batch<quant::Q8_0>(cols, m);
      check_tiled_batch<quant::Q4_0>(cols, m);
    }
}
