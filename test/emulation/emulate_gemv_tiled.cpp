// Emulated (test/emulation/README.md): the tensor-core kernel (kernels/gemv_tiled.cuh), its integer
// product taken from the other lanes' fragments (kernels::mma_s8_16x8x32 below sm_80), against
// quant::tiled_dot bit for bit: gemv_q8 over a tiled matrix for one tile of up to 8 activation rows and
// two, and in the prefill form (one launch of up to 64 rows and two); a batch of three matrices, gate/up
// with SwiGLU and its 8-bit output, and Q/K/V with RoPE and the cache write (rotated on the host), each
// in decoding launches and in the prefill form; and the device tiling kernel against the host's tiling.
// The CUDA tests tiled_test.cu and gemv_test.cu check the same on a GPU, with the tensor-core instruction.

#include <skippy/cuda/gemv.cuh>
#include <skippy/cuda/tiled.cuh>
#include <skippy/math/activation.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/tiled.hpp>

#include "../support/qkv_rope.hpp"
#include "check.hpp"

#include <cmath>
#include <cstring>
#include <vector>

using namespace skippy;
using emulation::aligned;

namespace {

constexpr int m_max = 70;

// A tiled matrix in (emulated) device memory, with its ggml blocks for the account.
template <class Q>
struct Matrix {
  std::vector<typename Q::block> blocks;
  std::unique_ptr<unsigned char[], emulation::Free> bytes;
  MatrixView<Q> view;
  Matrix(int rows, int cols, float phase) {
    std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
    for (std::size_t i = 0; i < wf.size(); ++i)
      wf[i] = std::sin(0.013f * static_cast<float>(i) + phase) * (0.7f + 0.1f * static_cast<float>(i % 5));
    blocks = quant::quantize<Q>(wf);
    auto src = aligned<typename Q::block>(blocks.size());
    std::memcpy(src.get(), blocks.data(), blocks.size() * sizeof(blocks[0]));
    const std::size_t n = quant::Tiled<Q>::bytes(rows, cols);
    bytes = aligned<unsigned char>(n);
    const bool ok = cuda::tile_matrix(MatrixView<Q>{src.get(), rows, cols}, bytes.get()) == cudaSuccess;
    EXPECT(ok, "tile_matrix");
    std::vector<unsigned char> host(n);
    quant::tile_matrix<Q>(blocks.data(), rows, cols, host.data());
    EXPECT(std::memcmp(host.data(), bytes.get(), n) == 0, "device tiling = host tiling");
    view = MatrixView<Q>{reinterpret_cast<const typename Q::block*>(bytes.get()), rows, cols};
    view.tiled = true;
  }
  float account(const std::int8_t* xq, const float* xd, int r, int i) const {
    const int cols = view.cols, blocks_per_row = cols / quant::qk;
    return quant::tiled_dot<Q>(blocks.data() + static_cast<long>(r) * blocks_per_row, xq + static_cast<long>(i) * cols,
                               xd + static_cast<long>(i) * blocks_per_row, cols);
  }
};

bool same(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class Q>
void check(int rows, int cols) {
  char where[64];
  std::snprintf(where, sizeof where, "%s %dx%d", Q::name, rows, cols);
  const std::size_t nx = static_cast<std::size_t>(m_max) * cols;
  auto x = aligned<float>(nx);
  for (std::size_t i = 0; i < nx; ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 5);
  auto xq = aligned<std::int8_t>(nx);
  auto xd = aligned<float>(nx / quant::qk);
  quant::quantize_activations(x.get(), m_max, cols, xq.get(), xd.get());
  const quant::Q8Rows in{xq.get(), xd.get()};

  // gemv_q8: one tile and two, the prefill form's one launch and two; nothing past the m rows.
  const Matrix<Q> w(rows, cols, 0.0f);
  const std::size_t ny = static_cast<std::size_t>(m_max) * rows;
  auto y = aligned<float>(ny);
  for (int m : {1, 3, 8, 11, 40, 64, m_max}) {
    std::memset(y.get(), 0xff, ny * sizeof(float));
    EXPECT(cuda::gemv_q8(w.view, in, m, y.get()) == cudaSuccess, where);
    int bad = 0;
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < rows; ++r)
        bad += !same(w.account(xq.get(), xd.get(), r, i), y[static_cast<std::size_t>(i) * rows + r]);
    EXPECT(bad == 0, where);
    const std::size_t n = static_cast<std::size_t>(m) * rows;
    std::uint32_t past = 0xffffffffu;
    if (n < ny) std::memcpy(&past, &y[n], sizeof past);
    EXPECT(past == 0xffffffffu, where);
  }
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

// A layer's launches over tiled matrices: Q/K/V with RoPE (4 query heads, 2 KV heads of 16 values),
// a batch of the three, gate/up with SwiGLU and its 8-bit output.
template <class Q>
void check_layer(int cols, int m) {
  char where[64];
  std::snprintf(where, sizeof where, "%s layer, %d columns, %d rows", Q::name, cols, m);
  constexpr int hd = 16, d = 4 * hd, kv = 2 * hd, ffn = 64, start = 9;
  const int capacity = start + m + 1;
  const float theta = 10000.0f;
  const std::size_t nx = static_cast<std::size_t>(m) * cols;
  auto x = aligned<float>(nx);
  for (std::size_t i = 0; i < nx; ++i) x[i] = std::cos(0.05f * static_cast<float>(i)) * (1.0f + i % 3);
  auto xq = aligned<std::int8_t>(nx);
  auto xd = aligned<float>(nx / quant::qk);
  quant::quantize_activations(x.get(), m, cols, xq.get(), xd.get());
  const quant::Q8Rows in{xq.get(), xd.get()};
  const Matrix<Q> wq(d, cols, 1.0f), wk(kv, cols, 2.0f), wv(kv, cols, 3.0f), gate(ffn, cols, 4.0f), up(ffn, cols, 5.0f);
  const MatrixView<Q> qkv[3] = {wq.view, wk.view, wv.view};
  const Matrix<Q>* mats[3] = {&wq, &wk, &wv};
  const int rows[3] = {d, kv, kv};

  // The batch of three: each matrix's account.
  auto y0 = aligned<float>(static_cast<std::size_t>(m) * d),
       y1 = aligned<float>(static_cast<std::size_t>(m) * kv),
       y2 = aligned<float>(static_cast<std::size_t>(m) * kv);
  float* const ys[3] = {y0.get(), y1.get(), y2.get()};
  EXPECT(cuda::gemv_batch_q8(qkv, ys, 3, in, m) == cudaSuccess, where);
  int bad = 0;
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < rows[j]; ++r)
        bad += !same(mats[j]->account(xq.get(), xd.get(), r, i), ys[j][static_cast<std::size_t>(i) * rows[j] + r]);
  EXPECT(bad == 0, where);

  // Q/K/V with RoPE and the cache write: the accounts rotated on the host.
  auto qo = aligned<float>(static_cast<std::size_t>(m) * d);
  auto kc = aligned<float>(static_cast<std::size_t>(capacity) * kv),
       vc = aligned<float>(static_cast<std::size_t>(capacity) * kv);
  std::memset(kc.get(), 0x5a, static_cast<std::size_t>(capacity) * kv * sizeof(float));
  std::memset(vc.get(), 0x5a, static_cast<std::size_t>(capacity) * kv * sizeof(float));
  const cuda::GemvRope rope{cuda::kernels::Position::at(start), hd, theta, kc.get(), vc.get()};
  EXPECT(cuda::gemv_qkv_rope_q8(qkv, qo.get(), in, m, rope) == cudaSuccess, where);
  const auto account = [&](int j, int i, int r) { return mats[j]->account(xq.get(), xd.get(), r, i); };
  EXPECT(test::qkv_rope_mismatches(account, same, rows, m, start, hd, theta, qo.get(), kc.get(), vc.get()) == 0, where);
  std::uint32_t untouched;
  std::memcpy(&untouched, &kc[static_cast<std::size_t>(start - 1) * kv], sizeof untouched);
  EXPECT(untouched == 0x5a5a5a5au, where);
  std::memcpy(&untouched, &kc[static_cast<std::size_t>(start + m) * kv], sizeof untouched);
  EXPECT(untouched == 0x5a5a5a5au, where);

  // gate/up with SwiGLU and its 8-bit output.
  const std::size_t ng = static_cast<std::size_t>(m) * ffn;
  auto g = aligned<float>(ng), s = aligned<float>(ng / quant::qk), s2 = aligned<float>(ng / quant::qk);
  auto q = aligned<std::int8_t>(ng), q2 = aligned<std::int8_t>(ng);
  std::vector<unsigned> counters(static_cast<std::size_t>(cuda::q8_output_counters(ffn)), 0u);
  EXPECT(cuda::gemv_swiglu_q8(gate.view, up.view, in, m, g.get(), {},
                              cuda::Q8Output{q.get(), s.get(), counters.data()}) == cudaSuccess,
         where);
  bad = 0;
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < ffn; ++r)
      bad += !same(math::swiglu(gate.account(xq.get(), xd.get(), r, i), up.account(xq.get(), xd.get(), r, i)),
                   g[static_cast<std::size_t>(i) * ffn + r]);
  EXPECT(bad == 0, where);
  quant::quantize_activations(g.get(), m, ffn, q2.get(), s2.get());
  EXPECT(std::memcmp(q.get(), q2.get(), ng) == 0, where);
  EXPECT(std::memcmp(s.get(), s2.get(), ng / quant::qk * sizeof(float)) == 0, where);
  for (unsigned c : counters) EXPECT(c == 0u, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

}  // namespace

int main() {
  check<quant::Q8_0>(16, 32);
  check<quant::Q4_0>(16, 32);
  check<quant::Q8_0>(40, 288);
  check<quant::Q4_0>(40, 288);
  check<quant::Q4_0>(33, 4096 + 96);
  for (int m : {11, 70}) {
    check_layer<quant::Q8_0>(288, m);
    check_layer<quant::Q4_0>(288, m);
  }
  std::printf("emulate_gemv_tiled: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
