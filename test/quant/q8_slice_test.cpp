// The 8-bit activation arithmetic of the interleaved weight kernel, on the host: dot4 is the signed
// byte dot product, Q4_0 nibbles become 16 * (nibble - 8), and interleaved_dot<Q8Slices<Q>> (the
// kernel's bits) equals the exact dot product of the dequantised weights and dequantised activations to
// float rounding, and the float dot product to the activations' quantisation error.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <skippy/quant/dequantize.hpp>
#include <skippy/quant/q8_slice.hpp>
#include <skippy/quant/quantize.hpp>
#include <string>
#include <vector>

#include "../support/exact_dot.hpp"

using namespace skippy;
using namespace skippy::quant;

TEST_CASE("dot4 sums the products of four signed byte pairs") {
  CHECK(quant::detail::dot4(0x80808080u, 0x80808080u, 0) == 4 * 128 * 128);
  CHECK(quant::detail::dot4(0x7f7f7f7fu, 0x80808080u, 5) == 4 * 127 * -128 + 5);
  std::mt19937 rng(3);
  int differ = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const std::uint32_t a = rng(), b = rng();
    const int c = static_cast<int>(rng() % 2001) - 1000;
    std::int8_t ab[4], bb[4];
    std::memcpy(ab, &a, 4);  // little endian: byte k is bits 8k..8k+7
    std::memcpy(bb, &b, 4);
    int want = c;
    for (int k = 0; k < 4; ++k) want += ab[k] * bb[k];
    differ += quant::detail::dot4(a, b, c) != want;
  }
  CHECK(differ == 0);
}

TEST_CASE("Q4_0 nibbles become the signed bytes 16 * (nibble - 8), low and high, in every byte position") {
  int differ = 0;
  for (int k = 0; k < 4; ++k)
    for (std::uint32_t b = 0; b < 256; ++b) {
      const std::uint32_t w = b << (8 * k) | (0x5au << (8 * ((k + 1) % 4)));  // a neighbour byte too
      const auto byte = [&](std::uint32_t v) { return static_cast<std::int8_t>(v >> (8 * k) & 0xffu); };
      differ += byte(quant::detail::q4_low_x16(w)) != 16 * (static_cast<int>(b & 15u) - 8);
      differ += byte(quant::detail::q4_high_x16(w)) != 16 * (static_cast<int>(b >> 4) - 8);
    }
  CHECK(differ == 0);
}

namespace {

template <class Q>
void check_q8_dot(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int cols : {32, 96, 256, 288, 4096, 4128}) {
    CAPTURE(std::string(Q::name));
    CAPTURE(cols);
    std::vector<float> wf(static_cast<std::size_t>(cols)), x(static_cast<std::size_t>(cols));
    for (int i = 0; i < cols; ++i) {
      wf[static_cast<std::size_t>(i)] = std::ldexp(u(rng), (i / 32) % 5 - 2);
      x[static_cast<std::size_t>(i)] = std::ldexp(u(rng), (i / 64) % 3);
    }
    const std::vector<typename Q::block> row = quantize<Q>(wf);
    std::vector<float> wd(wf.size()), xd(x.size()), d(x.size() / qk);
    dequantize_row<Q>(row.data(), wd.data(), cols);
    std::vector<std::int8_t> q(x.size());
    quantize_activations(x.data(), 1, cols, q.data(), d.data());
    for (std::size_t i = 0; i < x.size(); ++i)  // exact: |q| <= 127
      xd[i] = d[i / qk] * q[static_cast<std::size_t>(q8_stored(static_cast<int>(i)))];

    const float got = interleaved_dot<Q8Slices<Q>>(row.data(), Q8Rows{q.data(), d.data()}, cols);
    const test::ExactDot exact = test::exact_dot(wd, xd);
    CHECK(std::fabs(static_cast<double>(got) - exact.value) <= 1e-5 * exact.magnitude);
    // Against the float activations: at most half a step per value.
    const test::ExactDot full = test::exact_dot(wd, x);
    double bound = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) bound += std::fabs(wd[i]) * 0.5 * d[i / qk];
    CHECK(std::fabs(static_cast<double>(got) - full.value) <= bound + 1e-5 * full.magnitude);

    // A NaN activation poisons the row's result.
    x[static_cast<std::size_t>(cols / 2)] = std::nanf("");
    quantize_activations(x.data(), 1, cols, q.data(), d.data());
    CHECK(std::isnan(interleaved_dot<Q8Slices<Q>>(row.data(), Q8Rows{q.data(), d.data()}, cols)));
  }
}

}  // namespace

TEST_CASE("interleaved_dot over 8-bit activations equals the dot product of what was quantised") {
  std::mt19937 rng(20261130);
  check_q8_dot<Q8_0>(rng);
  check_q8_dot<Q4_0>(rng);
}
