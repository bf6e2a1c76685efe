// Emulated (test/emulation/README.md): the RMSNorm fused into the weight launches. gemv_residual adds its
// products as add_rmsnorm adds (y0 + the plain launch's products, bit for bit) and its last block leaves
// quant::norm_scale's bits, for one tile and two (the arrival counter reused, left zero); norm_scales has
// the same bits; the launches over quant::NormedRows (one matrix, gate/up with SwiGLU, Q/K/V with RoPE and
// the cache write) have the float launches' bits over the rows normalised on the host; in place and
// packed. The CUDA test fused_norm_test.cu checks the same on a GPU.

#include <skippy/cuda/gemv.cuh>
#include <skippy/quant/packed.hpp>
#include <skippy/quant/quantize.hpp>

#include "check.hpp"

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

using namespace skippy;
using emulation::aligned;

namespace {

void wave(float* v, std::size_t n, float a, float b, float scale) {
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(a * static_cast<float>(i) + b) * scale;
}

template <class Q>
struct Matrix {
  std::unique_ptr<unsigned char[], emulation::Free> bytes;
  MatrixView<Q> view;
  Matrix(int rows, int cols, float phase, bool packed) {
    std::vector<float> f(static_cast<std::size_t>(rows) * cols);
    wave(f.data(), f.size(), 0.013f, phase, 0.7f);
    const auto w = quant::quantize<Q>(f);
    const std::size_t n = static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols));
    bytes = aligned<unsigned char>(n);
    if constexpr (quant::is_int_blocks_v<Q>) {
      if (packed) quant::pack_matrix<Q>(w.data(), rows, cols, bytes.get());
      else std::memcpy(bytes.get(), w.data(), n);
    } else {
      std::memcpy(bytes.get(), w.data(), n);
    }
    view = MatrixView<Q>{reinterpret_cast<const typename Q::block*>(bytes.get()), rows, cols, packed};
  }
};

bool same(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

template <class Q>
void check(int rows, int cols, bool packed) {
  char where[96];
  std::snprintf(where, sizeof where, "%s %dx%d %s", Q::name, rows, cols, packed ? "packed" : "in place");
  const int m_max = 11, hd = 16, kv = 16, cap = 16;
  Matrix<Q> w(rows, cols, 0.3f, packed), up(rows, cols, 0.9f, packed), wk(kv, cols, 1.3f, packed),
      wv(kv, cols, 1.7f, packed), back(cols, rows, 2.1f, packed);
  const std::size_t nx = static_cast<std::size_t>(m_max) * cols, ny = static_cast<std::size_t>(m_max) * rows;
  auto x = aligned<float>(nx), g = aligned<float>(cols), xn = aligned<float>(nx), s = aligned<float>(m_max);
  auto a = aligned<float>(ny), b = aligned<float>(ny), scratch = aligned<float>(ny);
  wave(x.get(), nx, 0.07f, 0.0f, 3.0f);
  wave(g.get(), cols, 0.005f, 0.4f, 1.5f);
  unsigned counter = 0;
  for (const int m : {1, 5, m_max}) {
    // The residual launch: y (cols wide, the stream) += back . a, then the scales of y's rows.
    const std::size_t n = static_cast<std::size_t>(m) * cols;
    wave(a.get(), static_cast<std::size_t>(m) * rows, 0.05f, 0.2f, 1.0f);
    auto y = aligned<float>(nx), plain = aligned<float>(nx);
    wave(y.get(), n, 0.011f, 0.5f, 2.0f);
    std::vector<float> want(y.get(), y.get() + n);
    EXPECT(cuda::gemv(back.view, a.get(), m, plain.get()) == cudaSuccess, where);
    for (std::size_t i = 0; i < n; ++i) want[i] = want[i] + plain[i];
    std::memset(s.get(), 0xff, m_max * sizeof(float));
    EXPECT(cuda::gemv_residual(back.view, a.get(), m, y.get(), cuda::NormScales{s.get(), &counter, 1e-5f}) ==
               cudaSuccess, where);
    EXPECT(same(y.get(), want.data(), n), where);
    for (int i = 0; i < m; ++i)
      EXPECT(s[i] == quant::norm_scale(want.data() + static_cast<std::size_t>(i) * cols, cols, 1e-5f), where);
    EXPECT(counter == 0u, where);
    auto s2 = aligned<float>(m_max);
    EXPECT(cuda::norm_scales(want.data(), m, cols, 1e-5f, s2.get()) == cudaSuccess, where);
    EXPECT(same(s2.get(), s.get(), static_cast<std::size_t>(m)), where);

    // The launches over NormedRows, against the float launches over xn.
    EXPECT(cuda::norm_scales(x.get(), m, cols, 1e-5f, s.get()) == cudaSuccess, where);
    for (int i = 0; i < m; ++i) {
      EXPECT(s[i] == quant::norm_scale(x.get() + static_cast<std::size_t>(i) * cols, cols, 1e-5f), where);
      for (int e = 0; e < cols; ++e) {
        const std::size_t at = static_cast<std::size_t>(i) * cols + e;
        xn[at] = math::rms_apply(x[at], g[e], s[i]);
      }
    }
    const quant::NormedRows in{x.get(), g.get(), s.get()};
    const std::size_t out = static_cast<std::size_t>(m) * rows;
    EXPECT(cuda::gemv(w.view, in, m, a.get()) == cudaSuccess, where);
    EXPECT(cuda::gemv(w.view, xn.get(), m, b.get()) == cudaSuccess, where);
    EXPECT(same(a.get(), b.get(), out), where);
    EXPECT(cuda::gemv_swiglu(w.view, up.view, in, m, a.get()) == cudaSuccess, where);
    EXPECT(cuda::gemv_swiglu(w.view, up.view, xn.get(), m, b.get(), scratch.get()) == cudaSuccess, where);
    EXPECT(same(a.get(), b.get(), out), where);
    const MatrixView<Q> qkv[3] = {w.view, wk.view, wv.view};
    auto kc0 = aligned<float>(cap * kv), kc1 = aligned<float>(cap * kv), vc0 = aligned<float>(cap * kv),
         vc1 = aligned<float>(cap * kv);
    std::memset(kc0.get(), 0, cap * kv * sizeof(float));
    std::memset(kc1.get(), 0, cap * kv * sizeof(float));
    std::memset(vc0.get(), 0, cap * kv * sizeof(float));
    std::memset(vc1.get(), 0, cap * kv * sizeof(float));
    const auto at = cuda::kernels::Position::at(3);
    EXPECT(cuda::gemv_qkv_rope(qkv, a.get(), in, m, cuda::GemvRope{at, hd, 10000.0f, kc0.get(), vc0.get()}) ==
               cudaSuccess, where);
    EXPECT(cuda::gemv_qkv_rope(qkv, b.get(), xn.get(), m, cuda::GemvRope{at, hd, 10000.0f, kc1.get(), vc1.get()}) ==
               cudaSuccess, where);
    EXPECT(same(a.get(), b.get(), out), where);
    EXPECT(same(kc0.get(), kc1.get(), cap * kv), where);
    EXPECT(same(vc0.get(), vc1.get(), cap * kv), where);
  }
  // Refusals.
  EXPECT(cuda::gemv_residual(back.view, a.get(), 1, x.get(), cuda::NormScales{s.get(), nullptr, 1e-5f}) ==
             cudaErrorInvalidValue, where);
  EXPECT(cuda::gemv(w.view, quant::NormedRows{x.get(), nullptr, s.get()}, 1, a.get()) == cudaErrorInvalidValue, where);
  EXPECT(cuda::gemv(w.view, quant::NormedRows{x.get(), g.get() + 1, s.get()}, 1, a.get()) ==
             cudaErrorMisalignedAddress, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

}  // namespace

int main() {
  // Few blocks a launch (every block's threads are host threads): Q/K/V of 32, 16 and 16 rows, the residual
  // launch's rows the width (64, 96: a row's scale over several threads' groups).
  check<quant::F32>(32, 64, false);
  check<quant::F16>(32, 96, false);
  check<quant::BF16>(32, 64, false);
  for (const bool packed : {false, true}) {
    check<quant::Q8_0>(32, 96, packed);
    check<quant::Q4_0>(32, 64, packed);
  }
  std::printf("emulate_fused_norm: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
