// The tensor-core kernel over float activations for F16 / BF16 matrices in place
// (kernels/gemv_half_mma.cuh, skippy::cuda::gemv_mma): within float rounding of the exact dot product, each row the
// same bits alone as in a block (the instruction's output elements do not depend on the other columns),
// the fused launches the same bits as one launch per matrix, bad operands refused; and a Forward with
// tensor_core_decoding within float rounding of the host, a row's logits the same alone or in a block.
// test/emulation/emulate_gemv_half_mma.cpp checks the indexing bit for bit where no GPU is.

#include <doctest/doctest.h>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/check.cuh>
#include <skippy/cuda/device_model.cuh>
#include <skippy/cuda/forward.cuh>
#include <skippy/cuda/gemv.cuh>
#include <skippy/host/forward.hpp>
#include <skippy/model/host_model.hpp>
#include <skippy/quant/quantize.hpp>

#include "../support/gpu.hpp"
#include "../support/models.hpp"
#include "../support/qkv_rope.hpp"
#include "../support/row_error.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace skippy;

namespace {

using skippy::cuda::DeviceBuffer;

template <class Q>
struct Matrix {
  std::vector<typename Q::block> host;
  DeviceBuffer<typename Q::block> device;
  MatrixView<Q> view;
  Matrix(int rows, int cols, float phase) : device(static_cast<std::size_t>(rows) * cols) {
    std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
    for (std::size_t i = 0; i < wf.size(); ++i)
      wf[i] = std::sin(0.013f * static_cast<float>(i) + phase) * (0.7f + 0.1f * static_cast<float>(i % 5));
    host = quant::quantize<Q>(wf);
    device.upload(host.data(), host.size());
    view = MatrixView<Q>{device.data(), rows, cols};
  }
};

bool same(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class Q>
void check_gemv_mma(int rows, int cols, int m) {
  INFO(std::string(Q::name), " ", rows, "x", cols, ", ", m, " activation rows");
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 5) * 3.0f;
  const Matrix<Q> w(rows, cols, 0.0f);
  DeviceBuffer<float> dx(x.size() + 4), dy(static_cast<std::size_t>(m + 1) * rows), d1(static_cast<std::size_t>(rows));
  dx.upload(x.data(), x.size());
  REQUIRE(cudaMemset(dy.data(), 0xff, dy.size() * sizeof(float)) == cudaSuccess);
  REQUIRE(skippy::cuda::gemv_mma(w.view, dx.data(), m, dy.data()) == cudaSuccess);
  const std::vector<float> y = test::on_host(dy);
  // The tensor cores' float sums, their rounding at most that of a float sum in any order, and the F16
  // activations' split (2^-22): a misplaced weight or activation is of order 1.
  const double tolerance = (2.0 * cols + 8.0) * std::ldexp(1.0, -24);
  int bad = 0;
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < rows; ++r) {
      double dot = 0.0, mag = 0.0;
      for (int k = 0; k < cols; ++k) {
        const double t = static_cast<double>(to_float(w.host[static_cast<std::size_t>(r) * cols + k])) *
                         x[static_cast<std::size_t>(i) * cols + k];
        dot += t;
        mag += std::fabs(t);
      }
      bad += !(std::fabs(y[static_cast<std::size_t>(i) * rows + r] - dot) <= tolerance * mag);
    }
  CHECK(bad == 0);
  std::uint32_t past;
  std::memcpy(&past, &y[static_cast<std::size_t>(m) * rows], sizeof past);
  CHECK(past == 0xffffffffu);  // nothing written past m rows
  for (int i = 0; i < m; ++i) {
    REQUIRE(skippy::cuda::gemv_mma(w.view, dx.data() + static_cast<std::size_t>(i) * cols, 1, d1.data()) == cudaSuccess);
    const std::vector<float> one = test::on_host(d1);
    int differ = 0;
    for (int r = 0; r < rows; ++r) differ += !same(one[static_cast<std::size_t>(r)], y[static_cast<std::size_t>(i) * rows + r]);
    INFO("activation row ", i, " alone");
    CHECK(differ == 0);
  }
  CHECK(skippy::cuda::gemv_mma(w.view, dx.data() + 1, 1, d1.data()) == cudaErrorMisalignedAddress);
  CHECK(skippy::cuda::gemv_mma(w.view, dx.data(), 0, d1.data()) == cudaErrorInvalidValue);
}

template <class Q>
void check_layer(int cols, int m) {
  INFO(std::string(Q::name), " layer, ", cols, " columns, ", m, " rows");
  constexpr int hd = 16, d = 4 * hd, kv = 2 * hd, ffn = 48, start = 9;
  const int capacity = start + m + 1;
  const float theta = 10000.0f;
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.05f * static_cast<float>(i)) * (1.0f + i % 3);
  DeviceBuffer<float> dx(x.size());
  dx.upload(x.data(), x.size());
  const Matrix<Q> wq(d, cols, 1.0f), wk(kv, cols, 2.0f), wv(kv, cols, 3.0f), gate(ffn, cols, 4.0f), up(ffn, cols, 5.0f);
  const MatrixView<Q> qkv[3] = {wq.view, wk.view, wv.view};
  const int rows[3] = {d, kv, kv};
  std::vector<float> alone[3];
  DeviceBuffer<float> ys[3] = {DeviceBuffer<float>(static_cast<std::size_t>(m) * d),
                               DeviceBuffer<float>(static_cast<std::size_t>(m) * kv),
                               DeviceBuffer<float>(static_cast<std::size_t>(m) * kv)};
  for (int j = 0; j < 3; ++j) {
    REQUIRE(skippy::cuda::gemv_mma(qkv[j], dx.data(), m, ys[j].data()) == cudaSuccess);
    alone[j] = test::on_host(ys[j]);
    REQUIRE(cudaMemset(ys[j].data(), 0xff, ys[j].size() * sizeof(float)) == cudaSuccess);
  }
  float* const yp[3] = {ys[0].data(), ys[1].data(), ys[2].data()};
  REQUIRE(skippy::cuda::gemv_batch_mma(qkv, yp, 3, dx.data(), m) == cudaSuccess);
  int bad = 0;
  for (int j = 0; j < 3; ++j) {
    const std::vector<float> got = test::on_host(ys[j]);
    for (std::size_t e = 0; e < got.size(); ++e) bad += !same(alone[j][e], got[e]);
  }
  CHECK(bad == 0);

  DeviceBuffer<float> qo(static_cast<std::size_t>(m) * d), kc(static_cast<std::size_t>(capacity) * kv),
      vc(static_cast<std::size_t>(capacity) * kv);
  const skippy::cuda::GemvRope rope{skippy::cuda::kernels::Position::at(start), hd, theta, kc.data(), vc.data()};
  REQUIRE(skippy::cuda::gemv_qkv_rope_mma(qkv, qo.data(), dx.data(), m, rope) == cudaSuccess);
  const std::vector<float> q = test::on_host(qo), k = test::on_host(kc), v = test::on_host(vc);
  const auto unfused = [&](int j, int i, int r) { return alone[j][static_cast<std::size_t>(i) * rows[j] + r]; };
  // The device's sincosf may differ from the host's in the last bit: within rounding.
  const auto near = [](float got, float want) { return std::fabs(got - want) <= 1e-6f * (1.0f + std::fabs(want)); };
  CHECK(test::qkv_rope_mismatches(unfused, near, rows, m, start, hd, theta, q.data(), k.data(), v.data()) == 0);

  const std::size_t ng = static_cast<std::size_t>(m) * ffn;
  DeviceBuffer<float> g(ng), gg(ng), uu(ng);
  REQUIRE(skippy::cuda::gemv_swiglu_mma(gate.view, up.view, dx.data(), m, g.data()) == cudaSuccess);
  REQUIRE(skippy::cuda::gemv_mma(gate.view, dx.data(), m, gg.data()) == cudaSuccess);
  REQUIRE(skippy::cuda::gemv_mma(up.view, dx.data(), m, uu.data()) == cudaSuccess);
  REQUIRE(skippy::cuda::kernels::launch_swiglu(gg.data(), uu.data(), static_cast<long>(ng), skippy::cuda::Launch{}) == cudaSuccess);
  CHECK(test::same_bytes(g, gg));
}

// Forward<Q> with tensor_core_decoding: a pass of 9 tokens (the prefill form's two groups) within float
// rounding of host::Forward, and a row's logits the same bits alone or in a block of 5; a 64-token block
// (a prefill block, through the prefill form rather than gemm) within rounding of the host too, and the same
// bits as decoding blocks of 8.
template <class Q>
void check_forward() {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(21));
  const int V = hm.config().vocab;
  host::Forward<Q> hf(hm.view());
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  // tokens as one block from position 0 through cf (tensor-core decoding switched on): its logits, within
  // float rounding of host::Forward's.
  const auto first_block = [&](skippy::cuda::Forward<Q>& cf, auto& cc, const DeviceBuffer<int>& dt,
                               const std::vector<int>& tokens) {
    const int m = static_cast<int>(tokens.size());
    auto hc = hf.make_cache(m);
    std::vector<float> want(static_cast<std::size_t>(m) * V);
    hf.run(tokens.data(), m, 0, hc, LayerRange{}, want.data());
    CHECK_FALSE(cf.uses_tensor_core_decoding());  // off by default
    cf.tensor_core_decoding(true);
    REQUIRE(cf.uses_tensor_core_decoding());
    DeviceBuffer<float> dl(want.size());
    cf.run(dt.data(), m, 0, cc, LayerRange{}, dl.data(), nullptr);
    const std::vector<float> got = test::on_host(dl);
    const double e = test::row_error(got, want, V);
    INFO(std::string(Q::name), ", ", m, " tokens: relative error against the host ", e);
    CHECK(e <= 1e-4);
    return got;
  };
  const auto upload = [](const std::vector<int>& tokens) {
    DeviceBuffer<int> d(tokens.size());
    d.upload(tokens.data(), tokens.size());
    return d;
  };

  const std::vector<int> tokens = {5, 17, 3, 3, 40, 22, 9, 61, 0};
  const DeviceBuffer<int> dt = upload(tokens);
  skippy::cuda::Forward<Q> cf(dm.view(), 16, 24);
  auto cc = cf.make_cache();
  first_block(cf, cc, dt, tokens);
  DeviceBuffer<float> dl(static_cast<std::size_t>(5) * V);
  cc.set_length(0);
  cf.run(dt.data(), 4, 0, cc, LayerRange{}, nullptr, nullptr);
  cf.run(dt.data() + 4, 5, 4, cc, LayerRange{}, dl.data(), nullptr);
  const std::vector<float> five = test::on_host(dl);
  for (int i = 0; i < 5; ++i) {
    cc.set_length(4 + i);
    cf.run(dt.data() + 4 + i, 1, 4 + i, cc, LayerRange{}, dl.data(), nullptr);
    const std::vector<float> one = test::on_host(dl);
    INFO("row ", i, " alone");
    CHECK(std::memcmp(one.data(), five.data() + static_cast<std::size_t>(i) * V, static_cast<std::size_t>(V) * sizeof(float)) == 0);
  }

  constexpr int block = skippy::cuda::kernels::half_mma_block_rows;
  std::vector<int> prompt(block);
  for (int i = 0; i < block; ++i) prompt[static_cast<std::size_t>(i)] = (7 * i + 3) % V;
  const DeviceBuffer<int> dp = upload(prompt);
  skippy::cuda::Forward<Q> pf(dm.view(), block, block);
  auto pc = pf.make_cache();
  const std::vector<float> all = first_block(pf, pc, dp, prompt);
  DeviceBuffer<float> dl2(all.size());
  pc.set_length(0);  // the same tokens as decoding blocks of 8
  for (int at = 0; at < block; at += 8)
    pf.run(dp.data() + at, 8, at, pc, LayerRange{}, dl2.data() + static_cast<std::size_t>(at) * V, nullptr);
  CHECK(std::memcmp(test::on_host(dl2).data(), all.data(), all.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("skippy::cuda::gemv_mma is within float rounding of the dot product, and a row's bits do not depend on m") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::gemv_mma");
  REQUIRE(skippy::cuda::gemv_mma_supported<quant::F16>());  // every GPU these tests meet is sm_80 or newer
  REQUIRE(skippy::cuda::gemv_mma_supported<quant::BF16>());
  for (int m : {5, 11, 70}) {  // a decoding block; the prefill form in one launch and in two (64 + 6)
    check_gemv_mma<quant::F16>(40, 1056, m);
    check_gemv_mma<quant::BF16>(40, 1056, m);
  }
  check_gemv_mma<quant::F16>(16, 32, 8);
  check_gemv_mma<quant::BF16>(300, 4096, 64);
}

TEST_CASE("skippy::cuda::gemv_batch_mma, gemv_qkv_rope_mma and gemv_swiglu_mma equal one gemv_mma per matrix") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::gemv_mma fused launches");
  check_layer<quant::F16>(160, 5);
  check_layer<quant::BF16>(160, 11);
  check_layer<quant::F16>(160, 70);
}

TEST_CASE_TEMPLATE("skippy::cuda::Forward with tensor_core_decoding: within rounding of the host, rows the same alone or in "
                   "a block", Q, quant::F16, quant::BF16) {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward tensor-core decoding");
  check_forward<Q>();
}

TEST_CASE("skippy::cuda::Forward::tensor_core_decoding stays off for other weight types and 8-bit activations") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward tensor-core decoding off");
  const auto hf = HostModel<quant::F32>::from_float(test::random_weights(3));
  skippy::cuda::DeviceModel<quant::F32> df(hf.view());
  skippy::cuda::Forward<quant::F32> ff(df.view(), 4, 8);
  ff.tensor_core_decoding(true);
  CHECK_FALSE(ff.uses_tensor_core_decoding());
  const auto hq = HostModel<quant::Q8_0>::from_float(test::random_weights(3));
  skippy::cuda::DeviceModel<quant::Q8_0> dq(hq.view());
  skippy::cuda::Forward<quant::Q8_0, Int8Activations> fq(dq.view(), 4, 8);
  fq.tensor_core_decoding(true);
  CHECK_FALSE(fq.uses_tensor_core_decoding());
}
