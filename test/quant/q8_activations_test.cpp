// 8-bit activation blocks: each value within half a step of its quantised form, the largest at +-127,
// non-finite blocks poisoned with a NaN scale, the stored order of a block's runs, and the Q8_0 weight
// quantiser (which shares the formula) still ggml's.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <skippy/quant/q8_activations.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/slice.hpp>
#include <vector>

using namespace skippy;
using namespace skippy::quant;

TEST_CASE("quantize_q8 keeps every value within half a step and maps the largest magnitude to +-127") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int far = 0, extreme = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    float x[qk];
    const int scale = trial % 41 - 20 - (trial % 7 == 0 ? 110 : 0);  // some blocks of subnormal scales
    for (float& v : x) v = std::ldexp(u(rng), scale);
    std::int8_t q[qk];
    const float d = quantize_q8(x, q);
    float amax = 0.0f;
    for (float v : x) amax = std::fmax(amax, std::fabs(v));
    CHECK(d == amax / 127.0f);
    bool top = false;
    for (int i = 0; i < qk; ++i) {
      // Subnormal d: the product d * q rounds to the subnormal grid.
      far += !(std::fabs(x[i] - d * q[i]) <= 0.5f * d + 1e-6f * amax + std::numeric_limits<float>::denorm_min());
      top = top || (std::fabs(x[i]) == amax && (q[i] == 127 || q[i] == -127));
    }
    extreme += top;
  }
  CHECK(far == 0);
  CHECK(extreme == 2000);
}

TEST_CASE("quantize_q8: a block whose scale is so small that 1/d overflows still maps to +-127") {
  float x[qk] = {};
  x[0] = 1e-38f;
  x[1] = -2.5e-39f;
  std::int8_t q[qk];
  const float d = quantize_q8(x, q);
  CHECK(d == 1e-38f / 127.0f);
  CHECK(std::isinf(1.0f / d));  // the case: the reciprocal overflows
  CHECK(q[0] == 127);
  CHECK(q[1] == -32);
  for (int i = 2; i < qk; ++i) CHECK(q[i] == 0);
  // amax of 150 of the smallest subnormals: d rounds to one of them, and amax / d = 150 clamps to 127.
  x[0] = 150 * std::numeric_limits<float>::denorm_min();
  x[1] = -x[0];
  CHECK(quantize_q8(x, q) == std::numeric_limits<float>::denorm_min());
  CHECK(q[0] == 127);
  CHECK(q[1] == -127);
}

TEST_CASE("quantize_q8: a zero block has scale 0, a non-finite one a NaN scale and zero quants") {
  float x[qk] = {};
  std::int8_t q[qk];
  CHECK(quantize_q8(x, q) == 0.0f);
  for (std::int8_t v : q) CHECK(v == 0);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    for (int i = 0; i < qk; ++i) x[i] = 0.25f * static_cast<float>(i);
    x[17] = bad;
    for (std::int8_t& v : q) v = 5;
    CHECK(std::isnan(quantize_q8(x, q)));
    int nonzero = 0;
    for (std::int8_t v : q) nonzero += v != 0;
    CHECK(nonzero == 0);
  }
}

TEST_CASE("quantize_activations quantises each block of each row, and refuses a ragged row length") {
  const int m = 3, cols = 96;
  std::vector<float> x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * (1.0f + i / 40);
  std::vector<std::int8_t> q(x.size());
  std::vector<float> d(x.size() / qk);
  quantize_activations(x.data(), m, cols, q.data(), d.data());
  int differ = 0;
  for (std::size_t b = 0; b < d.size(); ++b) {
    std::int8_t one[qk];
    differ += quantize_q8(x.data() + b * qk, one) != d[b];
    for (int i = 0; i < qk; ++i) differ += one[i] != q[b * qk + static_cast<std::size_t>(q8_stored(i))];
  }
  CHECK(differ == 0);
  CHECK_THROWS_WITH_AS(quantize_activations(x.data(), 1, 40, q.data(), d.data()),
                       doctest::Contains("multiple of 32"), Error);
}

TEST_CASE("8-bit activations are stored so that each weight slice's runs are one aligned load") {
  const int cols = 4 * qk;
  std::vector<int> seen(static_cast<std::size_t>(cols), 0);
  for (int c = 0; c < cols; ++c) {
    CHECK(q8_stored(c) / qk == c / qk);  // within its block
    ++seen[static_cast<std::size_t>(q8_stored(c))];
  }
  CHECK(std::count(seen.begin(), seen.end(), 1) == cols);  // a permutation
  // Q4_0: runs 0 and 1 of a slice are 16 contiguous bytes at a 16-byte boundary.
  for (int s = 0; s < cols / Slice<Q4_0>::values; ++s) {
    CAPTURE(s);
    const int at = q8_stored(Slice<Q4_0>::first(s, 0));
    CHECK(at == 16 * s);  // Q8Slices<Q4_0>::load's offset
    CHECK(q8_stored(Slice<Q4_0>::first(s, 1)) == at + q8_run);
    for (int k = 0; k < q8_run; ++k) {
      CHECK(q8_stored(Slice<Q4_0>::first(s, 0) + k) == at + k);
      CHECK(q8_stored(Slice<Q4_0>::first(s, 1) + k) == at + q8_run + k);
    }
  }
  // Q8_0: a slice's run is 8 contiguous bytes at an 8-byte boundary.
  for (int s = 0; s < cols / Slice<Q8_0>::values; ++s) {
    const int at = q8_stored(Slice<Q8_0>::first(s, 0));
    CHECK(at % 8 == 0);
    for (int k = 0; k < q8_run; ++k) CHECK(q8_stored(Slice<Q8_0>::first(s, 0) + k) == at + k);
  }
}

TEST_CASE("the Q8_0 weight quantiser is ggml's: quants rounded against the float scale, the scale stored as half") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  int differ = 0;
  for (int trial = 0; trial < 500; ++trial) {
    float x[qk];
    for (float& v : x) v = u(rng);
    block_q8_0 b;
    quantize_block(x, &b);
    float amax = 0.0f;
    for (float v : x) amax = std::fmax(amax, std::fabs(v));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    differ += b.d.bits != to_half(d).bits;
    for (int i = 0; i < qk; ++i) differ += b.qs[i] != static_cast<std::int8_t>(std::round(x[i] * id));
  }
  CHECK(differ == 0);
}
