// The interleaved weight kernel's slices, checked on the host: every column is covered once, every decoded
// value times its scale is the dequantized weight, and interleaved_dot_row (the kernel's arithmetic,
// evaluated here) agrees with a double-precision dot product to rounding.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

TEST_CASE("F8_E4M3 slices widen codes to binary16 pairs: every code at every position, NaNs beside them") {
  using S = Slice<F8_E4M3>;
  const auto is_nan = [](unsigned c) { return (c & 0x7fu) == 0x7fu; };
  // The pair widening alone, over every pair of codes: the binary16s are the codes' values * 2^-8.
  int pair_wrong = 0;
  for (std::uint32_t lo = 0; lo < 256; ++lo)
    for (std::uint32_t hi = 0; hi < 256; ++hi) {
      if (is_nan(lo) || is_nan(hi)) continue;
      for (int p = 0; p < 2; ++p) {
        const std::uint32_t w = p == 0 ? (hi << 8 | lo) : (hi << 24 | lo << 16);
        const std::uint32_t h = quant::detail::fp8_pair_as_half2(w, p);
        pair_wrong += float_bits(to_float(half_t{static_cast<std::uint16_t>(h & 0xffffu)}) * 0x1p8f) !=
                      float_bits(to_float(fp8_e4m3_t{static_cast<std::uint8_t>(lo)}));
        pair_wrong += float_bits(to_float(half_t{static_cast<std::uint16_t>(h >> 16)}) * 0x1p8f) !=
                      float_bits(to_float(fp8_e4m3_t{static_cast<std::uint8_t>(hi)}));
      }
    }
  CHECK(pair_wrong == 0);

  // Each code at each position of a slice whose other codes are random, finite or (every third slice)
  // holding a NaN elsewhere: scale * value is to_float of the code, bit for bit (NaN for NaN codes), and
  // the NaN test sees exactly the NaN codes.
  std::mt19937 rng(20261206);
  std::uniform_int_distribution<unsigned> byte(0, 255);
  int wrong = 0, nan_test_wrong = 0, slices = 0;
  for (int k = 0; k < S::values; ++k)
    for (unsigned c = 0; c < 256; ++c) {
      std::uint8_t codes[S::values];
      for (std::uint8_t& b : codes) {
        do b = static_cast<std::uint8_t>(byte(rng));
        while (is_nan(b));
      }
      if (slices++ % 3 == 0) codes[(k + 5) % S::values] = 0xff;
      codes[k] = static_cast<std::uint8_t>(c);
      Bytes16 raw;
      std::memcpy(raw.w, codes, sizeof codes);
      for (int q = 0; q < 4; ++q) {
        bool any = false;
        for (int b = 0; b < 4; ++b) any = any || is_nan(codes[4 * q + b]);
        nan_test_wrong += (quant::detail::fp8_nan_marks(raw.w[q]) != 0) != any;
      }
      float v[S::values];
      const float scale = S::decode(raw, v);
      for (int j = 0; j < S::values; ++j) {
        const float want = to_float(fp8_e4m3_t{codes[j]}), got = scale * v[j];
        wrong += is_nan(codes[j]) ? !std::isnan(got) : float_bits(got) != float_bits(want);
      }
    }
  CHECK(nan_test_wrong == 0);
  CHECK(wrong == 0);
}

namespace {
// The device's butterfly, every lane formed at every step (what butterfly_sum shortens to lane 0's part).
float full_butterfly(const float (&lanes)[math::warp_lanes]) {
  float v[math::warp_lanes];
  std::copy(lanes, lanes + math::warp_lanes, v);
  for (int o = math::warp_lanes / 2; o > 0; o >>= 1) {
    float t[math::warp_lanes];
    for (int l = 0; l < math::warp_lanes; ++l) t[l] = v[l] + v[l ^ o];
    std::copy(t, t + math::warp_lanes, v);
  }
  return v[0];
}
}  // namespace

TEST_CASE("butterfly_sum is lane 0 of the full xor butterfly; interleaved_join may skip warps without slices") {
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-30, 30);
  int differ = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    float lanes[math::warp_lanes];
    for (float& v : lanes) v = std::ldexp(normal(gen), exponent(gen));  // wide magnitudes: rounding matters
    const float a = math::butterfly_sum(lanes), b = full_butterfly(lanes);
    differ += std::memcmp(&a, &b, sizeof a) != 0;
  }
  CHECK(differ == 0);
  // Threads from `used` on hold +0: skipping their warps changes nothing, -0 sums included.
  for (int used : {1, 5, 32, 33, 64, 100, quant::interleaved_threads}) {
    float threads[quant::interleaved_threads] = {};
    for (int t = 0; t < used; ++t) threads[t] = t % 7 == 0 ? -0.0f : normal(gen);
    const float all = quant::interleaved_join(threads), some = quant::interleaved_join(threads, used);
    CHECK(std::memcmp(&all, &some, sizeof all) == 0);
  }
  // Warp 0 sums to -0 (every lane -0); the skipped warps still add their +0, which makes it +0 as on the
  // device (a skip that left the total alone would return -0).
  float negative_zero[quant::interleaved_threads] = {};
  std::fill(negative_zero, negative_zero + math::warp_lanes, -0.0f);
  CHECK(!std::signbit(quant::interleaved_join(negative_zero, math::warp_lanes)));
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
