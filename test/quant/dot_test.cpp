// quant::dot_row against a double-precision sum over the dequantized row, for every storage type.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <skippy/quant/dequantize.hpp>
#include <skippy/quant/dot.hpp>
#include <skippy/quant/quantize.hpp>
#include <vector>

#include "../support/exact_dot.hpp"

using namespace skippy;
using namespace skippy::quant;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

template <class Q>
void check_type(std::mt19937& rng) {
  using Block = typename Q::block;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int n : {32, 64, 4096}) {
    for (int trial = 0; trial < 3; ++trial) {
      CAPTURE(n);
      CAPTURE(trial);
      // weights with a per-block magnitude spread; activations with occasional large entries
      std::vector<float> wf(static_cast<std::size_t>(n)), x(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        const float s = std::ldexp(1.0f, (i / 32) % 7 - 3);
        wf[static_cast<std::size_t>(i)] = s * u(rng);
        x[static_cast<std::size_t>(i)] = u(rng) * (i % 13 == 0 ? 50.0f : 1.0f);
      }
      if (trial == 2)  // strongly cancelling: x matches the sign pattern of w on half the row, opposite on the rest
        for (int i = 0; i < n; ++i)
          x[static_cast<std::size_t>(i)] = (i < n / 2 ? 1.0f : -1.0f) * wf[static_cast<std::size_t>(i % (n / 2))];
      std::vector<Block> row(static_cast<std::size_t>(n / Q::block_size));
      quantize_row<Q>(wf.data(), row.data(), static_cast<std::size_t>(n));
      std::vector<float> wd(static_cast<std::size_t>(n));
      dequantize_row<Q>(row.data(), wd.data(), n);

      const test::ExactDot ref = test::exact_dot(wd, x);
      const float got = dot_row<Q>(row.data(), x.data(), n);
      CHECK(std::fabs(static_cast<double>(got) - ref.value) <= 1e-5 * ref.magnitude + 1e-30);

      // Same bits wherever the row and the activations sit in memory (odd offsets inside bigger buffers).
      std::vector<Block> row2(row.size() + 7);
      std::memcpy(row2.data() + 5, row.data(), row.size() * sizeof(Block));
      std::vector<float> x2(x.size() + 9);
      std::memcpy(x2.data() + 3, x.data(), x.size() * sizeof(float));
      const float got2 = dot_row<Q>(row2.data() + 5, x2.data() + 3, n);
      CHECK(bits_of(got2) == bits_of(got));
      // and repeated calls are deterministic
      CHECK(bits_of(dot_row<Q>(row.data(), x.data(), n)) == bits_of(got));
    }
  }

  // One-hot activations read out each weight exactly: dot(row, e_i) == dequantize(row, i).
  {
    const int n = 64;
    std::vector<float> wf(n);
    for (auto& v : wf) v = u(rng) * 3.0f;
    std::vector<Block> row(static_cast<std::size_t>(n / Q::block_size));
    quantize_row<Q>(wf.data(), row.data(), n);
    std::vector<float> wd(n), e(n, 0.0f);
    dequantize_row<Q>(row.data(), wd.data(), n);
    for (int i = 0; i < n; ++i) {
      e[static_cast<std::size_t>(i)] = 1.0f;
      CHECK(dot_row<Q>(row.data(), e.data(), n) == wd[static_cast<std::size_t>(i)]);
      e[static_cast<std::size_t>(i)] = 0.0f;
    }
  }
}

}  // namespace

TEST_CASE("dot_row<F32> matches a double reference") {
  std::mt19937 rng(1);
  check_type<F32>(rng);
}
TEST_CASE("dot_row<F16> matches a double reference") {
  std::mt19937 rng(2);
  check_type<F16>(rng);
}
TEST_CASE("dot_row<BF16> matches a double reference") {
  std::mt19937 rng(3);
  check_type<BF16>(rng);
}
TEST_CASE("dot_row<F8_E4M3> matches a double reference") {
  std::mt19937 rng(6);
  check_type<F8_E4M3>(rng);
}
TEST_CASE("dot_row<Q8_0> matches a double reference") {
  std::mt19937 rng(4);
  check_type<Q8_0>(rng);
}
TEST_CASE("dot_row<Q4_0> matches a double reference") {
  std::mt19937 rng(5);
  check_type<Q4_0>(rng);
}
