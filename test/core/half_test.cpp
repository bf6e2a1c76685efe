// half_t / bf16_t conversions: exhaustive over binary16, compared with an independent value formula and
// with the compiler's own binary16 conversion (_Float16) on a wide sweep of binary32 inputs.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <skippy/core/half.hpp>
#include <string>

#include "../support/hex.hpp"

using namespace skippy;

namespace {

using test::hex;

// Value of a binary16 bit pattern from the format's definition, in double.
double half_value(std::uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  if (e == 0x1f) return m == 0 ? sign * INFINITY : NAN;
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -24);
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}

bool half_is_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool bf16_is_nan(std::uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0; }

#if defined(__FLT16_MAX__)
std::uint16_t ref_half_bits(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  std::uint16_t b;
  std::memcpy(&b, &h, sizeof b);
  return b;
}
#endif

// Reference float -> binary16 by exhaustive nearest search in double (ties to even mantissa), no NaN.
std::uint16_t nearest_half(float f) {
  const double x = f;
  const std::uint16_t sign = std::signbit(f) ? 0x8000u : 0u;
  const double a = std::fabs(x);
  // 65504 + half an ulp (16) = 65520: at or above rounds to infinity (tie goes to the even "next" value).
  if (a >= 65520.0) return static_cast<std::uint16_t>(sign | 0x7c00u);
  std::uint16_t best = 0;
  double best_err = INFINITY;
  for (std::uint16_t m = 0; m <= 0x7bffu; ++m) {
    const double err = std::fabs(half_value(m) - a);
    if (err < best_err || (err == best_err && (m & 1u) == 0)) {
      best_err = err;
      best = m;
    }
  }
  return static_cast<std::uint16_t>(sign | best);
}

}  // namespace

TEST_CASE("half: to_float matches the binary16 definition for all 65536 patterns") {
  int checked = 0;
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const std::uint16_t h = static_cast<std::uint16_t>(b);
    const float f = to_float(half_t{h});
    if (half_is_nan(h)) {
      REQUIRE(std::isnan(f));
      continue;
    }
    const double want = half_value(h);
    if (static_cast<double>(f) != want) FAIL("to_float(" << hex(b) << ") = " << f << ", want " << want);
    // signed zero is preserved
    REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
    ++checked;
  }
  CHECK(checked == 65536 - 2 * 1023);
}

TEST_CASE("half: any_half_nan finds a NaN in either half of a word, beside any other half") {
  const std::uint16_t others[] = {0x0000u, 0x03ffu, 0x7bffu, 0x7c00u, 0x7c01u,
                                  0x7fffu, 0x8000u, 0xfc00u, 0xfc01u, 0xffffu};
  for (std::uint32_t h = 0; h < 0x10000u; ++h)
    for (const std::uint16_t o : others) {
      const bool expected = half_is_nan(static_cast<std::uint16_t>(h)) || half_is_nan(o);
      REQUIRE(any_half_nan(h | static_cast<std::uint32_t>(o) << 16) == expected);
      REQUIRE(any_half_nan(o | h << 16) == expected);
    }
}

TEST_CASE("half: to_half(to_float(h)) == h for every non-NaN pattern; NaN stays NaN") {
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const std::uint16_t h = static_cast<std::uint16_t>(b);
    const std::uint16_t back = to_half(to_float(half_t{h})).bits;
    if (half_is_nan(h)) {
      REQUIRE(half_is_nan(back));
      REQUIRE((back & 0x8000u) == (h & 0x8000u));
    } else if (back != h) {
      FAIL("round trip of " << hex(b) << " gave " << hex(back));
    }
  }
}

TEST_CASE("half: float -> half rounding, explicit cases") {
  auto bits = [](float f) { return to_half(f).bits; };
  CHECK(bits(0.0f) == 0x0000u);
  CHECK(bits(-0.0f) == 0x8000u);
  CHECK(bits(1.0f) == 0x3c00u);
  CHECK(bits(65504.0f) == 0x7bffu);
  CHECK(bits(65519.99f) == 0x7bffu);
  CHECK(bits(65520.0f) == 0x7c00u);  // exactly half an ulp above max: tie to even goes to infinity
  CHECK(bits(-65520.0f) == 0xfc00u);
  CHECK(bits(1e10f) == 0x7c00u);
  CHECK(bits(INFINITY) == 0x7c00u);
  CHECK(bits(-INFINITY) == 0xfc00u);
  CHECK(half_is_nan(bits(NAN)));
  CHECK(half_is_nan(bits(-NAN)));
  // Ties between adjacent halfs around 1.0: ulp(1) = 2^-10.
  CHECK(bits(1.0f + std::ldexp(1.0f, -11)) == 0x3c00u);                        // tie -> even (down)
  CHECK(bits(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02u);                    // tie -> even (up)
  CHECK(bits(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)) == 0x3c01u);  // just above a tie
  // Subnormal results: unit 2^-24.
  CHECK(bits(std::ldexp(1.0f, -24)) == 0x0001u);
  CHECK(bits(std::ldexp(1.0f, -25)) == 0x0000u);  // tie -> 0 (even)
  CHECK(bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001u);
  CHECK(bits(-std::ldexp(1.0f, -25)) == 0x8000u);                         // signed zero
  CHECK(bits(std::ldexp(3.0f, -25)) == 0x0002u);                          // 1.5 units -> 2
  CHECK(bits(std::ldexp(5.0f, -25)) == 0x0002u);                          // 2.5 units -> 2
  CHECK(bits(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)) == 0x0400u);  // 1023.5 units -> 1024
  CHECK(bits(std::ldexp(1.0f, -40)) == 0x0000u);
}

TEST_CASE("half: float -> half agrees with an exhaustive nearest-even search on sampled inputs") {
  // Slow reference (65536 candidates per input), so a small spread of magnitudes across the range.
  std::uint32_t state = 12345u;
  for (int t = 0; t < 60; ++t) {
    state = state * 1664525u + 1013904223u;
    // exponents from 2^-26 to 2^16 (float exponent field 101..143)
    const std::uint32_t exp = 101u + (state >> 8) % 43u;
    const std::uint32_t u = ((state & 1u) << 31) | (exp << 23) | ((state * 2654435761u) & 0x7fffffu);
    const float f = bits_float(u);
    CHECK_MESSAGE(to_half(f).bits == nearest_half(f), "input bits " << hex(u));
  }
}

#if defined(__FLT16_MAX__)
TEST_CASE("half: float -> half agrees with _Float16 on a sweep of float bit patterns") {
  long mismatches = 0;
  std::uint32_t first_bad = 0;
  auto check = [&](std::uint32_t u) {
    const float f = bits_float(u);
    const std::uint16_t got = to_half(f).bits;
    if (std::isnan(f)) {
      if (!half_is_nan(got) || (got & 0x8000u) != ((u >> 16) & 0x8000u)) {
        if (mismatches++ == 0) first_bad = u;
      }
      return;
    }
    if (got != ref_half_bits(f)) {
      if (mismatches++ == 0) first_bad = u;
    }
  };
  for (std::uint64_t u = 0; u <= 0xffffffffull; u += 997) check(static_cast<std::uint32_t>(u));
  // Every float in the range where binary16 rounding is delicate: around the subnormal/normal boundary,
  // the overflow threshold, and all half-way points of a few binades (ties), both signs.
  const std::uint32_t windows[][2] = {
      {0x33000000u - 64u, 0x33000000u + 64u},  // 2^-25 (half the smallest subnormal)
      {0x387fc000u, 0x38804000u},              // around 2^-14 (largest subnormal -> smallest normal)
      {0x477fe000u, 0x47801000u},              // around 65504 .. 65536
      {0x3f800000u, 0x3f900000u},              // [1, 1.125): every float, including every tie
  };
  for (const auto& w : windows)
    for (std::uint32_t u = w[0]; u < w[1]; ++u) {
      check(u);
      check(u | 0x80000000u);
    }
  CHECK_MESSAGE(mismatches == 0, "first mismatch at float bits " << hex(first_bad));
}
#endif

TEST_CASE("bf16: to_float is exact (upper 16 bits of the float)") {
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const std::uint16_t h = static_cast<std::uint16_t>(b);
    const float f = to_float(bf16_t{h});
    if (bf16_is_nan(h)) {
      REQUIRE(std::isnan(f));
      continue;
    }
    // independent value: sign * 2^(e-127) * (1 + m/128), subnormal m * 2^-133
    const double sign = (h & 0x8000u) ? -1.0 : 1.0;
    const int e = (h >> 7) & 0xff;
    const int m = h & 0x7f;
    double want;
    if (e == 0xff)
      want = sign * INFINITY;
    else if (e == 0)
      want = sign * std::ldexp(static_cast<double>(m), -133);
    else
      want = sign * std::ldexp(1.0 + m / 128.0, e - 127);
    REQUIRE(static_cast<double>(f) == want);
    REQUIRE(to_bf16(f).bits == h);  // round trip
  }
}

TEST_CASE("bf16: to_bf16 rounds to nearest, ties to even; NaN stays NaN") {
  // For many bf16 values b (even and odd mantissas), build the float halfway to the next bf16 value.
  std::uint32_t state = 777u;
  for (int t = 0; t < 20000; ++t) {
    state = state * 1664525u + 1013904223u;
    std::uint16_t b = static_cast<std::uint16_t>(state >> 16);
    if (((b >> 7) & 0xffu) >= 0xfeu) continue;  // skip inf/NaN and the top binade (its next may be inf)
    const std::uint32_t lo = static_cast<std::uint32_t>(b) << 16;
    const std::uint32_t tie = lo | 0x8000u;  // exactly half-way between b and b + 1 (in magnitude)
    const std::uint16_t even = (b & 1u) ? static_cast<std::uint16_t>(b + 1u) : b;
    REQUIRE(to_bf16(bits_float(tie)).bits == even);
    REQUIRE(to_bf16(bits_float(tie - 1u)).bits == b);                                   // just below: down
    REQUIRE(to_bf16(bits_float(tie + 1u)).bits == static_cast<std::uint16_t>(b + 1u));  // just above: up
    REQUIRE(to_bf16(bits_float(lo)).bits == b);                                         // exact
    REQUIRE(to_bf16(bits_float(lo | 0x7fffu)).bits == b);
    // the rounded value is the nearest bf16 in double
    const float f = bits_float(lo + (state & 0xffffu));
    const float r = to_float(to_bf16(f));
    const double err = std::fabs(static_cast<double>(r) - f);
    const double alt1 = std::fabs(static_cast<double>(to_float(bf16_t{b})) - f);
    const double alt2 = std::fabs(static_cast<double>(to_float(bf16_t{static_cast<std::uint16_t>(b + 1u)})) - f);
    REQUIRE(err <= alt1);
    REQUIRE(err <= alt2);
  }
  // Largest finite bf16 rounds to infinity at and above its tie point.
  CHECK(to_bf16(bits_float(0x7f7f8000u)).bits == 0x7f80u);  // tie at max (odd mantissa 0x7f) -> even: inf
  CHECK(to_bf16(bits_float(0x7f7f7fffu)).bits == 0x7f7fu);
  CHECK(to_bf16(-0.0f).bits == 0x8000u);
  CHECK(to_bf16(INFINITY).bits == 0x7f80u);
  // NaN, including payloads that would round into the infinity pattern if treated as numbers.
  for (std::uint32_t u : {0x7fc00000u, 0x7f800001u, 0x7f808000u, 0xff800001u, 0x7fffffffu, 0xffc00000u}) {
    const std::uint16_t r = to_bf16(bits_float(u)).bits;
    CHECK_MESSAGE(bf16_is_nan(r), "NaN " << hex(u) << " -> " << hex(r));
    CHECK((r & 0x8000u) == ((u >> 16) & 0x8000u));
  }
}
