// Emulated (test/emulation/README.md): gemv_swiglu_q8 with an 8-bit output (cuda::Q8Output) against the
// plain launch followed by quantize_activations, bit for bit, for one tile and two, in place and packed,
// with the arrival counters left zero; and its refusals. The CUDA test gemv_test.cu checks the same on a
// GPU.

#include <skippy/cuda/gemv.cuh>
#include <skippy/quant/packed.hpp>
#include <skippy/quant/quantize.hpp>

#include "check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace skippy;
using emulation::aligned;

template <class Q>
void check(int rows, int cols, bool packed) {
  char where[96];
  std::snprintf(where, sizeof where, "%s %dx%d %s", Q::name, rows, cols, packed ? "packed" : "in place");
  const int m_max = 11;
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), uf(wf.size());
  for (std::size_t i = 0; i < wf.size(); ++i) {
    wf[i] = std::sin(0.013f * static_cast<float>(i)) * 0.7f;
    uf[i] = std::cos(0.011f * static_cast<float>(i)) * 0.5f;
  }
  const auto w = quant::quantize<Q>(wf), u = quant::quantize<Q>(uf);
  const std::size_t wb = static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols));
  auto pw = aligned<unsigned char>(wb), pu = aligned<unsigned char>(wb);
  if (packed) {
    quant::pack_matrix<Q>(w.data(), rows, cols, pw.get());
    quant::pack_matrix<Q>(u.data(), rows, cols, pu.get());
  } else {
    std::memcpy(pw.get(), w.data(), wb);
    std::memcpy(pu.get(), u.data(), wb);
  }
  const MatrixView<Q> gate{reinterpret_cast<const typename Q::block*>(pw.get()), rows, cols, packed};
  const MatrixView<Q> up{reinterpret_cast<const typename Q::block*>(pu.get()), rows, cols, packed};
  const std::size_t nx = static_cast<std::size_t>(m_max) * cols, ny = static_cast<std::size_t>(m_max) * rows;
  auto x = aligned<float>(nx);
  for (std::size_t i = 0; i < nx; ++i) x[i] = std::cos(0.07f * static_cast<float>(i)) * (1.0f + i % 5);
  auto xq = aligned<std::int8_t>(nx);
  auto xd = aligned<float>(nx / quant::qk);
  EXPECT(cuda::quantize_activations(x.get(), m_max, cols, xq.get(), xd.get()) == cudaSuccess, where);
  auto y = aligned<float>(ny), y2 = aligned<float>(ny), s = aligned<float>(ny / quant::qk),
       s2 = aligned<float>(ny / quant::qk);
  auto q = aligned<std::int8_t>(ny), q2 = aligned<std::int8_t>(ny);
  std::vector<unsigned> counters(static_cast<std::size_t>(cuda::q8_output_counters(rows)), 0u);
  const cuda::Q8Output out{q.get(), s.get(), counters.data()};
  const quant::Q8Rows in{xq.get(), xd.get()};
  for (int m : {1, 5, 8, m_max}) {
    std::memset(q.get(), 0x55, ny);
    std::memset(s.get(), 0xff, ny / quant::qk * sizeof(float));
    std::memset(y.get(), 0xff, ny * sizeof(float));
    EXPECT(cuda::gemv_swiglu_q8(gate, up, in, m, y.get(), {}, out) == cudaSuccess, where);
    EXPECT(cuda::gemv_swiglu_q8(gate, up, in, m, y2.get()) == cudaSuccess, where);
    EXPECT(cuda::quantize_activations(y2.get(), m, rows, q2.get(), s2.get()) == cudaSuccess, where);
    const std::size_t n = static_cast<std::size_t>(m) * rows;
    EXPECT(std::memcmp(y.get(), y2.get(), n * sizeof(float)) == 0, where);
    EXPECT(std::memcmp(s.get(), s2.get(), n / quant::qk * sizeof(float)) == 0, where);
    EXPECT(std::memcmp(q.get(), q2.get(), n) == 0, where);
    if (n < ny) EXPECT(static_cast<unsigned char>(q[n]) == 0x55, where);
    EXPECT(std::count(counters.begin(), counters.end(), 0u) == static_cast<long>(counters.size()), where);
  }
  EXPECT(cuda::gemv_swiglu_q8(gate, up, in, 1, y.get(), {}, cuda::Q8Output{q.get(), s.get(), nullptr}) ==
             cudaErrorInvalidValue, where);
  EXPECT(cuda::gemv_swiglu_q8(gate, up, in, 1, y.get(), {}, cuda::Q8Output{xq.get(), xd.get(), counters.data()}) ==
             cudaErrorInvalidValue, where);
  EXPECT(cuda::gemv_swiglu_q8(gate, up, in, 1, y.get(), {}, cuda::Q8Output{q.get() + 8, s.get(), counters.data()}) ==
             cudaErrorMisalignedAddress, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

int main() {
  for (bool packed : {false, true}) {
    check<quant::Q8_0>(64, 288, packed);
    check<quant::Q4_0>(64, 288, packed);
  }
  check<quant::Q4_0>(96, 64, false);
  std::printf("emulate_gemv_swiglu_q8: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
