// CUDA weight kernels: equal to the host reference within FMA-contraction tolerance for every storage
// type, bit-identical for a row whether computed with m = 1 or inside a block of m rows, and the
// interleaved kernel bit-identical to its host account (quant::interleaved_dot_row).

#include <doctest/doctest.h>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/check.cuh>
#include <skippy/cuda/gemm.cuh>
#include <skippy/cuda/gemv.cuh>
#include <skippy/cuda/kernels/elementwise.cuh>
#include <skippy/cuda/packed.cuh>
#include <skippy/cuda/tiled.cuh>
#include <skippy/host/matmul.hpp>
#include <skippy/quant/packed.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/slice.hpp>

#include "../support/gpu.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

using namespace skippy;

namespace {

using cuda::DeviceBuffer;

enum class Kernel { chosen, reference };
// A Q8_0 / Q4_0 matrix's device layout in the tests of the fused launches.
enum class Layout { in_place, packed, tiled };
const char* name(Layout l) { return l == Layout::in_place ? " in place" : l == Layout::packed ? " packed" : " tiled"; }

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
  const float* xp = dx.data() + x_shift;
  cuda::check(cudaMemcpy(dw.data() + w_shift, w.data(), w.size() * sizeof(w[0]), cudaMemcpyHostToDevice), "copy");
  cuda::check(cudaMemcpy(dx.data() + x_shift, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice), "copy");
  const MatrixView<Q> dv{dw.data() + w_shift, rows, cols};
  const bool interleaved = kernel == Kernel::chosen && cuda::gemv_interleaved_fits(dv, xp);
  INFO(std::string(Q::name), " ", rows, "x", cols, interleaved ? " interleaved" : " reference", " shifts ", x_shift,
       w_shift);
  constexpr bool blocks = std::is_same_v<Q, quant::Q8_0> || std::is_same_v<Q, quant::Q4_0>;
  CHECK(interleaved == (kernel == Kernel::chosen && x_shift == 0 && (blocks || w_shift == 0)));
  // NaN-filled outputs: memory reused from the previous case holds that case's (close) results, which
  // would hide rows a kernel leaves unwritten.
  REQUIRE(cudaMemset(dy.data(), 0xff, dy.size() * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMemset(d1.data(), 0xff, d1.size() * sizeof(float)) == cudaSuccess);
  REQUIRE(run_gemv(kernel, dv, xp, m, dy.data()) == cudaSuccess);
  std::vector<float> y(static_cast<std::size_t>(m) * rows), host(y.size()), one(static_cast<std::size_t>(rows));
  cuda::check(cudaMemcpy(y.data(), dy.data(), y.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
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
  REQUIRE(run_gemv(kernel, dv, xp + 7 * cols, 1, d1.data()) == cudaSuccess);
  cuda::check(cudaMemcpy(one.data(), d1.data(), one.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
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
      check_all<quant::F8_E4M3>(rows, cols);
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

namespace {

// Device copies of three matrices of `cols` columns (rows 129, 33, 64), activations and outputs.
template <class Q>
struct Batch {
  static constexpr int n = 3, m = 11;
  int cols, rows[n] = {129, 33, 64};
  std::vector<DeviceBuffer<typename Q::block>> w;
  DeviceBuffer<float> x;
  std::vector<DeviceBuffer<float>> y, single;
  MatrixView<Q> view[n];
  float* out[n];

  Batch(int c, int w_shift) : cols(c), x(static_cast<std::size_t>(m) * c + 1) {  // + 1: room for a shift
    std::vector<float> xs(static_cast<std::size_t>(m) * c + 1, 0.0f);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = std::cos(0.031f * static_cast<float>(i));
    cuda::check(cudaMemcpy(x.data(), xs.data(), xs.size() * sizeof(float), cudaMemcpyHostToDevice), "copy");
    w.reserve(n);
    y.reserve(n);
    single.reserve(n);
    for (int j = 0; j < n; ++j) {
      std::vector<float> wf(static_cast<std::size_t>(rows[j]) * c);
      for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.017f * static_cast<float>(i) + j) * 0.6f;
      const auto q = quant::quantize<Q>(wf);
      w.emplace_back(q.size() + 1);
      const int shift = j == 1 ? w_shift : 0;  // the second matrix may be misaligned
      const std::size_t bytes = q.size() * sizeof(q[0]);
      cuda::check(cudaMemcpy(w.back().data() + shift, q.data(), bytes, cudaMemcpyHostToDevice), "copy");
      view[j] = MatrixView<Q>{w.back().data() + shift, rows[j], c};
      y.emplace_back(static_cast<std::size_t>(m) * rows[j]);
      single.emplace_back(static_cast<std::size_t>(m) * rows[j]);
      out[j] = y.back().data();
    }
  }
  std::vector<float> host(const DeviceBuffer<float>& d, int j) const {
    std::vector<float> h(static_cast<std::size_t>(m) * rows[j]);
    cuda::check(cudaMemcpy(h.data(), d.data(), h.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
    return h;
  }
};

// gemv_batch equals one gemv per matrix, bit for bit, in one launch or (a misaligned matrix) matrix by
// matrix. Outputs are filled with different bytes first, so a row left unwritten cannot match.
template <class Q>
void check_batch(int cols, int w_shift) {
  Batch<Q> b(cols, w_shift);
  INFO(std::string(Q::name), " cols ", cols, " weight shift ", w_shift);
  for (int m : {1, 5, 11}) {
    for (int j = 0; j < Batch<Q>::n; ++j) {
      const std::size_t bytes = static_cast<std::size_t>(m) * b.rows[j] * sizeof(float);
      REQUIRE(cudaMemset(b.y[j].data(), 0xff, bytes) == cudaSuccess);
      REQUIRE(cudaMemset(b.single[j].data(), 0x7f, bytes) == cudaSuccess);
    }
    REQUIRE(cuda::gemv_batch(b.view, b.out, Batch<Q>::n, b.x.data(), m) == cudaSuccess);
    for (int j = 0; j < Batch<Q>::n; ++j) {
      REQUIRE(cuda::gemv(b.view[j], b.x.data(), m, b.single[j].data()) == cudaSuccess);
      const std::vector<float> got = b.host(b.y[j], j), want = b.host(b.single[j], j);
      CHECK(std::memcmp(got.data(), want.data(), static_cast<std::size_t>(m) * b.rows[j] * sizeof(float)) == 0);
    }
  }
}

// gemv_swiglu equals gemv of gate and of up followed by kernels::swiglu, bit for bit: 33 rows (the last
// block's second row past the end), 11 activation rows (two tiles).
template <class Q>
void check_swiglu(int cols, int x_shift) {
  Batch<Q> b(cols, 0);
  constexpr int rows = 33, m = 11, n = rows * m;
  const MatrixView<Q> gate{b.view[0].data, rows, cols}, up{b.view[2].data, rows, cols};  // equal shapes
  const float* x = b.x.data() + x_shift;  // one float: the fallback path
  INFO(std::string(Q::name), " cols ", cols, " activation shift ", x_shift);
  DeviceBuffer<float> y(n), scratch(n), g(n), u(n);
  REQUIRE(cudaMemset(y.data(), 0xff, n * sizeof(float)) == cudaSuccess);
  REQUIRE(cuda::gemv_swiglu(gate, up, x, m, y.data(), scratch.data()) == cudaSuccess);
  REQUIRE(cuda::gemv(gate, x, m, g.data()) == cudaSuccess);
  REQUIRE(cuda::gemv(up, x, m, u.data()) == cudaSuccess);
  REQUIRE(cuda::kernels::launch_swiglu(g.data(), u.data(), n, nullptr) == cudaSuccess);
  std::vector<float> got(n), want(n);
  cuda::check(cudaMemcpy(got.data(), y.data(), got.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  cuda::check(cudaMemcpy(want.data(), g.data(), want.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("cuda::gemv_batch and gemv_swiglu equal one gemv per matrix") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test batch)\n");
    return;
  }
  for (int cols : {288, 4096}) {
    for (int shift : {0, 1}) {
      check_batch<quant::F16>(cols, shift);
      check_batch<quant::Q4_0>(cols, shift);
      check_swiglu<quant::F32>(cols, shift);
      check_swiglu<quant::Q8_0>(cols, shift);
    }
  }
  // Widths must match; gate and up must have equal shapes.
  Batch<quant::F16> b(64, 0);
  MatrixView<quant::F16> mixed[2] = {b.view[0], MatrixView<quant::F16>{b.view[1].data, 33, 32}};
  CHECK(cuda::gemv_batch(mixed, b.out, 2, b.x.data(), 1) == cudaErrorInvalidValue);
  CHECK(cuda::gemv_swiglu(b.view[0], b.view[2], b.x.data(), 1, b.out[0], b.out[1]) == cudaErrorInvalidValue);
}

namespace {

// gemv_q8 and its companions over activations quantised on the device: the quantisation equals the
// host's bit for bit, every output equals the host account (quant::interleaved_dot<Q8Slices<Q>>) bit for
// bit, a row alone equals the same row inside a block, and the batch and SwiGLU launches equal one
// launch per matrix.
template <class Q>
void check_q8(int rows, int cols) {
  using A = quant::Q8Slices<Q>;
  constexpr int m = 11;
  INFO(std::string(Q::name), " ", rows, "x", cols);
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), uf(wf.size());
  for (std::size_t i = 0; i < wf.size(); ++i) {
    wf[i] = std::sin(0.013f * static_cast<float>(i)) * 0.7f;
    uf[i] = std::cos(0.011f * static_cast<float>(i)) * 0.5f;
  }
  const auto w = quant::quantize<Q>(wf), up = quant::quantize<Q>(uf);
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 7);
  std::vector<std::int8_t> hq(x.size());
  std::vector<float> hd(x.size() / quant::qk);
  quant::quantize_activations(x.data(), m, cols, hq.data(), hd.data());

  DeviceBuffer<typename Q::block> dw(w.size()), du(up.size());
  DeviceBuffer<float> dx(x.size()), dd(hd.size());
  DeviceBuffer<std::int8_t> dq(hq.size() + 8);
  const std::size_t out = static_cast<std::size_t>(m) * rows;
  DeviceBuffer<float> dy(out), dy2(out), dg(out), one(static_cast<std::size_t>(rows));
  cuda::check(cudaMemcpy(dw.data(), w.data(), w.size() * sizeof(w[0]), cudaMemcpyHostToDevice), "copy");
  cuda::check(cudaMemcpy(du.data(), up.data(), up.size() * sizeof(up[0]), cudaMemcpyHostToDevice), "copy");
  cuda::check(cudaMemcpy(dx.data(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice), "copy");
  REQUIRE(cuda::quantize_activations(dx.data(), m, cols, dq.data(), dd.data()) == cudaSuccess);
  std::vector<std::int8_t> gq(hq.size());
  std::vector<float> gd(hd.size());
  cuda::check(cudaMemcpy(gq.data(), dq.data(), gq.size(), cudaMemcpyDeviceToHost), "copy");
  cuda::check(cudaMemcpy(gd.data(), dd.data(), gd.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(gq.data(), hq.data(), gq.size()) == 0);
  CHECK(std::memcmp(gd.data(), hd.data(), gd.size() * sizeof(float)) == 0);

  const MatrixView<Q> gate{dw.data(), rows, cols}, upv{du.data(), rows, cols};
  const quant::Q8Rows dev{dq.data(), dd.data()}, host{hq.data(), hd.data()};
  for (DeviceBuffer<float>* b : {&dy, &dy2, &dg, &one})
    REQUIRE(cudaMemset(b->data(), 0xff, b->size() * sizeof(float)) == cudaSuccess);
  REQUIRE(cuda::gemv_q8(gate, dev, m, dy.data()) == cudaSuccess);
  std::vector<float> y(out);
  cuda::check(cudaMemcpy(y.data(), dy.data(), out * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  int differ = 0;
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < rows; ++r) {
      const float e = quant::interleaved_dot<A>(w.data() + static_cast<std::size_t>(r) * (cols / Q::block_size),
                                                A::advance(host, i, cols), cols);
      differ += std::memcmp(&e, &y[static_cast<std::size_t>(i) * rows + r], sizeof e) != 0;
    }
  CHECK(differ == 0);

  // Row 7 alone.
  REQUIRE(cuda::gemv_q8(gate, A::advance(dev, 7, cols), 1, one.data()) == cudaSuccess);
  std::vector<float> alone(static_cast<std::size_t>(rows));
  cuda::check(cudaMemcpy(alone.data(), one.data(), alone.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(alone.data(), y.data() + 7 * rows, alone.size() * sizeof(float)) == 0);

  // One batch launch over both matrices, and SwiGLU, against one launch per matrix.
  const MatrixView<Q> both[2] = {gate, upv};
  float* const ys[2] = {dy2.data(), dg.data()};
  REQUIRE(cuda::gemv_batch_q8(both, ys, 2, dev, m) == cudaSuccess);
  std::vector<float> y2(out), u(out);
  cuda::check(cudaMemcpy(y2.data(), dy2.data(), out * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(y2.data(), y.data(), out * sizeof(float)) == 0);
  cuda::check(cudaMemcpy(u.data(), dg.data(), out * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  REQUIRE(cuda::gemv_q8(upv, dev, m, dy2.data()) == cudaSuccess);  // the batch's second matrix alone
  std::vector<float> u1(out);
  cuda::check(cudaMemcpy(u1.data(), dy2.data(), out * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(u1.data(), u.data(), out * sizeof(float)) == 0);
  REQUIRE(cuda::gemv_swiglu_q8(gate, upv, dev, m, dy2.data()) == cudaSuccess);
  REQUIRE(cuda::kernels::launch_swiglu(dy.data(), dg.data(), static_cast<long>(out), nullptr) == cudaSuccess);
  std::vector<float> fused(out), split(out);
  cuda::check(cudaMemcpy(fused.data(), dy2.data(), out * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  cuda::check(cudaMemcpy(split.data(), dy.data(), out * sizeof(float), cudaMemcpyDeviceToHost), "copy");
  CHECK(std::memcmp(fused.data(), split.data(), out * sizeof(float)) == 0);

  // Bad operands are refused, not read.
  const quant::Q8Rows odd{dq.data() + 4, dd.data()}, half{dq.data() + 8, dd.data()};
  CHECK(cuda::gemv_q8(gate, odd, 1, dy.data()) == cudaErrorMisalignedAddress);
  CHECK(cuda::gemv_q8(gate, half, 1, dy.data()) == cudaErrorMisalignedAddress);  // read 16 bytes at a time
  CHECK(cuda::quantize_activations(dx.data(), 1, 40, dq.data(), dd.data()) == cudaErrorInvalidValue);
  CHECK(cuda::quantize_activations(dx.data(), 1, cols, dq.data() + 4, dd.data()) == cudaErrorMisalignedAddress);
}

}  // namespace

TEST_CASE("cuda::gemv_q8 (8-bit activations) equals its host account and does not depend on m") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test 8-bit activations)\n");
    return;
  }
  for (int cols : {64, 288, 4096})
    for (int rows : {2, 129}) {
      check_q8<quant::Q8_0>(rows, cols);
      check_q8<quant::Q4_0>(rows, cols);
    }
}

namespace {

// gemv_swiglu_q8 with an 8-bit output: its float output is the plain launch's, and its bytes and scales
// are quantize_activations' over that output, bit for bit, for one tile and two (tiled: also the prefill
// form, one launch and two), in every layout; the arrival counters are left zero (a second launch over the
// same counters gives the same bytes).
template <class Q>
void check_swiglu_q8_output(int rows, int cols, Layout layout) {
  INFO(std::string(Q::name), " ", rows, "x", cols, name(layout));
  const bool packed = layout == Layout::packed;
  const int m_max = layout == Layout::tiled ? 70 : 11;
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), uf(wf.size());
  for (std::size_t i = 0; i < wf.size(); ++i) {
    wf[i] = std::sin(0.013f * static_cast<float>(i)) * 0.7f;
    uf[i] = std::cos(0.011f * static_cast<float>(i)) * 0.5f;
  }
  const auto w = quant::quantize<Q>(wf), up = quant::quantize<Q>(uf);
  std::vector<float> x(static_cast<std::size_t>(m_max) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 5);
  DeviceBuffer<typename Q::block> dw(w.size()), du(up.size());
  dw.upload(w.data(), w.size());
  du.upload(up.data(), up.size());
  DeviceBuffer<float> dx(x.size()), dd(x.size() / quant::qk);
  DeviceBuffer<std::int8_t> dq(x.size());
  dx.upload(x.data(), x.size());
  REQUIRE(cuda::quantize_activations(dx.data(), m_max, cols, dq.data(), dd.data()) == cudaSuccess);
  const quant::Q8Rows in{dq.data(), dd.data()};
  const MatrixView<Q> gate_in_place{dw.data(), rows, cols}, up_in_place{du.data(), rows, cols};
  std::unique_ptr<cuda::PackedMatrix<Q>> pg, pu;
  std::unique_ptr<cuda::TiledMatrix<Q>> tg, tu;
  MatrixView<Q> gate = gate_in_place, upv = up_in_place;
  if (packed) {
    pg = std::make_unique<cuda::PackedMatrix<Q>>(gate_in_place);
    pu = std::make_unique<cuda::PackedMatrix<Q>>(up_in_place);
    gate = pg->view();
    upv = pu->view();
  } else if (layout == Layout::tiled) {
    tg = std::make_unique<cuda::TiledMatrix<Q>>(gate_in_place);
    tu = std::make_unique<cuda::TiledMatrix<Q>>(up_in_place);
    gate = tg->view();
    upv = tu->view();
  }

  const std::size_t out = static_cast<std::size_t>(m_max) * rows;
  DeviceBuffer<float> y(out), y2(out), s(out / quant::qk), s2(s.size());
  DeviceBuffer<std::int8_t> q(out), q2(out);
  DeviceBuffer<unsigned> counters(static_cast<std::size_t>(cuda::q8_output_counters(rows)));
  REQUIRE(cudaMemset(counters.data(), 0, counters.size() * sizeof(unsigned)) == cudaSuccess);
  const cuda::Q8Output q8{q.data(), s.data(), counters.data()};
  for (int m : {1, 5, 8, 11, 40, 64, 70}) {
    if (m > m_max) break;
    CAPTURE(m);
    for (int run = 0; run < 2; ++run) {
      REQUIRE(cudaMemset(q.data(), 0x55, q.size()) == cudaSuccess);
      REQUIRE(cudaMemset(s.data(), 0xff, s.size() * sizeof(float)) == cudaSuccess);
      REQUIRE(cudaMemset(y.data(), 0xff, y.size() * sizeof(float)) == cudaSuccess);
      REQUIRE(cuda::gemv_swiglu_q8(gate, upv, in, m, y.data(), {}, q8) == cudaSuccess);
      REQUIRE(cuda::gemv_swiglu_q8(gate, upv, in, m, y2.data()) == cudaSuccess);
      REQUIRE(cuda::quantize_activations(y2.data(), m, rows, q2.data(), s2.data()) == cudaSuccess);
      const std::size_t n = static_cast<std::size_t>(m) * rows;
      const auto hy = test::on_host(y), hy2 = test::on_host(y2), hs = test::on_host(s), hs2 = test::on_host(s2);
      const auto hq = test::on_host(q), hq2 = test::on_host(q2);
      CHECK(std::memcmp(hy.data(), hy2.data(), n * sizeof(float)) == 0);
      CHECK(std::memcmp(hs.data(), hs2.data(), n / quant::qk * sizeof(float)) == 0);
      CHECK(std::memcmp(hq.data(), hq2.data(), n) == 0);
      if (n < hq.size()) CHECK(hq[n] == 0x55);  // nothing past the block's rows
      const auto c = test::on_host(counters);
      CHECK(std::count(c.begin(), c.end(), 0u) == static_cast<long>(c.size()));
    }
  }
  // Two tiles launched early on a stream (each tile's launch waits for the one before, whose last blocks
  // reset the counters): the same bytes.
  if (cuda::early_launch_supported()) {
    cudaStream_t stream;
    REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
    // Prefilled on the stream itself: a non-blocking stream does not wait for the legacy one.
    REQUIRE(cudaMemsetAsync(q.data(), 0x55, q.size(), stream) == cudaSuccess);
    REQUIRE(cudaMemsetAsync(s.data(), 0xff, s.size() * sizeof(float), stream) == cudaSuccess);
    REQUIRE(cuda::gemv_swiglu_q8(gate, upv, in, m_max, y.data(), cuda::Launch(stream, true), q8) == cudaSuccess);
    REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
    REQUIRE(cudaStreamDestroy(stream) == cudaSuccess);
    REQUIRE(cuda::gemv_swiglu_q8(gate, upv, in, m_max, y2.data()) == cudaSuccess);
    REQUIRE(cuda::quantize_activations(y2.data(), m_max, rows, q2.data(), s2.data()) == cudaSuccess);
    CHECK(test::same_bytes(q, q2));
    CHECK(test::same_bytes(s, s2));
  }
  // Refusals: a partial output, one over the input, rows that are not whole groups, a misaligned output.
  CHECK(cuda::gemv_swiglu_q8(gate, upv, in, 1, y.data(), {}, cuda::Q8Output{q.data(), s.data(), nullptr}) ==
        cudaErrorInvalidValue);
  CHECK(cuda::gemv_swiglu_q8(gate, upv, in, 1, y.data(), {}, cuda::Q8Output{dq.data(), dd.data(), counters.data()}) ==
        cudaErrorInvalidValue);
  CHECK(cuda::gemv_swiglu_q8(gate, upv, in, 1, y.data(), {}, cuda::Q8Output{q.data() + 8, s.data(), counters.data()}) ==
        cudaErrorMisalignedAddress);
  if (layout == Layout::in_place) {
    const MatrixView<Q> short_gate{dw.data(), rows - 2, cols}, short_up{du.data(), rows - 2, cols};
    CHECK(cuda::gemv_swiglu_q8(short_gate, short_up, in, 1, y.data(), {}, q8) == cudaErrorInvalidValue);
  }
}

}  // namespace

TEST_CASE("cuda::gemv_swiglu_q8's 8-bit output has quantize_activations' bits over its float output") {
  SKIPPY_SKIP_WITHOUT_GPU("gemv_test SwiGLU 8-bit output");
  for (int cols : {288, 4096})
    for (int rows : {64, 1024})
      for (Layout layout : {Layout::in_place, Layout::packed, Layout::tiled}) {
        check_swiglu_q8_output<quant::Q8_0>(rows, cols, layout);
        check_swiglu_q8_output<quant::Q4_0>(rows, cols, layout);
      }
}

namespace {

// A packed matrix (cuda::PackedMatrix) gives gemv's and gemv_q8's bits of the matrix in place, for every
// m (one tile and two), and its packed bytes are the host's quant::pack_matrix.
template <class Q>
void check_packed(int rows, int cols) {
  INFO(std::string(Q::name), " ", rows, "x", cols);
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.011f * static_cast<float>(i) + 0.3f) * 0.9f;
  const auto w = quant::quantize<Q>(wf);
  const int m = 11;
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.05f * static_cast<float>(i));
  DeviceBuffer<typename Q::block> dw(w.size());
  dw.upload(w.data(), w.size());
  DeviceBuffer<float> dx(x.size()), a(static_cast<std::size_t>(m) * rows), b(a.size());
  dx.upload(x.data(), x.size());
  const MatrixView<Q> in_place{dw.data(), rows, cols};
  const cuda::PackedMatrix<Q> packed(in_place);
  const MatrixView<Q> pv = packed.view();
  CHECK(pv.packed);

  std::vector<unsigned char> expect(in_place.bytes()), got(expect.size());
  quant::pack_matrix<Q>(w.data(), rows, cols, expect.data());
  cuda::check(cudaMemcpy(got.data(), pv.data, got.size(), cudaMemcpyDeviceToHost), "copy");
  CHECK(got == expect);

  std::vector<float> ya(a.size()), yb(b.size());
  const auto same = [&](int mm) {  // the first mm output rows
    const std::size_t n = static_cast<std::size_t>(mm) * rows;
    a.download(ya.data(), n);
    b.download(yb.data(), n);
    return std::memcmp(ya.data(), yb.data(), n * sizeof(float)) == 0;
  };
  for (int mm : {1, 5, m}) {
    CAPTURE(mm);
    REQUIRE(cudaMemset(b.data(), 0xff, b.size() * sizeof(float)) == cudaSuccess);
    REQUIRE(cuda::gemv(in_place, dx.data(), mm, a.data()) == cudaSuccess);
    REQUIRE(cuda::gemv(pv, dx.data(), mm, b.data()) == cudaSuccess);
    CHECK(same(mm));
  }
  DeviceBuffer<std::int8_t> dq(x.size());
  DeviceBuffer<float> dd(x.size() / quant::qk);
  REQUIRE(cuda::quantize_activations(dx.data(), m, cols, dq.data(), dd.data()) == cudaSuccess);
  const quant::Q8Rows q8{dq.data(), dd.data()};
  for (int mm : {1, 5, m}) {
    CAPTURE(mm);
    REQUIRE(cudaMemset(b.data(), 0xff, b.size() * sizeof(float)) == cudaSuccess);
    REQUIRE(cuda::gemv_q8(in_place, q8, mm, a.data()) == cudaSuccess);
    REQUIRE(cuda::gemv_q8(pv, q8, mm, b.data()) == cudaSuccess);
    CHECK(same(mm));
  }
  // A batch mixing the layouts (one launch per matrix), and gate/up with SwiGLU: the same bits.
  {
    DeviceBuffer<float> c(a.size()), d(a.size()), scratch(a.size());
    const MatrixView<Q> mixed[2] = {pv, in_place};
    float* const ys[2] = {c.data(), d.data()};
    REQUIRE(cuda::gemv(in_place, dx.data(), 5, a.data()) == cudaSuccess);
    REQUIRE(cuda::gemv_batch(mixed, ys, 2, dx.data(), 5) == cudaSuccess);
    std::vector<float> yc(c.size()), yd(d.size());
    c.download(yc.data(), 5 * static_cast<std::size_t>(rows));
    d.download(yd.data(), 5 * static_cast<std::size_t>(rows));
    a.download(ya.data(), 5 * static_cast<std::size_t>(rows));
    CHECK(std::memcmp(yc.data(), ya.data(), 5 * sizeof(float) * rows) == 0);
    CHECK(std::memcmp(yd.data(), ya.data(), 5 * sizeof(float) * rows) == 0);
    REQUIRE(cuda::gemv_swiglu(in_place, in_place, dx.data(), 5, a.data(), scratch.data()) == cudaSuccess);
    REQUIRE(cuda::gemv_swiglu(pv, pv, dx.data(), 5, b.data(), scratch.data()) == cudaSuccess);
    CHECK(same(5));
    REQUIRE(cuda::gemv_swiglu_q8(in_place, in_place, q8, 5, a.data()) == cudaSuccess);
    REQUIRE(cuda::gemv_swiglu_q8(pv, pv, q8, 5, b.data()) == cudaSuccess);
    CHECK(same(5));
    CHECK(cuda::gemv_swiglu_q8(pv, in_place, q8, 5, b.data()) == cudaErrorInvalidValue);
    if (cuda::gemm_supported<Q>()) {  // the tensor-core kernel's tiles dequantised from either layout
      REQUIRE(cuda::gemm(in_place, dx.data(), m, a.data()) == cudaSuccess);
      REQUIRE(cuda::gemm(pv, dx.data(), m, b.data()) == cudaSuccess);
      CHECK(same(m));
    }
  }
  // Bad operands are refused, not read.
  MatrixView<Q> narrow = pv;
  narrow.cols = 40;
  CHECK(cuda::gemv(pv, dx.data() + 1, 1, b.data()) == cudaErrorMisalignedAddress);
  CHECK(cuda::gemv(narrow, dx.data(), 1, b.data()) == cudaErrorInvalidValue);
  CHECK(cuda::gemv_reference(pv, dx.data(), 1, b.data()) == cudaErrorInvalidValue);
  CHECK(cuda::gemv_q8(pv, quant::Q8Rows{dq.data() + 4, dd.data()}, 1, b.data()) == cudaErrorMisalignedAddress);
  CHECK(cuda::pack_matrix(pv, reinterpret_cast<unsigned char*>(b.data())) == cudaErrorInvalidValue);
  CHECK(cuda::pack_matrix(MatrixView<Q>{dw.data(), rows, 40}, b.data()) == cudaErrorInvalidValue);
  CHECK(cuda::pack_matrix(in_place, reinterpret_cast<unsigned char*>(b.data()) + 4) == cudaErrorMisalignedAddress);
}

}  // namespace

TEST_CASE("cuda::PackedMatrix: the weight kernels over the packed layout have the in-place kernels' bits") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test packed layout)\n");
    return;
  }
  for (int cols : {64, 288, 4096})
    for (int rows : {2, 129}) {
      check_packed<quant::Q8_0>(rows, cols);
      check_packed<quant::Q4_0>(rows, cols);
    }
  // Only the ggml blocks in place pack: not a null matrix, not one already packed or tiled.
  DeviceBuffer<quant::block_q8_0> w(4 * 2), dst(w.size());
  MatrixView<quant::Q8_0> v{w.data(), 4, 64};
  CHECK(cuda::pack_matrix(v, dst.data()) == cudaSuccess);
  CHECK(cuda::pack_matrix(MatrixView<quant::Q8_0>{nullptr, 4, 64}, dst.data()) == cudaErrorInvalidValue);
  v.tiled = true;
  CHECK(cuda::pack_matrix(v, dst.data()) == cudaErrorInvalidValue);
  v.tiled = false;
  v.packed = true;
  CHECK(cuda::pack_matrix(v, dst.data()) == cudaErrorInvalidValue);
  cuda::check(cudaDeviceSynchronize(), "pack");
}

TEST_CASE("kernels::add_rmsnorm's 8-bit output has quantize_activations' bits over its float output") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test fused quantisation)\n");
    return;
  }
  // The widest staged row too: the launch fails if its floats and the static shared memory pass 48 KB.
  for (int d : {64, 4096, cuda::kernels::rmsnorm_staged_floats}) {
    CAPTURE(d);
    const int m = 3;
    const std::size_t n = static_cast<std::size_t>(m) * d;
    std::vector<float> x(n), add(n), w(static_cast<std::size_t>(d));
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
      add[i] = std::cos(0.11f * static_cast<float>(i));
    }
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.5f + std::sin(0.05f * static_cast<float>(i));
    x[5] = std::nanf("");  // row 0's first block quantises to NaN scale and zero bytes
    DeviceBuffer<float> dx(n), dx2(n), dadd(n), dw(w.size()), y(n), y2(n), s(n / quant::qk), s2(s.size());
    DeviceBuffer<std::int8_t> q(n), q2(n);
    dx.upload(x.data(), n);
    dx2.upload(x.data(), n);
    dadd.upload(add.data(), n);
    dw.upload(w.data(), w.size());
    const std::size_t smem = cuda::kernels::rmsnorm_smem(d);
    cuda::kernels::add_rmsnorm<<<m, cuda::kernels::rmsnorm_threads, smem>>>(dx.data(), dadd.data(), dw.data(), y.data(),
                                                                           d, 1e-5f, q.data(), s.data());
    cuda::kernels::add_rmsnorm<<<m, cuda::kernels::rmsnorm_threads, smem>>>(dx2.data(), dadd.data(), dw.data(),
                                                                           y2.data(), d, 1e-5f);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(cuda::quantize_activations(y2.data(), m, d, q2.data(), s2.data()) == cudaSuccess);
    CHECK(test::same_bytes(y, y2));  // the float output is unchanged
    CHECK(test::same_bytes(s, s2));
    CHECK(test::same_bytes(q, q2));
    CHECK(std::isnan(test::on_host(s)[0]));
  }
}

namespace {

// gemv_qkv_rope (and its 8-bit form) against gemv_batch (gemv_batch_q8) followed by kernels::rope_store,
// bit for bit: the rotated queries, and the cache slots of the block's positions (the rest of the cache
// untouched). 4 query heads and 2 KV heads of 16 values, 11 activation rows (two tiles: the second
// tile's positions start 8 later), the position read on the device. Optionally packed weights, or tiled
// ones (8-bit activations; 70 rows: two launches of the prefill form, the second's positions 64 later).
template <class Q, bool Int8>
void check_qkv_rope(Layout layout) {
  const bool packed = layout == Layout::packed;
  constexpr int cols = 288, hd = 16, d = 4 * hd, kv = 2 * hd;
  const int m = layout == Layout::tiled ? 70 : 11, capacity = m + 13;
  const float theta = 10000.0f;
  INFO(std::string(Q::name), Int8 ? " 8-bit activations" : " float activations", name(layout));
  const int rows[3] = {d, kv, kv};
  std::vector<DeviceBuffer<typename Q::block>> w;
  std::vector<std::unique_ptr<cuda::PackedMatrix<Q>>> packs;
  std::vector<std::unique_ptr<cuda::TiledMatrix<Q>>> tiles;
  w.reserve(3);
  MatrixView<Q> view[3];
  for (int j = 0; j < 3; ++j) {
    std::vector<float> wf(static_cast<std::size_t>(rows[j]) * cols);
    for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.019f * static_cast<float>(i) + 3 * j) * 0.6f;
    const auto q = quant::quantize<Q>(wf);
    w.emplace_back(q.size());
    w.back().upload(q.data(), q.size());
    view[j] = MatrixView<Q>{w.back().data(), rows[j], cols};
    if constexpr (quant::is_int_blocks_v<Q>) {
      if (packed) {
        packs.push_back(std::make_unique<cuda::PackedMatrix<Q>>(view[j]));
        view[j] = packs.back()->view();
      } else if (layout == Layout::tiled) {
        tiles.push_back(std::make_unique<cuda::TiledMatrix<Q>>(view[j]));
        view[j] = tiles.back()->view();
      }
    }
  }
  std::vector<float> xs(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = std::cos(0.031f * static_cast<float>(i)) * (1.0f + i % 5);
  DeviceBuffer<float> x(xs.size()), scales(xs.size() / quant::qk);
  DeviceBuffer<std::int8_t> x8(xs.size());
  x.upload(xs.data(), xs.size());
  REQUIRE(cuda::quantize_activations(x.data(), m, cols, x8.data(), scales.data()) == cudaSuccess);
  const quant::Q8Rows xq{x8.data(), scales.data()};
  const int base = 7;
  DeviceBuffer<int> position(1);
  position.upload(&base, 1);
  const cuda::kernels::Position start{2, position.data()};  // positions 9..9 + m - 1

  const std::size_t cache = static_cast<std::size_t>(capacity) * kv;
  DeviceBuffer<float> q[2] = {DeviceBuffer<float>(static_cast<std::size_t>(m) * d),
                              DeviceBuffer<float>(static_cast<std::size_t>(m) * d)};
  DeviceBuffer<float> kc[2] = {DeviceBuffer<float>(cache), DeviceBuffer<float>(cache)};
  DeviceBuffer<float> vc[2] = {DeviceBuffer<float>(cache), DeviceBuffer<float>(cache)};
  DeviceBuffer<float> k(static_cast<std::size_t>(m) * kv), v(static_cast<std::size_t>(m) * kv);
  for (int s = 0; s < 2; ++s)
    for (DeviceBuffer<float>* b : {&q[s], &kc[s], &vc[s]})
      REQUIRE(cudaMemset(b->data(), 0x5a, b->size() * sizeof(float)) == cudaSuccess);
  // 0: fused. 1: the unfused pair of launches.
  const cuda::GemvRope rope{start, hd, theta, kc[0].data(), vc[0].data()};
  float* const y[3] = {q[1].data(), k.data(), v.data()};
  if constexpr (Int8) {
    REQUIRE(cuda::gemv_qkv_rope_q8(view, q[0].data(), xq, m, rope) == cudaSuccess);
    REQUIRE(cuda::gemv_batch_q8(view, y, 3, xq, m) == cudaSuccess);
  } else {
    REQUIRE(cuda::gemv_qkv_rope(view, q[0].data(), x.data(), m, rope) == cudaSuccess);
    REQUIRE(cuda::gemv_batch(view, y, 3, x.data(), m) == cudaSuccess);
  }
  const dim3 pairs((d / 2 + cuda::kernels::elementwise_threads - 1) / cuda::kernels::elementwise_threads, m);
  cuda::kernels::rope_store<<<pairs, cuda::kernels::elementwise_threads>>>(q[1].data(), k.data(), v.data(), d, kv, hd,
                                                                           theta, start, kc[1].data(), vc[1].data());
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(test::same_bytes(q[0], q[1]));
  CHECK(test::same_bytes(kc[0], kc[1]));
  CHECK(test::same_bytes(vc[0], vc[1]));
  const std::vector<float> slots = test::on_host(kc[0]);
  float untouched;
  std::memset(&untouched, 0x5a, sizeof untouched);
  CHECK(std::memcmp(&slots[8 * kv], &untouched, sizeof untouched) == 0);    // position 8: before the block
  CHECK(std::memcmp(&slots[(9 + m) * kv], &untouched, sizeof untouched) == 0);      // after it
  CHECK(std::memcmp(&slots[(9 + m - 1) * kv], &untouched, sizeof untouched) != 0);  // the last row's slot: written

  // Shapes that are not a layer's, and layouts one launch cannot take.
  const auto fused = [&](const MatrixView<Q>* vw, const cuda::GemvRope& r) {
    if constexpr (Int8) return cuda::gemv_qkv_rope_q8(vw, q[0].data(), xq, 1, r);
    else return cuda::gemv_qkv_rope(vw, q[0].data(), x.data(), 1, r);
  };
  cuda::GemvRope odd = rope;
  odd.head_dim = 15;
  CHECK(fused(view, odd) == cudaErrorInvalidValue);
  MatrixView<Q> short_v[3] = {view[0], view[1], view[2]};
  short_v[2].rows = kv - hd;
  CHECK(fused(short_v, rope) == cudaErrorInvalidValue);
  if constexpr (quant::is_int_blocks_v<Q>) {
    if (layout != Layout::in_place) {
      const MatrixView<Q> mixed[3] = {view[0], MatrixView<Q>{w[1].data(), kv, cols}, view[2]};
      CHECK(fused(mixed, rope) == cudaErrorNotSupported);
    }
  }
  if constexpr (!Int8) {
    if (layout == Layout::in_place)
      CHECK(cuda::gemv_qkv_rope(view, q[0].data(), x.data() + 1, 1, rope) == cudaErrorNotSupported);
  }
}

}  // namespace

TEST_CASE("cuda::gemv_qkv_rope equals gemv_batch followed by kernels::rope_store, bit for bit") {
  if (!cuda::device_available()) {
    std::printf("skipped: no GPU (gemv_test fused RoPE)\n");
    return;
  }
  check_qkv_rope<quant::F32, false>(Layout::in_place);
  check_qkv_rope<quant::F16, false>(Layout::in_place);
  check_qkv_rope<quant::BF16, false>(Layout::in_place);
  check_qkv_rope<quant::Q8_0, false>(Layout::in_place);
  check_qkv_rope<quant::Q4_0, false>(Layout::packed);
  check_qkv_rope<quant::Q8_0, true>(Layout::in_place);
  check_qkv_rope<quant::Q4_0, true>(Layout::in_place);
  check_qkv_rope<quant::Q4_0, true>(Layout::packed);
  check_qkv_rope<quant::Q8_0, true>(Layout::tiled);
  check_qkv_rope<quant::Q4_0, true>(Layout::tiled);
}
