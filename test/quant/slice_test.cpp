// The interleaved weight kernel's slices, checked on the host: every column is covered once, every decoded
// value times its scale is the dequantized weight, and interleaved_dot_row (the kernel's arithmetic,
// evaluated here) agrees with a double-precision dot product to rounding.

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <skippy/quant/dequantize.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/slice.hpp>
#include <string>
#include <vector>

#include "../support/exact_dot.hpp"

using namespace skippy;
using namespace skippy::quant;

namespace {

template <class Q>
void check_slices(std::mt19937& rng) {
  using S = Slice<Q>;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int cols : {32, 96, 256, 288, 4096, 4128}) {
    CAPTURE(std::string(Q::name));
    CAPTURE(cols);
    std::vector<float> wf(static_cast<std::size_t>(cols)), x(static_cast<std::size_t>(cols));
    for (int i = 0; i < cols; ++i) {
      wf[static_cast<std::size_t>(i)] = std::ldexp(u(rng), (i / 32) % 5 - 2);
      x[static_cast<std::size_t>(i)] = u(rng);
    }
    const std::vector<typename Q::block> row = quantize<Q>(wf);
    std::vector<float> wd(static_cast<std::size_t>(cols));
    dequantize_row<Q>(row.data(), wd.data(), cols);

    // Each column once, each value (times the slice's scale) the dequantized weight, bit for bit.
    std::vector<int> seen(static_cast<std::size_t>(cols), 0);
    int wrong = 0;
    for (int s = 0; s < cols / S::values; ++s) {
      float v[S::values];
      const float scale = S::decode(S::load(row.data(), s), v);
      for (int k = 0; k < S::values; ++k) {
        const int c = S::first(s, k / slice_run) + k % slice_run;
        REQUIRE(c >= 0);
        REQUIRE(c < cols);
        ++seen[static_cast<std::size_t>(c)];
        wrong += scale * v[k] != wd[static_cast<std::size_t>(c)];
      }
    }
    int once = 0;
    for (int n : seen) once += n == 1;
    CHECK(once == cols);
    CHECK(wrong == 0);

    // The kernel's sum against a double-precision one over the same weights.
    const test::ExactDot ref = test::exact_dot(wd, x);
    const float got = interleaved_dot_row<Q>(row.data(), x.data(), cols);
    CHECK(std::fabs(static_cast<double>(got) - ref.value) <= 1e-5 * ref.magnitude);
  }
}

}  // namespace

TEST_CASE("slices cover each column once, decode to the dequantized weights, and sum to the dot product") {
  std::mt19937 rng(20261130);
  check_slices<F32>(rng);
  check_slices<F16>(rng);
  check_slices<BF16>(rng);
  check_slices<F8_E4M3>(rng);
  check_slices<Q8_0>(rng);
  check_slices<Q4_0>(rng);
}

TEST_CASE("butterfly_sum joins lane l with lane l ^ 16 first, as warp shuffles do") {
  float lanes[math::warp_lanes] = {};
  for (int l = 0; l < math::warp_lanes; ++l) lanes[l] = static_cast<float>(l * l);
  CHECK(math::butterfly_sum(lanes) == 10416.0f);  // sum of squares 0..31: exact in float
  // 1e8 + 1 rounds back to 1e8 in float: only pairing lanes 0 and 16 before adding lane 1 keeps the 1.
  float order[math::warp_lanes] = {};
  order[0] = 1e8f;
  order[16] = -1e8f;
  order[1] = 1.0f;
  CHECK(math::butterfly_sum(order) == 1.0f);
  float seq = 0.0f;
  for (float v : order) seq += v;
  CHECK(seq != 1.0f);  // a sequential sum would lose it
}

TEST_CASE("byte_perm picks byte (s >> 4n) & 7 of {x, y} for result byte n, as the device's prmt does") {
  const std::uint32_t x = 0x03020100u, y = 0x07060504u;  // byte i holds i
  int wrong = 0;
  for (std::uint32_t s = 0; s < 0x10000u; ++s)
    for (int n = 0; n < 4; ++n)
      wrong += ((quant::detail::byte_perm(x, y, s) >> (8 * n)) & 0xffu) != ((s >> (4 * n)) & 7u);
  CHECK(wrong == 0);
  CHECK(quant::detail::byte_perm(0xddccbbaau, 0x4b000000u, 0x7652u) == 0x4b0000ccu);  // the weight kernels' selector
}

TEST_CASE("unbias_byte gives byte k of the word less the bias, for every byte and position") {
  int wrong = 0;
  for (std::uint32_t b = 0; b < 256; ++b)
    for (int k = 0; k < 4; ++k) {
      const std::uint32_t w = (b << (8 * k)) | (~0u ^ (0xffu << (8 * k)));  // other bytes all ones
      for (int bias : {0, 8, 128})
        wrong += quant::detail::unbias_byte(w, k, bias) != static_cast<float>(static_cast<int>(b) - bias);
    }
  CHECK(wrong == 0);
}
