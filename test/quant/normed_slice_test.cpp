// The fused norm's arithmetic (quant/normed_slice.hpp): the interleaved sum over activations normalised
// as they are loaded is, bit for bit, the float arithmetic's sum over the normalised row; its sum of
// squares agrees with an exact one to rounding and follows its own written order.

#include <doctest/doctest.h>

#include <skippy/math/rmsnorm.hpp>
#include <skippy/quant/normed_slice.hpp>
#include <skippy/quant/quantize.hpp>

#include <cmath>
#include <cstring>
#include <vector>

using namespace skippy;
using namespace skippy::quant;

namespace {

std::vector<float> wave(std::size_t n, float a, float b, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(a * static_cast<float>(i) + b) * scale;
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class Q>
void check_normed_dot(int cols) {
  CAPTURE(cols);
  const int rows = 3, m = 2;
  const auto w = quantize<Q>(wave(static_cast<std::size_t>(rows) * cols, 0.013f, 0.2f, 0.7f));
  const auto x = wave(static_cast<std::size_t>(m) * cols, 0.071f, 1.0f, 3.0f);
  const auto g = wave(static_cast<std::size_t>(cols), 0.005f, 0.4f, 1.5f);
  const float scale[m] = {norm_scale(x.data(), cols, 1e-5f), norm_scale(x.data() + cols, cols, 1e-5f)};
  CHECK(scale[0] != scale[1]);
  const NormedRows in{x.data(), g.data(), scale};
  for (int i = 0; i < m; ++i) {
    std::vector<float> xn(static_cast<std::size_t>(cols));
    for (int e = 0; e < cols; ++e) xn[e] = math::rms_apply(x[static_cast<std::size_t>(i) * cols + e], g[e], scale[i]);
    for (int r = 0; r < rows; ++r) {
      const auto* row = w.data() + static_cast<std::size_t>(r) * (cols / Q::block_size);
      const float want = interleaved_dot_row<Q>(row, xn.data(), cols);
      const float got = interleaved_dot<NormedSlices<Q>>(row, NormedSlices<Q>::advance(in, i, cols), cols);
      CAPTURE(i);
      CAPTURE(r);
      CHECK(same_bits(got, want));
    }
  }
}

}  // namespace

TEST_CASE("interleaved_dot over NormedSlices is the float arithmetic over the normalised row, bit for bit") {
  for (const int cols : {32, 256, 4096, 4096 + 96}) {
    check_normed_dot<F32>(cols);
    check_normed_dot<F16>(cols);
    check_normed_dot<BF16>(cols);
    check_normed_dot<F8_E4M3>(cols);
    check_normed_dot<Q8_0>(cols);
    check_normed_dot<Q4_0>(cols);
  }
}

TEST_CASE("norm_sum_squares agrees with an exact sum and follows its written order") {
  for (const int n : {4, 32, 512, 4096, 14336, 4100}) {
    CAPTURE(n);
    const auto x = wave(static_cast<std::size_t>(n), 0.37f, 0.1f, 2.0f);
    double exact = 0.0;
    for (const float v : x) exact += static_cast<double>(v) * v;
    const float got = norm_sum_squares(x.data(), n);
    CHECK(std::fabs(got - exact) <= 1e-5 * exact);
    // The order: thread t's float4 groups t, t + T, ... by fma, then the butterfly, then the warps.
    float total = 0.0f;
    for (int w = 0; w < interleaved_warps; ++w) {
      float lanes[math::warp_lanes];
      for (int l = 0; l < math::warp_lanes; ++l) {
        const int t = w * math::warp_lanes + l;
        float s = 0.0f;
        for (int g = t; g < n / 4; g += interleaved_threads)
          for (int k = 0; k < 4; ++k) s = std::fma(x[4 * g + k], x[4 * g + k], s);
        lanes[l] = s;
      }
      total = w == 0 ? math::butterfly_sum(lanes) : total + math::butterfly_sum(lanes);
    }
    CHECK(same_bits(got, total));
    CHECK(same_bits(norm_scale(x.data(), n, 1e-6f), math::rms_scale(got, n, 1e-6f)));
    // Close to the host backend's scale (math::sum_squares' order), not necessarily equal.
    CHECK(std::fabs(norm_scale(x.data(), n, 1e-6f) / math::rms_scale(math::sum_squares(x.data(), n), n, 1e-6f) - 1.0f) <
          1e-5f);
  }
}
