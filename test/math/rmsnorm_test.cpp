// math::rmsnorm against the LLaMA formula evaluated in double: y_i = w_i * x_i / sqrt(mean(x^2) + eps).

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <skippy/math/reduce.hpp>
#include <skippy/math/rmsnorm.hpp>
#include <vector>

using namespace skippy;

namespace {

std::vector<double> rmsnorm_ref(const std::vector<float>& x, const std::vector<float>& w, double eps) {
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = static_cast<double>(w[i]) * x[i] * s;
  return y;
}

}  // namespace

TEST_CASE("rmsnorm matches the double-precision formula") {
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int n : {1, 3, 8, 17, 64, 4096}) {
    for (float eps : {1e-6f, 1e-5f, 0.5f}) {
      for (float scale : {1e-3f, 1.0f, 300.0f}) {
        CAPTURE(n);
        CAPTURE(eps);
        CAPTURE(scale);
        std::vector<float> x(static_cast<std::size_t>(n)), w(static_cast<std::size_t>(n)),
            y(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
          x[static_cast<std::size_t>(i)] = scale * u(rng);
          w[static_cast<std::size_t>(i)] = 1.0f + 0.5f * u(rng);
        }
        math::rmsnorm(x.data(), w.data(), y.data(), n, eps);
        const auto ref = rmsnorm_ref(x, w, eps);
        // The output scale: |y_i| <= |w_i| * |x_i| / rms; relative error of a few float roundings.
        for (int i = 0; i < n; ++i) {
          const double r = ref[static_cast<std::size_t>(i)];
          REQUIRE(std::fabs(y[static_cast<std::size_t>(i)] - r) <= 4e-6 * std::fabs(r) + 1e-30);
        }
      }
    }
  }
}

TEST_CASE("rmsnorm: unit weights give unit root-mean-square, scale invariance, zero input") {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int n = 256;
  std::vector<float> x(n), ones(n, 1.0f), y(n), y2(n), xs(n);
  for (auto& v : x) v = g(rng) * 10.0f;
  math::rmsnorm(x.data(), ones.data(), y.data(), n, 1e-9f);
  double ss = 0;
  for (float v : y) ss += static_cast<double>(v) * v;
  CHECK(std::sqrt(ss / n) == doctest::Approx(1.0).epsilon(1e-5));
  // rmsnorm(c x) == rmsnorm(x) when eps is negligible (c a power of two: c x is exact)
  for (int i = 0; i < n; ++i) xs[static_cast<std::size_t>(i)] = 64.0f * x[static_cast<std::size_t>(i)];
  math::rmsnorm(xs.data(), ones.data(), y2.data(), n, 1e-9f);
  for (int i = 0; i < n; ++i)
    CHECK(y2[static_cast<std::size_t>(i)] == doctest::Approx(y[static_cast<std::size_t>(i)]).epsilon(1e-5));
  // eps keeps a zero vector finite (and zero)
  std::vector<float> z(n, 0.0f);
  math::rmsnorm(z.data(), ones.data(), y.data(), n, 1e-5f);
  for (float v : y) CHECK(v == 0.0f);
  // eps dominates: tiny x with a large eps is scaled by ~1/sqrt(eps)
  std::vector<float> tiny(n, 1e-4f);
  math::rmsnorm(tiny.data(), ones.data(), y.data(), n, 0.25f);
  for (float v : y) CHECK(v == doctest::Approx(1e-4 / std::sqrt(1e-8 + 0.25)).epsilon(1e-6));
}

TEST_CASE("sum_squares and dot match double sums") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (int n : {0, 1, 7, 8, 9, 100, 1000}) {
    std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
    double ss = 0, dd = 0, mag = 0;
    for (int i = 0; i < n; ++i) {
      a[static_cast<std::size_t>(i)] = u(rng);
      b[static_cast<std::size_t>(i)] = u(rng);
      ss += static_cast<double>(a[static_cast<std::size_t>(i)]) * a[static_cast<std::size_t>(i)];
      dd += static_cast<double>(a[static_cast<std::size_t>(i)]) * b[static_cast<std::size_t>(i)];
      mag += std::fabs(static_cast<double>(a[static_cast<std::size_t>(i)]) * b[static_cast<std::size_t>(i)]);
    }
    CAPTURE(n);
    CHECK(std::fabs(math::sum_squares(a.data(), n) - ss) <= 1e-5 * ss + 1e-30);
    CHECK(std::fabs(math::dot(a.data(), b.data(), n) - dd) <= 1e-5 * mag + 1e-30);
  }
}

TEST_CASE("rmsnorm: a sum of squares that overflows gives NaN, not a row of zeros") {
  const std::vector<float> w(4, 1.0f);
  std::vector<float> x = {1.0f, 2e19f, -3.0f, 0.5f}, y(4);  // finite, but 2e19^2 overflows float
  math::rmsnorm(x.data(), w.data(), y.data(), 4, 1e-5f);
  for (float v : y) CHECK(std::isnan(v));
  CHECK(std::isnan(math::rms_scale(INFINITY, 4, 1e-5f)));
  CHECK(std::isnan(math::rms_scale(NAN, 4, 1e-5f)));
  // The largest finite sums still scale.
  CHECK(math::rms_scale(3e38f, 4, 1e-5f) > 0.0f);
  x[1] = 1e19f;  // 1e38: finite
  math::rmsnorm(x.data(), w.data(), y.data(), 4, 1e-5f);
  CHECK(y[1] == doctest::Approx(2.0));
}

// A length known at compile time once inlined (a head dimension of 32): GCC -O3 warned "iteration 8
// invokes undefined behavior" in dot's tail loop, an error under -Werror in a user's build.
namespace {
float dot32(const float* a, const float* b) { return math::dot(a, b, 32); }
}  // namespace

TEST_CASE("dot of a compile-time length compiles warning-free and equals the double sum") {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  float a[32], b[32];
  double want = 0, mag = 0;
  for (int i = 0; i < 32; ++i) {
    a[i] = u(rng);
    b[i] = u(rng);
    want += static_cast<double>(a[i]) * b[i];
    mag += std::fabs(static_cast<double>(a[i]) * b[i]);
  }
  CHECK(std::fabs(dot32(a, b) - want) <= 1e-6 * mag);
}
