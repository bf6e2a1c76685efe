// The 16-bit parts of float activations for the tensor-core kernel over F16 / BF16 weights
// (quant/split.hpp): the stated error bounds over many magnitudes, BF16's three parts exact, each part a
// value of its type, the packed pairs equal to the parts one by one, and F16's range limit.

#include <doctest/doctest.h>

#include <skippy/quant/split.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

using namespace skippy;

namespace {

// Random floats of every magnitude in [2^lo, 2^hi), either sign, with all mantissa bits random.
float random_float(std::mt19937& rng, int lo, int hi) {
  std::uniform_int_distribution<int> e(lo, hi - 1);
  std::uniform_real_distribution<float> m(1.0f, 2.0f);
  return std::ldexp(m(rng), e(rng)) * (rng() % 2 ? 1.0f : -1.0f);
}

}  // namespace

TEST_CASE("quant::split_parts: F16's two parts within max(2^-22 |x|, 2^-25) of x, each an F16 value") {
  std::mt19937 rng(7);
  for (int n = 0; n < 200000; ++n) {
    // Below 2^-24 up to 2^15 drawn, then F16's largest binade up to its limit (65520 and up overflow).
    const float x = n < 199990 ? random_float(rng, -40, 15) : 32768.0f + 3275.1f * static_cast<float>(n - 199990);
    float p[2];
    quant::split_parts<half_t>(x, p);
    const double err = std::fabs(static_cast<double>(x) - (static_cast<double>(p[0]) + p[1]));
    INFO("x = ", x, " parts ", p[0], " ", p[1]);
    REQUIRE(err <= std::max(std::ldexp(std::fabs(static_cast<double>(x)), -22), std::ldexp(1.0, -25)));
    for (float v : p) REQUIRE(to_float(to_half(v)) == v);
  }
}

TEST_CASE("quant::split_parts: BF16's three parts sum to x within 2^-24 |x| (exactly for normal floats), each a BF16 value") {
  std::mt19937 rng(11);
  int exact = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float x = random_float(rng, -100, 100);
    float p[3];
    quant::split_parts<bf16_t>(x, p);
    const double sum = static_cast<double>(p[0]) + p[1] + p[2];
    INFO("x = ", x, " parts ", p[0], " ", p[1], " ", p[2]);
    REQUIRE(std::fabs(x - sum) <= std::ldexp(std::fabs(static_cast<double>(x)), -24));
    exact += sum == x;
    for (float v : p) REQUIRE(to_float(to_bf16(v)) == v);
  }
  CHECK(exact == n);  // 24 = 8 + 8 + 8 bits: nothing is left for normal floats
}

TEST_CASE("quant::split_pair packs the parts of x0 (low half) and x1 (high half) of each word") {
  std::mt19937 rng(3);
  for (int n = 0; n < 10000; ++n) {
    const float x0 = random_float(rng, -20, 15), x1 = random_float(rng, -20, 15);
    std::uint32_t wh[2], wb[3];
    quant::split_pair<half_t>(x0, x1, wh);
    quant::split_pair<bf16_t>(x0, x1, wb);
    float h0[2], h1[2], b0[3], b1[3];
    quant::split_parts<half_t>(x0, h0);
    quant::split_parts<half_t>(x1, h1);
    quant::split_parts<bf16_t>(x0, b0);
    quant::split_parts<bf16_t>(x1, b1);
    for (int p = 0; p < 2; ++p) {
      REQUIRE(to_float(half_t{static_cast<std::uint16_t>(wh[p])}) == h0[p]);
      REQUIRE(to_float(half_t{static_cast<std::uint16_t>(wh[p] >> 16)}) == h1[p]);
    }
    for (int p = 0; p < 3; ++p) {
      REQUIRE(to_float(bf16_t{static_cast<std::uint16_t>(wb[p])}) == b0[p]);
      REQUIRE(to_float(bf16_t{static_cast<std::uint16_t>(wb[p] >> 16)}) == b1[p]);
    }
  }
}

TEST_CASE("quant::split_parts: F16 activations past 65504 leave the range (an infinite part), BF16 ones do not") {
  float h[2], b[3];
  quant::split_parts<half_t>(65504.0f, h);
  CHECK(h[0] == 65504.0f);
  CHECK(h[1] == 0.0f);
  quant::split_parts<half_t>(70000.0f, h);
  CHECK(std::isinf(h[0]));
  quant::split_parts<bf16_t>(1e30f, b);
  CHECK(static_cast<double>(b[0]) + b[1] + b[2] == static_cast<double>(1e30f));
}
