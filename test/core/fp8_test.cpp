// fp8_e4m3_t conversions: decoding exhaustive over the 256 codes against the format's definition;
// encoding against a nearest-even search over the codes, at every tie between neighbouring codes and
// just beside it, and on a sweep of binary32 bit patterns across the whole range.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <skippy/core/fp8.hpp>
#include <string>

#include "../support/hex.hpp"

using namespace skippy;

namespace {

using test::hex;

bool fp8_is_nan(std::uint8_t c) { return (c & 0x7fu) == 0x7fu; }

// Value of a code from the definition: bias 7, subnormals m * 2^-9, S.1111.111 NaN.
double fp8_value(std::uint8_t c) {
  const double sign = (c & 0x80u) ? -1.0 : 1.0;
  const int e = (c >> 3) & 0xf, m = c & 7;
  if (e == 0xf && m == 7) return NAN;
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -9);
  return sign * std::ldexp(1.0 + m / 8.0, e - 7);
}

// The non-negative finite values, ascending: code c (0..0x7e) is at index c.
const std::array<double, 0x7f>& magnitudes() {
  static const std::array<double, 0x7f> v = [] {
    std::array<double, 0x7f> a{};
    for (int c = 0; c < 0x7f; ++c) a[static_cast<std::size_t>(c)] = fp8_value(static_cast<std::uint8_t>(c));
    return a;
  }();
  return v;
}

// Nearest code, ties to the even code (even mantissa), magnitudes past 448 clipped to 448; NaN to NaN.
std::uint8_t nearest_fp8(float f) {
  const std::uint8_t sign = std::signbit(f) ? 0x80u : 0u;
  if (std::isnan(f)) return static_cast<std::uint8_t>(sign | 0x7fu);
  const double a = std::fabs(static_cast<double>(f));
  const auto& v = magnitudes();
  if (a >= v.back()) return static_cast<std::uint8_t>(sign | 0x7eu);
  const auto hi = static_cast<int>(std::upper_bound(v.begin(), v.end(), a) - v.begin());  // v[hi - 1] <= a < v[hi]
  const int lo = hi - 1;
  const double dl = a - v[static_cast<std::size_t>(lo)], dh = v[static_cast<std::size_t>(hi)] - a;
  const int c = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi);
  return static_cast<std::uint8_t>(sign | c);
}

void check_encode(float f) {
  const std::uint8_t got = to_fp8_e4m3(f).bits, want = nearest_fp8(f);
  if (got != want)
    FAIL("to_fp8_e4m3(" << f << " = " << hex(float_bits(f)) << ") = " << hex(got) << ", want " << hex(want));
}

}  // namespace

TEST_CASE("fp8 e4m3: to_float matches the format's definition for all 256 codes") {
  int finite = 0;
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    const float f = to_float(fp8_e4m3_t{code});
    CAPTURE(hex(static_cast<std::uint32_t>(c)));
    if (fp8_is_nan(code)) {
      CHECK(std::isnan(f));
      continue;
    }
    CHECK(static_cast<double>(f) == fp8_value(code));
    CHECK(std::signbit(f) == ((c & 0x80) != 0));  // signed zero too
    ++finite;
  }
  CHECK(finite == 254);
  CHECK(to_float(fp8_e4m3_t{0x7e}) == fp8_e4m3_max);
  CHECK(to_float(fp8_e4m3_t{0x01}) == std::ldexp(1.0f, -9));  // smallest subnormal
  CHECK(to_float(fp8_e4m3_t{0x08}) == std::ldexp(1.0f, -6));  // smallest normal
}

TEST_CASE("fp8 e4m3: every finite code encodes back to itself; NaN stays NaN with its sign") {
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    const std::uint8_t back = to_fp8_e4m3(to_float(fp8_e4m3_t{code})).bits;
    CAPTURE(hex(static_cast<std::uint32_t>(c)));
    CHECK(back == code);  // a NaN code is S.1111.111, what a NaN of that sign encodes to
  }
  CHECK(to_fp8_e4m3(std::numeric_limits<float>::quiet_NaN()).bits == 0x7f);
  CHECK(to_fp8_e4m3(-std::numeric_limits<float>::quiet_NaN()).bits == 0xff);
}

TEST_CASE("fp8 e4m3: ties between neighbouring codes go to the even code, values beside them to the nearer") {
  const auto& v = magnitudes();
  int ties = 0;
  for (std::size_t c = 0; c + 1 < v.size(); ++c) {
    const auto mid = static_cast<float>((v[c] + v[c + 1]) / 2);  // exact in binary32
    REQUIRE(static_cast<double>(mid) == (v[c] + v[c + 1]) / 2);
    const auto even = static_cast<std::uint8_t>(c % 2 == 0 ? c : c + 1);
    CAPTURE(mid);
    CHECK(to_fp8_e4m3(mid).bits == even);
    CHECK(to_fp8_e4m3(-mid).bits == (0x80u | even));
    CHECK(to_fp8_e4m3(std::nextafter(mid, 0.0f)).bits == c);
    CHECK(to_fp8_e4m3(std::nextafter(mid, 1000.0f)).bits == c + 1);
    ++ties;
  }
  CHECK(ties == 126);
}

TEST_CASE("fp8 e4m3: saturation at 448, zero and the bottom of the subnormal range") {
  auto bits = [](float f) { return to_fp8_e4m3(f).bits; };
  CHECK(bits(448.0f) == 0x7e);
  CHECK(bits(463.99f) == 0x7e);
  CHECK(bits(464.0f) == 0x7e);  // would round to 480, which the format has not: clipped
  CHECK(bits(1e30f) == 0x7e);
  CHECK(bits(std::numeric_limits<float>::infinity()) == 0x7e);
  CHECK(bits(-std::numeric_limits<float>::infinity()) == 0xfe);
  CHECK(bits(0.0f) == 0x00);
  CHECK(bits(-0.0f) == 0x80);
  CHECK(bits(std::ldexp(1.0f, -10)) == 0x00);  // half the smallest subnormal: tie to 0
  CHECK(bits(std::nextafter(std::ldexp(1.0f, -10), 1.0f)) == 0x01);
  CHECK(bits(-std::ldexp(1.0f, -11)) == 0x80);
  CHECK(bits(std::numeric_limits<float>::denorm_min()) == 0x00);
}

TEST_CASE("fp8 e4m3: to_fp8_e4m3 is the nearest-even search on a sweep of binary32 bit patterns") {
  // A prime stride visits every exponent and mantissa pattern class, both signs, NaN and infinity.
  std::uint64_t n = 0;
  for (std::uint64_t u = 0; u <= 0xffffffffu; u += 1021) {
    check_encode(bits_float(static_cast<std::uint32_t>(u)));
    ++n;
  }
  // Densely where the codes are: every pattern whose magnitude lies in [2^-11, 2^9), step 2^8 ulps.
  for (std::uint32_t u = 0x3a000000u; u < 0x44000000u; u += 256) {
    check_encode(bits_float(u));
    check_encode(bits_float(u | 0x80000000u));
    n += 2;
  }
  CHECK(n > 4000000);
}
