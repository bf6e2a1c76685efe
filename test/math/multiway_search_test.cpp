// The multiway search of the device's top-k / top-p cuts, run on the host against the boundary it must find.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <skippy/math/multiway_search.hpp>

using skippy::math::MultiwaySearch;

namespace {

// The search as the kernels run it, over the predicate x <= boundary; counts rounds.
std::uint32_t search(std::uint32_t lo, std::uint32_t hi, std::uint32_t boundary, int& rounds) {
  rounds = 0;
  while (lo < hi) {
    int holds = 0;
    for (int j = 1; j <= MultiwaySearch::probes; ++j) holds += MultiwaySearch::probe(lo, hi, j) <= boundary;
    const std::uint32_t width = hi - lo;
    MultiwaySearch::narrow(lo, hi, holds);
    REQUIRE(hi - lo < width);  // progress every round
    ++rounds;
  }
  return lo;
}

}  // namespace

TEST_CASE("multiway search finds the last point of a monotone predicate in at most ceil(31 / 4) rounds") {
  constexpr std::uint32_t top = 0x7f800000u;  // the largest finite-or-infinite float pattern the cuts search
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> any(0, top);
  int wrong = 0, most = 0;
  const auto check = [&](std::uint32_t lo, std::uint32_t hi, std::uint32_t boundary) {
    int rounds = 0;
    wrong += search(lo, hi, boundary, rounds) != boundary;
    most = rounds > most ? rounds : most;
  };
  for (std::uint32_t b : {0u, 1u, 2u, 15u, 16u, 17u, top - 1, top, top / 2, 0x3f800000u}) check(0, top, b);
  for (int i = 0; i < 20000; ++i) check(0, top, any(rng));
  for (std::uint32_t lo = 0; lo < 40; ++lo)  // small ranges, every boundary
    for (std::uint32_t hi = lo; hi < lo + 40; ++hi)
      for (std::uint32_t b = lo; b <= hi; ++b) check(lo, hi, b);
  CHECK(wrong == 0);
  CHECK(most <= 8);
}

TEST_CASE("multiway probes rise from lo and stay inside the range") {
  for (std::uint32_t size : {1u, 2u, 15u, 16u, 17u, 1000u, 0x7f800001u}) {
    const std::uint32_t lo = 5, hi = lo + size - 1;
    std::uint32_t previous = MultiwaySearch::probe(lo, hi, 0);
    CHECK(previous == lo);
    for (int j = 1; j < MultiwaySearch::ways; ++j) {
      const std::uint32_t p = MultiwaySearch::probe(lo, hi, j);
      CHECK(p >= previous);
      CHECK(p <= hi);
      previous = p;
    }
  }
}
