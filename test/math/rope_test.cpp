// math::rope against the llama.cpp adjacent-pair convention evaluated in double, plus the rotation's
// invariants: norm per pair, identity at position 0, and scores that depend only on relative position.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <skippy/math/rope.hpp>
#include <vector>

using namespace skippy;

namespace {

double theta(int pair, int head_dim, double base) { return std::pow(base, -2.0 * pair / head_dim); }

// Tolerance for one rotated pair: the float angle pos * theta carries a relative error of a few ulps,
// so the absolute angle error grows with pos.
double pair_tol(double pair_norm, int pos) { return pair_norm * (3e-7 * pos + 1e-6); }

std::vector<float> random_vec(std::mt19937& rng, int n) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) {
    x = u(rng);
    if (x == 0.0f) x = 0.5f;
  }
  return v;
}

}  // namespace

TEST_CASE("rope matches the double-precision adjacent-pair rotation") {
  std::mt19937 rng(11);
  for (int hd : {2, 8, 64, 128}) {
    for (float base : {10000.0f, 500000.0f, 2.0f}) {
      for (int pos : {0, 1, 2, 7, 100, 1000, 4095}) {
        CAPTURE(hd);
        CAPTURE(base);
        CAPTURE(pos);
        const auto x = random_vec(rng, hd);
        auto y = x;
        math::rope(y.data(), pos, hd, base);
        for (int i = 0; i < hd / 2; ++i) {
          const double a = pos * theta(i, hd, base);
          const double x0 = x[static_cast<std::size_t>(2 * i)], x1 = x[static_cast<std::size_t>(2 * i + 1)];
          const double r0 = x0 * std::cos(a) - x1 * std::sin(a);
          const double r1 = x0 * std::sin(a) + x1 * std::cos(a);
          const double tol = pair_tol(std::hypot(x0, x1), pos);
          INFO("pair " << i);
          REQUIRE(std::fabs(y[static_cast<std::size_t>(2 * i)] - r0) <= tol);
          REQUIRE(std::fabs(y[static_cast<std::size_t>(2 * i + 1)] - r1) <= tol);
          // the float angle helper agrees with the formula too
          REQUIRE(std::fabs(math::rope_angle(pos, i, hd, base) - a) <= 3e-7 * a + 1e-30);
        }
      }
    }
  }
}

TEST_CASE("rope preserves each pair's norm and is the identity at position 0") {
  std::mt19937 rng(12);
  for (int pos : {0, 1, 3, 50, 777, 32767}) {
    const int hd = 64;
    const auto x = random_vec(rng, hd);
    auto y = x;
    math::rope(y.data(), pos, hd, 10000.0f);
    for (int i = 0; i < hd / 2; ++i) {
      const double n0 =
          std::hypot(static_cast<double>(x[static_cast<std::size_t>(2 * i)]), x[static_cast<std::size_t>(2 * i + 1)]);
      const double n1 =
          std::hypot(static_cast<double>(y[static_cast<std::size_t>(2 * i)]), y[static_cast<std::size_t>(2 * i + 1)]);
      CHECK(std::fabs(n1 - n0) <= 1e-6 * n0);
    }
    if (pos == 0)
      for (int i = 0; i < hd; ++i) CHECK(y[static_cast<std::size_t>(i)] == x[static_cast<std::size_t>(i)]);
    else  // some pair really moved
      CHECK(std::fabs(y[0] - x[0]) + std::fabs(y[1] - x[1]) > 1e-3);
  }
}

TEST_CASE("rope scores depend only on the relative position") {
  std::mt19937 rng(13);
  const int hd = 64;
  const double base = 10000.0;
  for (int trial = 0; trial < 10; ++trial) {
    const auto q = random_vec(rng, hd);
    const auto k = random_vec(rng, hd);
    double qn = 0, kn = 0;
    for (int i = 0; i < hd; ++i) {
      qn += static_cast<double>(q[static_cast<std::size_t>(i)]) * q[static_cast<std::size_t>(i)];
      kn += static_cast<double>(k[static_cast<std::size_t>(i)]) * k[static_cast<std::size_t>(i)];
    }
    const double qk = std::sqrt(qn * kn);
    for (int p1 : {0, 3, 17, 200}) {
      for (int p2 : {0, 5, 17, 150}) {
        // Expected from the relative offset alone: q^T R((p2 - p1) theta) k per pair.
        double want = 0;
        for (int i = 0; i < hd / 2; ++i) {
          const double phi = (p2 - p1) * theta(i, hd, base);
          const double q0 = q[static_cast<std::size_t>(2 * i)], q1 = q[static_cast<std::size_t>(2 * i + 1)];
          const double k0 = k[static_cast<std::size_t>(2 * i)], k1 = k[static_cast<std::size_t>(2 * i + 1)];
          want += std::cos(phi) * (q0 * k0 + q1 * k1) + std::sin(phi) * (q1 * k0 - q0 * k1);
        }
        for (int shift : {0, 1, 64, 1000}) {
          auto qr = q, kr = k;
          math::rope(qr.data(), p1 + shift, hd, static_cast<float>(base));
          math::rope(kr.data(), p2 + shift, hd, static_cast<float>(base));
          double got = 0;
          for (int i = 0; i < hd; ++i)
            got += static_cast<double>(qr[static_cast<std::size_t>(i)]) * kr[static_cast<std::size_t>(i)];
          CAPTURE(p1);
          CAPTURE(p2);
          CAPTURE(shift);
          const int maxpos = std::max(p1, p2) + shift;
          CHECK(std::fabs(got - want) <= qk * (6e-7 * maxpos + 4e-6));
        }
      }
    }
  }
}
