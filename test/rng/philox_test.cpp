// Philox4x32-10 against the Random123 known-answer vectors (kat_vectors), and rng::uniform's statistics,
// counter layout and stream separation.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <skippy/rng/philox.hpp>
#include <vector>

using namespace skippy;
using skippy::rng::DrawId;
using skippy::rng::Purpose;

TEST_CASE("philox4x32_10 reproduces the Random123 known-answer vectors") {
  struct Kat {
    std::uint32_t ctr[4];
    std::uint32_t key[2];
    std::uint32_t want[4];
  };
  // Random123 tests/kat_vectors, "philox4x32 10" lines: counter, key, expected output.
  const Kat kats[] = {
      {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
       {0x00000000u, 0x00000000u},
       {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    const rng::Philox4x32 out =
        rng::philox4x32_10(rng::Philox4x32{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(out.v[i] == k.want[i]);
    }
  }
}

TEST_CASE("mulhilo is the full 64-bit product") {
  const std::uint32_t vals[] = {0u, 1u, 0xffffffffu, 0xD2511F53u, 0x80000000u, 12345u};
  for (std::uint32_t a : vals)
    for (std::uint32_t b : vals) {
      std::uint32_t hi, lo;
      rng::mulhilo(a, b, hi, lo);
      const unsigned long long p = static_cast<unsigned long long>(a) * b;
      CHECK(hi == static_cast<std::uint32_t>(p >> 32));
      CHECK(lo == static_cast<std::uint32_t>(p & 0xffffffffull));
    }
}

TEST_CASE("uniform uses the documented counter layout and 24 bits of word 0") {
  const std::uint64_t seeds[] = {0ull, 1ull, 0x123456789abcdef0ull, ~0ull};
  for (std::uint64_t seed : seeds)
    for (std::uint32_t pos : {0u, 7u, 1000000u})
      for (Purpose purpose : {Purpose::draft_sample, Purpose::accept_test, Purpose::final_sample}) {
        const DrawId id{3u, pos, purpose, 2u};
        const rng::Philox4x32 block =
            rng::philox4x32_10(rng::Philox4x32{{3u, pos, static_cast<std::uint32_t>(purpose), 2u}},
                               static_cast<std::uint32_t>(seed & 0xffffffffu), static_cast<std::uint32_t>(seed >> 32));
        const float u = rng::uniform(seed, id);
        CHECK(static_cast<double>(u) == std::ldexp(static_cast<double>(block.v[0] >> 8), -24));
      }
}

TEST_CASE("uniform: range, mean, variance and histogram of 1e6 draws") {
  const int n = 1000000;
  const int bins = 256;
  std::vector<long> hist(bins, 0);
  double sum = 0, sum2 = 0;
  float lo = 1.0f, hi = 0.0f;
  for (int i = 0; i < n; ++i) {
    const DrawId id{static_cast<std::uint32_t>(i % 8), static_cast<std::uint32_t>(i / 8), Purpose::draft_sample, 0u};
    const float u = rng::uniform(0x5eedull, id);
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    lo = std::fmin(lo, u);
    hi = std::fmax(hi, u);
    sum += u;
    sum2 += static_cast<double>(u) * u;
    ++hist[static_cast<std::size_t>(u * bins)];
  }
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  // Uniform on [0, 1): mean 1/2, variance 1/12, fourth central moment 1/80.
  const double sd_mean = std::sqrt(1.0 / 12.0 / n);
  const double sd_var = std::sqrt((1.0 / 80.0 - 1.0 / 144.0) / n);
  CHECK(std::fabs(mean - 0.5) < 5 * sd_mean);
  CHECK(std::fabs(var - 1.0 / 12.0) < 5 * sd_var);
  CHECK(lo < 1e-4f);
  CHECK(hi > 1.0f - 1e-4f);
  // chi-square with 255 degrees of freedom: mean 255, sd sqrt(510)
  double chi2 = 0;
  const double expect = static_cast<double>(n) / bins;
  for (long c : hist) chi2 += (c - expect) * (c - expect) / expect;
  CHECK(chi2 < 255 + 5 * std::sqrt(510.0));
  CHECK(chi2 > 255 - 5 * std::sqrt(510.0));
}

TEST_CASE("uniform: deterministic, and every DrawId field and both seed halves select a different stream") {
  const std::uint64_t seed = 42;
  const DrawId base{1u, 100u, Purpose::accept_test, 0u};
  CHECK(rng::uniform(seed, base) == rng::uniform(seed, base));

  auto stream = [](std::uint64_t s, DrawId id0, int field) {
    std::vector<float> out;
    for (std::uint32_t t = 0; t < 2000; ++t) {
      DrawId id = id0;
      // walk along one field that is not being varied between streams
      if (field == 1)
        id.index += t;
      else
        id.position += t;
      out.push_back(rng::uniform(s, id));
    }
    return out;
  };
  auto differ = [](const std::vector<float>& a, const std::vector<float>& b) {
    int same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    return same;
  };
  const auto s0 = stream(seed, base, 0);
  CHECK(s0 == stream(seed, base, 0));  // deterministic
  for (Purpose p : {Purpose::draft_sample, Purpose::final_sample}) {
    DrawId id = base;
    id.purpose = p;
    CHECK(differ(s0, stream(seed, id, 0)) <= 2);
  }
  {
    DrawId id = base;
    id.sequence = 1;
    CHECK(differ(s0, stream(seed, id, 0)) <= 2);
  }
  {
    DrawId id = base;
    id.index = 2;
    CHECK(differ(s0, stream(seed, id, 0)) <= 2);
  }
  {
    DrawId id = base;
    id.position = 101;
    CHECK(differ(stream(seed, base, 1), stream(seed, id, 1)) <= 2);
  }
  CHECK(differ(s0, stream(seed + 1, base, 0)) <= 2);
  CHECK(differ(s0, stream(seed + (1ull << 32), base, 0)) <= 2);  // the high half of the seed is used

  // Streams of different purposes are uncorrelated (|r| within 5 / sqrt(n)).
  DrawId other = base;
  other.purpose = Purpose::final_sample;
  const auto s1 = stream(seed, other, 0);
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < s0.size(); ++i) {
    ma += s0[i];
    mb += s1[i];
  }
  ma /= static_cast<double>(s0.size());
  mb /= static_cast<double>(s1.size());
  double cab = 0, caa = 0, cbb = 0;
  for (std::size_t i = 0; i < s0.size(); ++i) {
    cab += (s0[i] - ma) * (s1[i] - mb);
    caa += (s0[i] - ma) * (s0[i] - ma);
    cbb += (s1[i] - mb) * (s1[i] - mb);
  }
  CHECK(std::fabs(cab / std::sqrt(caa * cbb)) < 5.0 / std::sqrt(static_cast<double>(s0.size())));
}
