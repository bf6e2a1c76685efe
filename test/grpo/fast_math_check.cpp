// Compiled with -ffast-math (its own binary, so no inline function is shared with the strict-math tests):
// GRPO's finiteness checks still see NaN and inf, which such a build lets the compiler assume away.

#include <doctest/doctest.h>

#include <skippy/grpo/grpo.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

using namespace skippy;
using namespace skippy::grpo;

namespace {

// NaN and inf from their bits: under -ffast-math a NaN literal may itself be folded or warned about.
template <class Real, class Bits>
Real from_bits(Bits b) {
  static_assert(sizeof(Real) == sizeof(Bits));
  Real x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

}  // namespace

TEST_CASE("fast-math: formula::finite tells NaN and inf from numbers") {
  CHECK_FALSE(formula::finite(from_bits<float>(std::uint32_t{0x7fc00000u})));
  CHECK_FALSE(formula::finite(from_bits<float>(std::uint32_t{0x7f800000u})));
  CHECK_FALSE(formula::finite(from_bits<float>(std::uint32_t{0xff800000u})));
  CHECK_FALSE(formula::finite(from_bits<double>(std::uint64_t{0x7ff8000000000000ull})));
  CHECK_FALSE(formula::finite(from_bits<double>(std::uint64_t{0xfff0000000000000ull})));
  CHECK(formula::finite(3.0f));
  CHECK(formula::finite(-1e300));
  CHECK(formula::finite(from_bits<float>(std::uint32_t{0x7f7fffffu})));  // the largest float
}

TEST_CASE("fast-math: a NaN log-probability is still rejected") {
  std::vector<double> pc{-1.0, -2.0}, pr{-2.0, -1.5}, rc{-1.5, -1.5}, rr{-1.5, -1.5};
  const std::vector<int> group{0, 1};
  pr[1] = from_bits<double>(std::uint64_t{0x7ff8000000000000ull});
  GroupState<double> s(2);
  ObjectiveParams<UniformWeights> p;
  CHECK_THROWS_WITH_AS(step<DpoMethod>(PreferenceBatch<double>{pc, pr, rc, rr, group}, p, s),
                       doctest::Contains("policy_rejected[1] is not finite"), Error);
}
