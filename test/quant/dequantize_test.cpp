// Block layouts checked from raw little-endian bytes (ggml compatibility), and the quantize -> dequantize
// round trip of every storage type against error bounds derived from the format.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <skippy/core/error.hpp>
#include <skippy/quant/dequantize.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/types.hpp>
#include <vector>

using namespace skippy;
using namespace skippy::quant;

namespace {

// binary16 value of a bit pattern, from the format's definition.
double half_value(std::uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  if (e == 0x1f) return m == 0 ? sign * INFINITY : NAN;
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -24);
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}

double bf16_value(std::uint16_t b) {
  const double sign = (b & 0x8000u) ? -1.0 : 1.0;
  const int e = (b >> 7) & 0xff;
  const int m = b & 0x7f;
  if (e == 0xff) return m == 0 ? sign * INFINITY : NAN;
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -133);
  return sign * std::ldexp(1.0 + m / 128.0, e - 127);
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xffu));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

template <class Block>
std::vector<Block> from_bytes(const std::vector<std::uint8_t>& bytes) {
  REQUIRE(bytes.size() % sizeof(Block) == 0);
  std::vector<Block> blocks(bytes.size() / sizeof(Block));
  std::memcpy(blocks.data(), bytes.data(), bytes.size());
  return blocks;
}

// Half scales exercising the edges: zero, negative zero, smallest and largest subnormal, smallest normal,
// one, max finite, negatives.
const std::uint16_t edge_scales[] = {0x0000u, 0x8000u, 0x0001u, 0x03ffu, 0x0400u, 0x3c00u,
                                     0x7bffu, 0xfbffu, 0x8001u, 0xbc00u, 0x2e66u, 0xa123u};

std::mt19937 rng(20240611u);

}  // namespace

TEST_CASE("layout: F32 row from little-endian bytes") {
  const std::uint32_t patterns[] = {0x00000000u, 0x80000000u, 0x3f800000u, 0xc0490fdbu,
                                    0x00000001u, 0x7f7fffffu, 0x12345678u, 0xbf000000u};
  std::vector<std::uint8_t> bytes;
  for (std::uint32_t p : patterns)
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<std::uint8_t>(p >> (8 * k)));
  const auto row = from_bytes<F32::block>(bytes);
  std::vector<float> out(row.size());
  dequantize_row<F32>(row.data(), out.data(), static_cast<int>(out.size()));
  for (std::size_t i = 0; i < row.size(); ++i) {
    std::uint32_t got;
    std::memcpy(&got, &out[i], 4);
    CHECK(got == patterns[i]);
    CHECK(dequantize(row[i], 0) == out[i]);
  }
  CHECK(row_bytes<F32>(64) == 256);
}

TEST_CASE("layout: F16 and BF16 rows from little-endian bytes, every bit pattern") {
  std::vector<std::uint8_t> bytes;
  for (std::uint32_t b = 0; b < 0x10000u; ++b) put_u16(bytes, static_cast<std::uint16_t>(b));
  const auto h = from_bytes<F16::block>(bytes);
  const auto bf = from_bytes<BF16::block>(bytes);
  std::vector<float> out_h(h.size()), out_bf(bf.size());
  dequantize_row<F16>(h.data(), out_h.data(), static_cast<int>(h.size()));
  dequantize_row<BF16>(bf.data(), out_bf.data(), static_cast<int>(bf.size()));
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const double wh = half_value(static_cast<std::uint16_t>(b));
    const double wb = bf16_value(static_cast<std::uint16_t>(b));
    if (std::isnan(wh))
      REQUIRE(std::isnan(out_h[b]));
    else
      REQUIRE(static_cast<double>(out_h[b]) == wh);
    if (std::isnan(wb))
      REQUIRE(std::isnan(out_bf[b]));
    else
      REQUIRE(static_cast<double>(out_bf[b]) == wb);
  }
  CHECK(row_bytes<F16>(64) == 128);
  CHECK(row_bytes<BF16>(64) == 128);
}

TEST_CASE("layout: F8_E4M3 rows from bytes, every bit pattern (1 sign, 4 exponent bits biased by 7, 3 mantissa bits)") {
  std::vector<std::uint8_t> bytes;
  for (int rep = 0; rep < 2; ++rep)
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<std::uint8_t>(b));
  const auto row = from_bytes<F8_E4M3::block>(bytes);
  std::vector<float> out(row.size());
  dequantize_row<F8_E4M3>(row.data(), out.data(), static_cast<int>(out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int b = static_cast<int>(i % 256), e = (b >> 3) & 0xf, m = b & 7;
    CAPTURE(b);
    if (e == 0xf && m == 7) {
      CHECK(std::isnan(out[i]));
      continue;
    }
    const double mag = e == 0 ? std::ldexp(m, -9) : std::ldexp(1.0 + m / 8.0, e - 7);
    CHECK(static_cast<double>(out[i]) == ((b & 0x80) ? -mag : mag));
  }
  CHECK(row_bytes<F8_E4M3>(64) == 64);
}

TEST_CASE("layout: Q8_0 blocks from bytes (fp16 scale, then 32 int8 quants)") {
  // One block per edge scale, quants covering -128..127 (four blocks' worth cycled through).
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint16_t> scales;
  std::vector<int> quants;
  int next_q = -128;
  for (int rep = 0; rep < 3; ++rep)
    for (std::uint16_t d : edge_scales) {
      scales.push_back(d);
      put_u16(bytes, d);
      for (int i = 0; i < qk; ++i) {
        const int q = next_q;
        next_q = next_q == 127 ? -128 : next_q + 1;
        quants.push_back(q);
        bytes.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(q)));
      }
    }
  REQUIRE(bytes.size() == scales.size() * 34);
  const auto blocks = from_bytes<block_q8_0>(bytes);
  std::vector<float> row(blocks.size() * qk);
  dequantize_row<Q8_0>(blocks.data(), row.data(), static_cast<int>(row.size()));
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (int i = 0; i < qk; ++i) {
      const int q = quants[b * qk + static_cast<std::size_t>(i)];
      // half (11 bits) times an 8-bit integer is exact in binary32, so the product is compared exactly
      const double want = half_value(scales[b]) * q;
      INFO("block " << b << " element " << i << " q " << q);
      REQUIRE(static_cast<double>(dequantize(blocks[b], i)) == want);
      REQUIRE(static_cast<double>(row[b * qk + static_cast<std::size_t>(i)]) == want);
    }
  // The extremes really were covered.
  const double big = half_value(0x7bffu) * -128.0;
  CHECK(big == -8384512.0);
  CHECK(row_bytes<Q8_0>(4096) == 4096 / 32 * 34);
}

TEST_CASE("layout: Q4_0 blocks from bytes (fp16 scale, element j low nibble / j+16 high nibble of byte j)") {
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint16_t> scales;
  std::vector<std::uint8_t> qbytes;
  for (int rep = 0; rep < 4; ++rep)
    for (std::uint16_t d : edge_scales) {
      scales.push_back(d);
      put_u16(bytes, d);
      for (int j = 0; j < qk / 2; ++j) {
        std::uint8_t v;
        if (rep == 0)
          v = static_cast<std::uint8_t>(j | ((15 - j) << 4));  // all nibble values, both halves
        else if (rep == 1)
          v = (j & 1) ? 0xf0u : 0x0fu;  // nibbles 0 and 15
        else
          v = static_cast<std::uint8_t>(rng());
        qbytes.push_back(v);
        bytes.push_back(v);
      }
    }
  const auto blocks = from_bytes<block_q4_0>(bytes);
  REQUIRE(blocks.size() == scales.size());
  std::vector<float> row(blocks.size() * qk);
  dequantize_row<Q4_0>(blocks.data(), row.data(), static_cast<int>(row.size()));
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (int i = 0; i < qk; ++i) {
      const std::uint8_t byte = qbytes[b * (qk / 2) + static_cast<std::size_t>(i % (qk / 2))];
      const int nibble = i < qk / 2 ? (byte & 0x0f) : (byte >> 4);
      const double want = half_value(scales[b]) * (nibble - 8);
      INFO("block " << b << " element " << i << " nibble " << nibble);
      REQUIRE(q4_0_value(blocks[b], i) == nibble - 8);
      REQUIRE(static_cast<double>(dequantize(blocks[b], i)) == want);
      REQUIRE(static_cast<double>(row[b * qk + static_cast<std::size_t>(i)]) == want);
    }
  CHECK(row_bytes<Q4_0>(4096) == 4096 / 32 * 18);
}

namespace {

// Test rows: several blocks with different magnitudes, signs of the extreme, outliers, exact ties.
std::vector<float> test_row(int blocks) {
  std::vector<float> x;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const float scales[] = {1.0f, 1e-3f, 37.5f, 1e-6f, 2000.0f, 0.25f};
  for (int b = 0; b < blocks; ++b) {
    const float s = scales[b % 6];
    for (int i = 0; i < qk; ++i) x.push_back(s * u(rng));
    if (b % 3 == 1) x[x.size() - 1 - static_cast<std::size_t>(b % qk)] = -8.0f * s;  // negative outlier
    if (b % 3 == 2) x[x.size() - 5] = 9.0f * s;                                      // positive outlier
  }
  return x;
}

double half_ulp_half(double x) {  // half an ulp of binary16 at |x|
  const double a = std::fabs(x);
  if (a < std::ldexp(1.0, -14)) return std::ldexp(1.0, -25);
  return std::ldexp(1.0, std::ilogb(a) - 11);
}

double half_ulp_bf16(double x) {
  const double a = std::fabs(x);
  if (a < std::ldexp(1.0, -126)) return std::ldexp(1.0, -134);
  return std::ldexp(1.0, std::ilogb(a) - 8);
}

}  // namespace

TEST_CASE("quantize_row -> dequantize: F32 exact, F16/BF16 within half an ulp") {
  std::vector<float> x = test_row(12);
  x.push_back(0.0f);
  x.push_back(-0.0f);
  x.push_back(65504.0f);
  x.push_back(std::ldexp(1.0f, -24));
  const std::size_t n = x.size();
  std::vector<float> f32(n), back(n);
  std::vector<half_t> h(n);
  std::vector<bf16_t> bf(n);
  quantize_row<F32>(x.data(), f32.data(), n);
  quantize_row<F16>(x.data(), h.data(), n);
  quantize_row<BF16>(x.data(), bf.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(f32[i] == x[i]);
    const double eh = std::fabs(static_cast<double>(dequantize(h[i], 0)) - x[i]);
    const double eb = std::fabs(static_cast<double>(dequantize(bf[i], 0)) - x[i]);
    INFO("x = " << x[i]);
    CHECK(eh <= half_ulp_half(x[i]));
    CHECK(eb <= half_ulp_bf16(x[i]));
  }
}

// E4M3 spacing: 2^-9 below 2^-6, 2^(e-3) in [2^e, 2^(e+1)). Rounding to nearest is within half of it;
// past 448 the value is clipped.
TEST_CASE("quantize_row -> dequantize: F8_E4M3 within half its spacing, clipped at +-448") {
  std::vector<float> x = test_row(7);
  for (float v : {0.0f, -0.0f, 448.0f, -448.0f, 500.0f, -1e6f, 0.001f, -0.0009765625f, 2.5e-4f})
    x.push_back(v);
  while (x.size() % 32 != 0) x.push_back(0.5f);
  std::vector<fp8_e4m3_t> q(x.size());
  quantize_row<F8_E4M3>(x.data(), q.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = std::fabs(static_cast<double>(x[i])), back = dequantize(q[i], 0);
    INFO("x = " << x[i]);
    if (a >= 448.0) {
      CHECK(back == std::copysign(448.0, x[i]));
      continue;
    }
    const double spacing = a < std::ldexp(1.0, -6) ? std::ldexp(1.0, -9) : std::ldexp(1.0, std::ilogb(a) - 3);
    CHECK(std::fabs(back - x[i]) <= spacing / 2);
    CHECK(std::signbit(back) == std::signbit(x[i]));
  }
}

TEST_CASE("quantize_row -> dequantize: Q8_0 error <= d/2 per element") {
  const int nb = 24;
  const std::vector<float> x = test_row(nb);
  std::vector<block_q8_0> q(nb);
  quantize_row<Q8_0>(x.data(), q.data(), x.size());
  for (int b = 0; b < nb; ++b) {
    const float* xb = x.data() + b * qk;
    double amax = 0;
    for (int i = 0; i < qk; ++i) amax = std::fmax(amax, std::fabs(static_cast<double>(xb[i])));
    const double d_ref = amax / 127.0;  // ggml's scale before storage
    const double d = half_value(q[b].d.bits);
    CHECK(d >= 0.0);
    CHECK(std::fabs(d - d_ref) <= half_ulp_half(d_ref) * 1.0001 + 1e-12 * d_ref);
    // |x - q*d| <= |x - q*d_ref| + |q| |d_ref - d| <= d_ref/2 + 127 |d_ref - d|
    const double bound = d_ref / 2 + 127.0 * std::fabs(d_ref - d) + 1e-6 * amax;
    for (int i = 0; i < qk; ++i) {
      const double err = std::fabs(static_cast<double>(dequantize(q[b], i)) - xb[i]);
      INFO("block " << b << " element " << i << " x " << xb[i] << " d " << d);
      CHECK(err <= bound);
      // and the tighter statement about the quant itself: q = round(x / d_ref) up to float noise
      CHECK(std::fabs(q[b].qs[i] - xb[i] / d_ref) <= 0.5 + 1e-5);
    }
  }
}

TEST_CASE("quantize_row -> dequantize: Q4_0 error <= |d|, extreme maps to nibble 0 (-8 d == max)") {
  const int nb = 24;
  std::vector<float> x = test_row(nb);
  // A block where the opposite extreme is exactly -max: +8 must clamp to nibble 15 (value 7 d).
  for (int i = 0; i < qk; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i % 17) - 8.0f;  // -8..8
  std::vector<block_q4_0> q(nb);
  quantize_row<Q4_0>(x.data(), q.data(), x.size());
  for (int b = 0; b < nb; ++b) {
    const float* xb = x.data() + b * qk;
    int imax = 0;
    for (int i = 1; i < qk; ++i)
      if (std::fabs(xb[i]) > std::fabs(xb[imax])) imax = i;  // first largest magnitude, as ggml
    const double mx = xb[imax];
    const double d_ref = mx / -8.0;
    const double d = half_value(q[b].d.bits);
    INFO("block " << b << " max " << mx << " d " << d);
    CHECK(std::fabs(d - d_ref) <= half_ulp_half(d_ref) * 1.0001);
    CHECK(std::signbit(d) != std::signbit(mx));  // scale sign opposite to the extreme
    CHECK(q4_0_value(q[b], imax) == -8);         // nibble 0
    CHECK(std::fabs(-8.0 * d - mx) <= 8.0 * std::fabs(d - d_ref) + 1e-7 * std::fabs(mx));
    const double bound = std::fabs(d_ref) + 8.0 * std::fabs(d_ref - d) + 1e-6 * std::fabs(mx);
    for (int i = 0; i < qk; ++i) {
      const double err = std::fabs(static_cast<double>(dequantize(q[b], i)) - xb[i]);
      INFO("element " << i << " x " << xb[i]);
      CHECK(err <= bound);
      const int v = q4_0_value(q[b], i);
      CHECK(v >= -8);
      CHECK(v <= 7);
      // Unclamped values round to the nearest level: |x / d_ref - v| <= 1/2 (float noise aside), so the
      // error is within half a step there; only x / d_ref > 7.5 (opposite sign to the extreme) clamps.
      if (d_ref != 0.0 && xb[i] / d_ref < 7.5 - 1e-4) {
        CHECK(std::fabs(xb[i] / d_ref - v) <= 0.5 + 1e-5);
        CHECK(err <= std::fabs(d_ref) / 2 + 8.0 * std::fabs(d_ref - d) + 1e-6 * std::fabs(mx));
      }
    }
  }
  // The hand-made block: d = 1 exactly, -8..7 exact, +8 clamps to 7.
  CHECK(half_value(q[0].d.bits) == 1.0);
  for (int i = 0; i < qk; ++i) {
    const double xi = static_cast<double>(i % 17) - 8.0;
    CHECK(static_cast<double>(dequantize(q[0], i)) == std::fmin(xi, 7.0));
  }
}

// ggml's reference rule in the cases where plausible variants differ: levels are trunc(x / d + 8.5), so a
// value half-way between two levels goes up (round-half-even would send 0.5 d to level 0, -1.5 d to -2),
// and between extremes of equal magnitude the first one sets the scale's sign.
TEST_CASE("quantize_row: Q4_0 rounds half-way values up and takes the first of equal extremes") {
  std::vector<float> x(2 * qk, 0.0f);
  x[0] = -8.0f;  // d = 1 exactly
  const float halves[] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 6.5f, -7.5f, 7.5f};
  const int levels[] = {1, 0, 2, -1, 3, -2, 7, -7, 7};  // 7.5 clamps
  for (int i = 0; i < 9; ++i) x[static_cast<std::size_t>(1 + i)] = halves[i];
  x[qk + 3] = 4.0f;  // second block: +4 then -4, equal magnitudes
  x[qk + 20] = -4.0f;
  std::vector<block_q4_0> q(2);
  quantize_row<Q4_0>(x.data(), q.data(), x.size());
  CHECK(q[0].d.bits == 0x3c00u);  // 1.0
  for (int i = 0; i < 9; ++i) {
    INFO("x = " << halves[i]);
    CHECK(q4_0_value(q[0], 1 + i) == levels[i]);
  }
  CHECK(q[1].d.bits == 0xb800u);  // -0.5: the +4 came first
  CHECK(q4_0_value(q[1], 3) == -8);
  CHECK(q4_0_value(q[1], 20) == 7);  // -4 / -0.5 = 8 clamps to 7
  std::swap(x[qk + 3], x[qk + 20]);
  quantize_row<Q4_0>(x.data(), q.data(), x.size());
  CHECK(q[1].d.bits == 0x3800u);  // +0.5: now the -4 comes first
  CHECK(q4_0_value(q[1], 3) == -8);
}

TEST_CASE("quantize_row: a Q4_0 block holding a NaN or an infinity reads back NaN, as Q8_0's does") {
  constexpr float inf = std::numeric_limits<float>::infinity();
  for (const float bad : {std::nanf(""), inf, -inf}) {
    INFO("bad value " << bad);
    std::vector<float> x(2 * qk);
    for (int i = 0; i < 2 * qk; ++i) x[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i % 5);
    x[3] = bad;  // the first block only
    std::vector<block_q4_0> q(2);
    quantize_row<Q4_0>(x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_row<Q4_0>(q.data(), y.data(), y.size());
    for (int i = 0; i < qk; ++i) CHECK(std::isnan(y[static_cast<std::size_t>(i)]));
    for (std::size_t i = qk; i < 2 * qk; ++i) CHECK(std::fabs(y[i] - x[i]) <= 0.125f);
  }
  // A block whose scale overflows 1 / d (|max| below 8 / FLT_MAX): quants of level 0, no undefined conversion
  // (-fsanitize=float-cast-overflow reported one), and values 0 as the half scale is 0.
  std::vector<float> tiny(qk);
  for (int i = 0; i < qk; ++i) tiny[static_cast<std::size_t>(i)] = 1e-40f * static_cast<float>(i - 16);
  block_q4_0 t;
  quantize_row<Q4_0>(tiny.data(), &t, qk);
  for (int i = 0; i < qk; ++i) CHECK(q4_0_value(t, i) == 0);
  CHECK((t.d.bits & 0x7fffu) == 0u);
}

TEST_CASE("quantize_row: all-zero block gives zeros for every type") {
  const std::vector<float> z(64, 0.0f);
  std::vector<float> out(64, 1.0f);
  std::vector<block_q8_0> q8(2);
  std::vector<block_q4_0> q4(2);
  std::vector<half_t> h(64);
  std::vector<bf16_t> bf(64);
  quantize_row<Q8_0>(z.data(), q8.data(), 64);
  quantize_row<Q4_0>(z.data(), q4.data(), 64);
  quantize_row<F16>(z.data(), h.data(), 64);
  quantize_row<BF16>(z.data(), bf.data(), 64);
  dequantize_row<Q8_0>(q8.data(), out.data(), 64);
  for (float v : out) CHECK(v == 0.0f);
  std::fill(out.begin(), out.end(), 1.0f);
  dequantize_row<Q4_0>(q4.data(), out.data(), 64);
  for (float v : out) CHECK(v == 0.0f);
  for (int i = 0; i < 64; ++i) {
    CHECK(dequantize(h[static_cast<std::size_t>(i)], 0) == 0.0f);
    CHECK(dequantize(bf[static_cast<std::size_t>(i)], 0) == 0.0f);
    CHECK(std::isfinite(dequantize(q8[static_cast<std::size_t>(i / 32)], i % 32)));
  }
}

TEST_CASE("quantize_row rejects a row length that is not a multiple of the block size") {
  const std::vector<float> x(96, 0.5f);
  std::vector<block_q8_0> q8(3);
  std::vector<block_q4_0> q4(3);
  for (std::size_t n : {1u, 31u, 33u, 63u, 95u}) {
    CHECK_THROWS_AS(quantize_row<Q8_0>(x.data(), q8.data(), n), skippy::Error);
    CHECK_THROWS_AS(quantize_row<Q4_0>(x.data(), q4.data(), n), skippy::Error);
  }
  CHECK_NOTHROW(quantize_row<Q8_0>(x.data(), q8.data(), 96));
  CHECK_NOTHROW(quantize_row<Q4_0>(x.data(), q4.data(), 64));
  std::vector<float> f(33);
  CHECK_NOTHROW(quantize_row<F32>(x.data(), f.data(), 33));  // block size 1: any length
}
