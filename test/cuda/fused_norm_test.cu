// The RMSNorm fused into the weight launches (gemv.cuh, quant/normed_slice.hpp): a residual launch adds
// as kernels::add_rmsnorm adds and leaves quant::norm_scale's bits; a launch over quant::NormedRows has the
// float launch's bits over the rows normalised on the host; Forward::fused_norms is within rounding of the
// host and of the unfused pass, and a row's bits are the same alone or in a block.

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../support/gpu.hpp"
#include "../support/models.hpp"
#include "../support/row_error.hpp"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace skippy;
using skippy::cuda::DeviceBuffer;

namespace {

std::vector<float> wave(std::size_t n, float a, float b, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(a * static_cast<float>(i) + b) * scale;
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <class Q>
struct DeviceMatrix {
  DeviceBuffer<typename Q::block> data;
  MatrixView<Q> view;
  DeviceMatrix(int rows, int cols, float phase, bool packed)
      : data(static_cast<std::size_t>(rows) * (cols / Q::block_size)) {
    const auto w = quant::quantize<Q>(wave(static_cast<std::size_t>(rows) * cols, 0.013f, phase, 0.7f));
    data.upload(w.data(), w.size());
    view = MatrixView<Q>{data.data(), rows, cols};
    if constexpr (quant::is_int_blocks_v<Q>) {
      if (packed) {
        auto p = std::make_shared<skippy::cuda::PackedMatrix<Q>>(view);
        view = p->view();
        packed_ = p;
      }
    }
  }

 private:
  std::shared_ptr<void> packed_;  // the packed copy (Q8_0 / Q4_0)
};

// y += W x and the updated rows' scales, against the float launch's products added on the host, for m
// rows (several tiles where m > 8: one arrival counter, reused).
template <class Q>
void check_residual(int rows, int cols, int m, bool packed) {
  INFO(std::string(Q::name), " ", rows, " x ", cols, " m = ", m, packed ? " packed" : "");
  DeviceMatrix<Q> w(rows, cols, 0.3f, packed);
  const auto x = wave(static_cast<std::size_t>(m) * cols, 0.07f, 0.0f, 1.0f);
  const auto y0 = wave(static_cast<std::size_t>(m) * rows, 0.011f, 0.5f, 2.0f);
  DeviceBuffer<float> dx(x.size()), dy(y0.size()), plain(y0.size()), scale(static_cast<std::size_t>(m));
  DeviceBuffer<unsigned> counter(1);
  dx.upload(x.data(), x.size());
  const unsigned zero = 0;
  counter.upload(&zero, 1);
  skippy::cuda::check(skippy::cuda::gemv(w.view, dx.data(), m, plain.data()), "gemv");
  std::vector<float> want = test::on_host(plain);
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = y0[i] + want[i];  // add_rmsnorm's x + a
  std::vector<float> want_scale(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i) want_scale[i] = quant::norm_scale(want.data() + static_cast<std::size_t>(i) * rows, rows, 1e-5f);
  for (int round = 0; round < 2; ++round) {  // the counter is left at zero for the next launch
    dy.upload(y0.data(), y0.size());
    REQUIRE(skippy::cuda::gemv_residual(w.view, dx.data(), m, dy.data(),
                                        skippy::cuda::NormScales{scale.data(), counter.data(), 1e-5f}) == cudaSuccess);
    CHECK(same_bits(test::on_host(dy), want));
    CHECK(same_bits(test::on_host(scale), want_scale));
    CHECK(test::on_host(counter)[0] == 0u);
  }
  // Without scales: the add alone.
  dy.upload(y0.data(), y0.size());
  REQUIRE(skippy::cuda::gemv_residual(w.view, dx.data(), m, dy.data()) == cudaSuccess);
  CHECK(same_bits(test::on_host(dy), want));
}

// The launches over NormedRows against the float launches over the rows normalised on the host
// (math::rms_apply with the device's scales): the same bits, for m rows; the scales quant::norm_scale's.
template <class Q>
void check_normed(int cols, int m, bool packed) {
  INFO(std::string(Q::name), " cols ", cols, " m = ", m, packed ? " packed" : "");
  const int rows = 96, hd = 16, kv = 32, cap = 16;
  DeviceMatrix<Q> w(rows, cols, 0.3f, packed), up(rows, cols, 0.9f, packed), wk(kv, cols, 1.3f, packed),
      wv(kv, cols, 1.7f, packed);
  const auto x = wave(static_cast<std::size_t>(m) * cols, 0.07f, 0.0f, 3.0f);
  const auto g = wave(static_cast<std::size_t>(cols), 0.005f, 0.4f, 1.5f);
  DeviceBuffer<float> dx(x.size()), dg(g.size()), scale(static_cast<std::size_t>(m)), dxn(x.size());
  dx.upload(x.data(), x.size());
  dg.upload(g.data(), g.size());
  REQUIRE(skippy::cuda::norm_scales(dx.data(), m, cols, 1e-5f, scale.data()) == cudaSuccess);
  const std::vector<float> s = test::on_host(scale);
  std::vector<float> xn(x.size());
  for (int i = 0; i < m; ++i) {
    CHECK(s[i] == quant::norm_scale(x.data() + static_cast<std::size_t>(i) * cols, cols, 1e-5f));
    for (int e = 0; e < cols; ++e) {
      const std::size_t at = static_cast<std::size_t>(i) * cols + e;
      xn[at] = math::rms_apply(x[at], g[e], s[i]);
    }
  }
  dxn.upload(xn.data(), xn.size());
  const quant::NormedRows in{dx.data(), dg.data(), scale.data()};
  const std::size_t out = static_cast<std::size_t>(m) * rows;
  DeviceBuffer<float> a(out), b(out), scratch(out);
  // One matrix.
  REQUIRE(skippy::cuda::gemv(w.view, in, m, a.data()) == cudaSuccess);
  REQUIRE(skippy::cuda::gemv(w.view, dxn.data(), m, b.data()) == cudaSuccess);
  CHECK(test::same_bytes(a, b));
  // Gate and up with SwiGLU.
  REQUIRE(skippy::cuda::gemv_swiglu(w.view, up.view, in, m, a.data()) == cudaSuccess);
  REQUIRE(skippy::cuda::gemv_swiglu(w.view, up.view, dxn.data(), m, b.data(), scratch.data()) == cudaSuccess);
  CHECK(test::same_bytes(a, b));
  // Q/K/V with RoPE and the cache write.
  const MatrixView<Q> qkv[3] = {w.view, wk.view, wv.view};
  DeviceBuffer<float> kc[2] = {DeviceBuffer<float>(static_cast<std::size_t>(cap) * kv),
                               DeviceBuffer<float>(static_cast<std::size_t>(cap) * kv)};
  DeviceBuffer<float> vc[2] = {DeviceBuffer<float>(static_cast<std::size_t>(cap) * kv),
                               DeviceBuffer<float>(static_cast<std::size_t>(cap) * kv)};
  for (int j = 0; j < 2; ++j) {
    const skippy::cuda::GemvRope rope{skippy::cuda::kernels::Position::at(3), hd, 10000.0f, kc[j].data(), vc[j].data()};
    skippy::cuda::check(cudaMemset(kc[j].data(), 0, kc[j].size() * sizeof(float)), "memset");
    skippy::cuda::check(cudaMemset(vc[j].data(), 0, vc[j].size() * sizeof(float)), "memset");
    const cudaError_t e = j == 0 ? skippy::cuda::gemv_qkv_rope(qkv, a.data(), in, m, rope)
                                 : skippy::cuda::gemv_qkv_rope(qkv, b.data(), dxn.data(), m, rope);
    REQUIRE(e == cudaSuccess);
  }
  CHECK(test::same_bytes(a, b));
  CHECK(test::same_bytes(kc[0], kc[1]));
  CHECK(test::same_bytes(vc[0], vc[1]));
}

}  // namespace

TEST_CASE("cuda::gemv_residual adds as add_rmsnorm and leaves quant::norm_scale's bits") {
  SKIPPY_SKIP_WITHOUT_GPU("fused norm: residual launch");
  for (const int m : {1, 5, 8, 11}) {
    check_residual<quant::F32>(200, 256, m, false);
    check_residual<quant::F16>(4096, 512, m, false);
    check_residual<quant::BF16>(520, 1024, m, false);
    check_residual<quant::F8_E4M3>(300, 512, m, false);
    check_residual<quant::Q8_0>(1028, 256, m, false);
    check_residual<quant::Q4_0>(4096, 256, m, true);
  }
}

TEST_CASE("cuda weight launches over quant::NormedRows have the float launches' bits over the normalised rows") {
  SKIPPY_SKIP_WITHOUT_GPU("fused norm: normed launches");
  for (const int m : {1, 5, 11}) {
    check_normed<quant::F32>(256, m, false);
    check_normed<quant::F16>(4096, m, false);
    check_normed<quant::BF16>(512, m, false);
    check_normed<quant::F8_E4M3>(1024, m, false);
    check_normed<quant::Q8_0>(1024, m, false);
    check_normed<quant::Q4_0>(512, m, false);
    check_normed<quant::Q4_0>(512, m, true);
  }
}

TEST_CASE("cuda fused-norm launches: errors name what is wrong") {
  SKIPPY_SKIP_WITHOUT_GPU("fused norm: errors");
  DeviceMatrix<quant::F16> w(64, 256, 0.3f, false);
  DeviceBuffer<float> x(2 * 256 + 4), y(2 * 64 + 4), s(4);
  DeviceBuffer<unsigned> c(1);
  const skippy::cuda::NormScales partial{s.data(), nullptr, 1e-5f};
  CHECK(skippy::cuda::gemv_residual(w.view, x.data(), 2, y.data(), partial) == cudaErrorInvalidValue);
  CHECK(skippy::cuda::gemv_residual(w.view, x.data(), 2, y.data() + 1, skippy::cuda::NormScales{s.data(), c.data(), 1e-5f}) ==
        cudaErrorMisalignedAddress);
  CHECK(skippy::cuda::gemv(w.view, quant::NormedRows{x.data(), nullptr, s.data()}, 2, y.data()) == cudaErrorInvalidValue);
  CHECK(skippy::cuda::gemv(w.view, quant::NormedRows{x.data() + 1, x.data(), s.data()}, 2, y.data()) ==
        cudaErrorMisalignedAddress);
  // F16 weights not 16-byte aligned: the interleaved kernel cannot take them, and no other kernel reads NormedRows.
  const MatrixView<quant::F16> shifted{w.data.data() + 1, 63, 256};
  CHECK(skippy::cuda::gemv(shifted, quant::NormedRows{x.data(), x.data(), s.data()}, 2, y.data()) ==
        cudaErrorNotSupported);
  CHECK(skippy::cuda::gemv_residual(shifted, x.data(), 2, y.data()) == cudaErrorNotSupported);
  CHECK(skippy::cuda::norm_scales(x.data(), 1, 30, 1e-5f, s.data()) == cudaErrorInvalidValue);
}

namespace {

const std::vector<int> tokens = {5, 17, 3, 3, 40, 22, 9, 61, 0};

// Forward::fused_norms: within rounding of the host and of the unfused pass (not its bits: the scale's
// sum has its own order), a row's bits the same alone or in a block of 5, skipped layers included.
template <class Q>
void check_forward(skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(31));
  const int V = hm.config().vocab, m = static_cast<int>(tokens.size()), cap = 24;
  INFO(std::string(Q::name), layout == skippy::cuda::Upload::packed ? " packed" : "");
  host::Forward<Q> hf(hm.view());
  skippy::cuda::DeviceModel<Q> dm(hm.view(), layout);
  skippy::cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  for (const LayerRange skip : {LayerRange{}, LayerRange{1, 3}}) {
    INFO("skip [", skip.begin, ", ", skip.end, ")");
    auto hc = hf.make_cache(cap);
    std::vector<float> want(static_cast<std::size_t>(m) * V);
    hf.run(tokens.data(), m, 0, hc, skip, want.data());
    std::vector<float> got[2];
    for (const bool fused : {false, true}) {
      skippy::cuda::Forward<Q> cf(dm.view(), 8, cap);
      cf.fused_norms(fused);
      REQUIRE(cf.uses_fused_norms() == fused);
      auto cc = cf.make_cache();
      skippy::cuda::DeviceBuffer<float> dl(want.size());
      cf.run(dt.data(), 8, 0, cc, skip, dl.data(), nullptr);  // two tiles: 8 rows, then 1
      cf.run(dt.data() + 8, 1, 8, cc, skip, dl.data() + 8 * V, nullptr);
      got[fused] = test::on_host(dl);
      const double e = test::row_error(got[fused], want, V);
      INFO((fused ? "fused" : "unfused"), " norms: relative error against the host ", e);
      CHECK(e <= 1e-4);
      if (!fused) continue;
      // Rows 3..7 as one block, then one at a time, over the cache of rows 0..2.
      cc.set_length(3);
      skippy::cuda::DeviceBuffer<float> block(static_cast<std::size_t>(5) * V), one(static_cast<std::size_t>(V));
      cf.run(dt.data() + 3, 5, 3, cc, skip, block.data(), nullptr);
      const std::vector<float> b = test::on_host(block);
      cc.set_length(3);
      for (int i = 0; i < 5; ++i) {
        cf.run(dt.data() + 3 + i, 1, 3 + i, cc, skip, one.data(), nullptr);
        INFO("row ", 3 + i, " alone against in a block of 5");
        CHECK(std::memcmp(test::on_host(one).data(), b.data() + static_cast<std::size_t>(i) * V, V * sizeof(float)) == 0);
      }
    }
    const double e = test::row_error(got[1], got[0], V);
    INFO("fused against unfused: relative error ", e);
    CHECK(e <= 1e-4);
    // (Not "the bits differ": both sums of squares are chains of fused multiply-adds, and over this small
    // model's rows their two orders can round alike. uses_fused_norms() above says which pass ran.)
  }
}

}  // namespace

TEST_CASE("skippy::cuda::Forward with fused norms: within rounding of the host and the unfused pass, a row's bits "
          "the same alone or in a block") {
  SKIPPY_SKIP_WITHOUT_GPU("fused norm: Forward");
  check_forward<quant::F32>();
  check_forward<quant::F16>();
  check_forward<quant::BF16>();
  check_forward<quant::F8_E4M3>();
  check_forward<quant::Q8_0>();
  check_forward<quant::Q4_0>(skippy::cuda::Upload::packed);
  // Not with 8-bit activations (their norm quantises its output), nor on a tiled model.
  const auto hq = HostModel<quant::Q8_0>::from_float(test::random_weights(32));
  skippy::cuda::DeviceModel<quant::Q8_0> dq(hq.view());
  skippy::cuda::Forward<quant::Q8_0, Int8Activations> int8(dq.view(), 8, 16);
  int8.fused_norms(true);
  CHECK_FALSE(int8.uses_fused_norms());
}
