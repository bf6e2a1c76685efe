// Emulated (test/emulation/README.md): the tensor-core kernel over float activations for F16 / BF16
// matrices in place (kernels/gemv_half_mma.cuh), its products taken from the other lanes' fragments
// (kernels::mma_16x8x16 below sm_80, in k order): gemv_mma within float rounding of the exact dot product
// and equal bit for bit to its account in the emulated order (which states the kernel's column order) for
// blocks of 1 to 8 activation rows and the prefill form's (9 to 64 rows a launch, and two launches for
// 70), with partial 64-column chunks and a partial block of rows, nothing written past m rows; each row the
// same bits alone as in a block; a batch of three matrices, Q/K/V with RoPE and the cache write, and
// gate/up with SwiGLU, each the same bits as one launch per matrix with the epilogue on the host (in both
// forms); misaligned activations refused. gemv_mma_test.cu checks the same on a GPU,
// with the tensor-core instruction.

#include <skippy/cuda/gemv.cuh>
#include <skippy/math/activation.hpp>
#include <skippy/quant/quantize.hpp>

#include "../support/qkv_rope.hpp"
#include "check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <vector>

using namespace skippy;
using emulation::aligned;

namespace {

template <class Q>
struct Matrix {
  std::vector<typename Q::block> host;
  std::unique_ptr<typename Q::block[], emulation::Free> data;
  MatrixView<Q> view;
  Matrix(int rows, int cols, float phase) {
    std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
    for (std::size_t i = 0; i < wf.size(); ++i)
      wf[i] = std::sin(0.013f * static_cast<float>(i) + phase) * (0.7f + 0.1f * static_cast<float>(i % 5));
    host = quant::quantize<Q>(wf);
    data = aligned<typename Q::block>(host.size());
    std::memcpy(data.get(), host.data(), host.size() * sizeof(host[0]));
    view = MatrixView<Q>{data.get(), rows, cols};
  }
  // The kernel's sum for row r and activations x in the emulated instruction's order: warp w's chunks w,
  // w + W, ..., each 64-column chunk's 4 mma in turn and each mma's parts, its 16 products in slot order
  // (slot k of mma j: column 16 (k % 8 / 2) + 4j + 2 (k / 8) + k % 2 of the chunk), then the warps' sums in
  // warp order. Columns past the row add zeros, as the kernel's lanes there do.
  float account(const float* x, int r) const {
    using H = typename Q::block;
    constexpr int W = cuda::kernels::half_mma_warps, chunk = cuda::kernels::half_mma_chunk;
    constexpr int parts = quant::Split<H>::parts;
    const int cols = view.cols, chunks = (cols + chunk - 1) / chunk;
    float sums[W];
    for (int w = 0; w < W; ++w) {
      float acc = 0.0f;
      for (int c = w; c < chunks; c += W)
        for (int j = 0; j < 4; ++j)
          for (int p = 0; p < parts; ++p)
            for (int k = 0; k < 16; ++k) {
              const int col = c * chunk + 16 * (k % 8 / 2) + 4 * j + 2 * (k / 8) + k % 2;
              float part[parts];
              quant::split_parts<H>(col < cols ? x[col] : 0.0f, part);
              acc += (col < cols ? to_float(host[static_cast<std::size_t>(r) * cols + col]) : 0.0f) * part[p];
            }
      sums[w] = acc;
    }
    float joined = sums[0];
    for (int w = 1; w < W; ++w) joined += sums[w];
    return joined * 1.0f;
  }
  // The exact dot product of row r with x (double), and the sum of its terms' magnitudes.
  void exact(const float* x, int r, double& dot, double& mag) const {
    dot = mag = 0.0;
    for (int k = 0; k < view.cols; ++k) {
      const double t = static_cast<double>(to_float(host[static_cast<std::size_t>(r) * view.cols + k])) * x[k];
      dot += t;
      mag += std::fabs(t);
    }
  }
};

bool same(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class Q>
void check(int rows, int cols, std::initializer_list<int> ms) {
  char where[64];
  std::snprintf(where, sizeof where, "%s %dx%d", Q::name, rows, cols);
  const int m_max = std::max(ms);
  const std::size_t nx = static_cast<std::size_t>(m_max) * cols;
  auto x = aligned<float>(nx + 4);
  for (std::size_t i = 0; i < nx; ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 5) * 3.0f;
  const Matrix<Q> w(rows, cols, 0.0f);
  const std::size_t ny = static_cast<std::size_t>(m_max + 1) * rows;  // a row past every m
  auto y = aligned<float>(ny), one = aligned<float>(static_cast<std::size_t>(rows));
  // Float rounding of cols sums, and the activations' split (2^-22 relative for F16).
  const double tolerance = (cols + 4.0) * std::ldexp(1.0, -24);
  for (int m : ms) {
    std::memset(y.get(), 0xff, ny * sizeof(float));
    EXPECT(cuda::gemv_mma(w.view, x.get(), m, y.get()) == cudaSuccess, where);
    int bad = 0, differ = 0;
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < rows; ++r) {
        double dot, mag;
        w.exact(x.get() + static_cast<std::size_t>(i) * cols, r, dot, mag);
        const float got = y[static_cast<std::size_t>(i) * rows + r];
        bad += !(std::fabs(got - dot) <= tolerance * mag);
        differ += !same(got, w.account(x.get() + static_cast<std::size_t>(i) * cols, r));
      }
    EXPECT(bad == 0, where);
    EXPECT(differ == 0, where);
    const std::size_t n = static_cast<std::size_t>(m) * rows;
    std::uint32_t past;
    std::memcpy(&past, &y[n], sizeof past);
    EXPECT(past == 0xffffffffu, where);
    if (m != m_max) continue;
    for (int i : {0, 4, 9, 66}) {  // alone: the same bits as in the block
      if (i >= m) continue;
      EXPECT(cuda::gemv_mma(w.view, x.get() + static_cast<std::size_t>(i) * cols, 1, one.get()) == cudaSuccess, where);
      int differ = 0;
      for (int r = 0; r < rows; ++r) differ += !same(one[r], y[static_cast<std::size_t>(i) * rows + r]);
      EXPECT(differ == 0, where);
    }
  }
  EXPECT(cuda::gemv_mma(w.view, x.get() + 1, 1, y.get()) == cudaErrorMisalignedAddress, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

// A layer's launches: a batch of Q, K and V (4 query heads, 2 KV heads of 16 values), the same with RoPE
// and the cache write, gate/up with SwiGLU; each against one gemv_mma per matrix.
template <class Q>
void check_layer(int cols, int m) {
  char where[64];
  std::snprintf(where, sizeof where, "%s layer, %d columns, %d rows", Q::name, cols, m);
  constexpr int hd = 16, d = 4 * hd, kv = 2 * hd, ffn = 48, start = 9;
  const int capacity = start + m + 1;
  const float theta = 10000.0f;
  const std::size_t nx = static_cast<std::size_t>(m) * cols;
  auto x = aligned<float>(nx);
  for (std::size_t i = 0; i < nx; ++i) x[i] = std::cos(0.05f * static_cast<float>(i)) * (1.0f + i % 3);
  const Matrix<Q> wq(d, cols, 1.0f), wk(kv, cols, 2.0f), wv(kv, cols, 3.0f), gate(ffn, cols, 4.0f), up(ffn, cols, 5.0f);
  const MatrixView<Q> qkv[3] = {wq.view, wk.view, wv.view};
  const int rows[3] = {d, kv, kv};
  std::vector<float> alone[3];
  for (int j = 0; j < 3; ++j) {
    auto out = aligned<float>(static_cast<std::size_t>(m) * rows[j]);
    EXPECT(cuda::gemv_mma(qkv[j], x.get(), m, out.get()) == cudaSuccess, where);
    alone[j].assign(out.get(), out.get() + static_cast<std::size_t>(m) * rows[j]);
  }

  auto y0 = aligned<float>(static_cast<std::size_t>(m) * d), y1 = aligned<float>(static_cast<std::size_t>(m) * kv),
       y2 = aligned<float>(static_cast<std::size_t>(m) * kv);
  float* const ys[3] = {y0.get(), y1.get(), y2.get()};
  EXPECT(cuda::gemv_batch_mma(qkv, ys, 3, x.get(), m) == cudaSuccess, where);
  int bad = 0;
  for (int j = 0; j < 3; ++j)
    for (std::size_t e = 0; e < alone[j].size(); ++e) bad += !same(alone[j][e], ys[j][e]);
  EXPECT(bad == 0, where);

  auto qo = aligned<float>(static_cast<std::size_t>(m) * d);
  auto kc = aligned<float>(static_cast<std::size_t>(capacity) * kv), vc = aligned<float>(static_cast<std::size_t>(capacity) * kv);
  std::memset(kc.get(), 0x5a, static_cast<std::size_t>(capacity) * kv * sizeof(float));
  std::memset(vc.get(), 0x5a, static_cast<std::size_t>(capacity) * kv * sizeof(float));
  const cuda::GemvRope rope{cuda::kernels::Position::at(start), hd, theta, kc.get(), vc.get()};
  EXPECT(cuda::gemv_qkv_rope_mma(qkv, qo.get(), x.get(), m, rope) == cudaSuccess, where);
  const auto unfused = [&](int j, int i, int r) { return alone[j][static_cast<std::size_t>(i) * rows[j] + r]; };
  EXPECT(test::qkv_rope_mismatches(unfused, same, rows, m, start, hd, theta, qo.get(), kc.get(), vc.get()) == 0, where);
  std::uint32_t untouched;
  std::memcpy(&untouched, &vc[static_cast<std::size_t>(start + m) * kv], sizeof untouched);
  EXPECT(untouched == 0x5a5a5a5au, where);

  const std::size_t ng = static_cast<std::size_t>(m) * ffn;
  auto g = aligned<float>(ng), gg = aligned<float>(ng), uu = aligned<float>(ng);
  EXPECT(cuda::gemv_swiglu_mma(gate.view, up.view, x.get(), m, g.get()) == cudaSuccess, where);
  EXPECT(cuda::gemv_mma(gate.view, x.get(), m, gg.get()) == cudaSuccess, where);
  EXPECT(cuda::gemv_mma(up.view, x.get(), m, uu.get()) == cudaSuccess, where);
  bad = 0;
  for (std::size_t e = 0; e < ng; ++e) bad += !same(math::swiglu(gg[e], uu[e]), g[e]);
  EXPECT(bad == 0, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

}  // namespace

int main() {
  // 16.5 chunks of 64 columns: 8 warps, two or three chunks each; 11 rows: the prefill form's first two
  // groups, the second partial.
  check<quant::F16>(40, 1056, {1, 5, 8, 11});
  check<quant::BF16>(40, 608, {1, 5, 8, 11});  // 9.5 chunks: warp 1's second chunk the half one
  check<quant::F16>(16, 32, {1, 5, 8, 11});  // one half chunk: seven warps idle
  // The prefill form at its full 64 rows and over two launches (64 + 6 rows).
  check<quant::BF16>(21, 96, {1, 8, 9, 64, 70});
  check<quant::F16>(24, 160, {64, 70});
  check_layer<quant::F16>(160, 5);   // the decoding form
  check_layer<quant::BF16>(160, 8);
  check_layer<quant::F16>(96, 19);  // the prefill form: groups at 0, 8 and 16 (a partial one)
  std::printf("emulate_gemv_half_mma: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
