// argmax, inverse-CDF categorical sampling and the temperature / top-k / top-p warp, against references
// computed independently in double.

#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <random>
#include <skippy/core/error.hpp>
#include <skippy/rng/philox.hpp>
#include <skippy/sampling/argmax.hpp>
#include <skippy/sampling/categorical.hpp>
#include <skippy/sampling/warp.hpp>
#include <vector>

using namespace skippy;

namespace {

// Logits on a coarse grid so that equal logits (exact ties) are common and distinct logits give distinct
// float probabilities: the rank order is then the logit order, ties to the lowest id.
std::vector<float> grid_logits(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> d(-24, 24);
  std::vector<float> l(static_cast<std::size_t>(n));
  for (auto& v : l) v = 0.25f * static_cast<float>(d(rng));
  return l;
}

std::vector<int> rank_order(const std::vector<float>& logits) {
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
  });
  return order;
}

std::vector<double> softmax_ref(const std::vector<float>& logits, double t) {
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, l / t);
  std::vector<double> p(logits.size());
  double z = 0;
  for (std::size_t i = 0; i < p.size(); ++i) z += (p[i] = std::exp(logits[i] / t - mx));
  for (auto& v : p) v /= z;
  return p;
}

// Keeps the ranks [0, keep) of p (given the rank order) and renormalises.
std::vector<double> keep_prefix(const std::vector<double>& p, const std::vector<int>& order, int keep) {
  std::vector<double> out(p.size(), 0.0);
  double z = 0;
  for (int r = 0; r < keep; ++r) z += p[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
  for (int r = 0; r < keep; ++r) {
    const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(r)]);
    out[i] = p[i] / z;
  }
  return out;
}

// Number of ranks top-p keeps: a token stays while the mass ranked strictly before it is < top_p.
// `margin` receives the distance between top_p and the nearest prefix mass (how robust the count is).
int top_p_count(const std::vector<double>& p, const std::vector<int>& order, int limit, double top_p, double& margin) {
  double before = 0;
  margin = INFINITY;
  int keep = limit;
  for (int r = 0; r < limit; ++r) {
    if (r > 0) margin = std::min(margin, std::fabs(before - top_p));
    if (before >= top_p) {
      keep = r;
      break;
    }
    before += p[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
  }
  return keep;
}

void check_warp(const std::vector<float>& logits, const sampling::WarpParams& w, const std::vector<double>& want) {
  const int n = static_cast<int>(logits.size());
  std::vector<float> p(logits.size(), -1.0f);
  std::vector<int> order = {5, 3, 99};  // stale scratch must not matter
  sampling::warp(logits.data(), p.data(), n, w, order);
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const double g = p[static_cast<std::size_t>(i)], e = want[static_cast<std::size_t>(i)];
    INFO("id " << i << " got " << g << " want " << e);
    if (e == 0.0)
      REQUIRE(g == 0.0);
    else
      REQUIRE(std::fabs(g - e) <= 1e-5 * e + 1e-7);
    sum += g;
  }
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
}

}  // namespace

TEST_CASE("argmax returns the first maximum") {
  std::mt19937 rng(41);
  std::uniform_int_distribution<int> d(0, 5);
  for (int trial = 0; trial < 2000; ++trial) {
    const int n = 1 + trial % 40;
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& v : x) v = static_cast<float>(d(rng)) - 3.0f;  // many ties
    if (trial % 7 == 0) x[0] = -INFINITY;
    int want = 0;
    for (int i = 1; i < n; ++i)
      if (x[static_cast<std::size_t>(i)] > x[static_cast<std::size_t>(want)]) want = i;
    // independent: lowest index among those equal to the maximum
    const float mx = *std::max_element(x.begin(), x.end());
    const int first = static_cast<int>(std::find(x.begin(), x.end(), mx) - x.begin());
    REQUIRE(first == want);
    REQUIRE(sampling::argmax(x.data(), n) == first);
  }
  const float all_same[] = {2.0f, 2.0f, 2.0f};
  CHECK(sampling::argmax(all_same, 3) == 0);
  const float last[] = {-INFINITY, -1.0f, 0.0f, 3.0f};
  CHECK(sampling::argmax(last, 4) == 3);
}

TEST_CASE("sample_categorical: inverse CDF in id order, zero weights never drawn") {
  const std::vector<float> w = {0.0f, 0.0f, 1.0f, 0.0f, 3.0f, 0.5f, 0.0f, 2.5f, 0.0f, 0.0f};
  const int n = static_cast<int>(w.size());
  CHECK(sampling::sample_categorical(w.data(), n, 0.0f) == 2);                        // first positive
  CHECK(sampling::sample_categorical(w.data(), n, std::nextafter(1.0f, 0.0f)) == 7);  // last positive

  double total = 0;
  for (float v : w) total += v;
  // Dense sweep of u: matches the double inverse CDF away from the boundaries; never a zero weight.
  const int steps = 100000;
  for (int s = 0; s < steps; ++s) {
    const float u = static_cast<float>(s) / steps;
    const int got = sampling::sample_categorical(w.data(), n, u);
    REQUIRE(got >= 0);
    REQUIRE(w[static_cast<std::size_t>(got)] > 0.0f);
    double cum = 0, dist = INFINITY;
    int want = -1;
    for (int i = 0; i < n; ++i) {
      cum += w[static_cast<std::size_t>(i)];
      dist = std::min(dist, std::fabs(cum - u * total));
      if (want < 0 && cum > static_cast<double>(u) * total && w[static_cast<std::size_t>(i)] > 0) want = i;
    }
    if (dist > 1e-5 * total) REQUIRE(got == want);
  }
  // Exact boundary: u * total == cum(id 2) == 1 exactly, so id 2 is not drawn (needs cum > target).
  CHECK(sampling::sample_categorical(w.data(), n, 1.0f / 7.0f) == 4);  // float(1/7) * 7 rounds to 1
  const std::vector<float> zeros(5, 0.0f);
  CHECK(sampling::sample_categorical(zeros.data(), 5, 0.5f) == -1);
  const float one[] = {0.0f, 0.0f, 4.0f};
  for (float u : {0.0f, 0.3f, 0.999f, std::nextafter(1.0f, 0.0f)}) CHECK(sampling::sample_categorical(one, 3, u) == 2);
}

TEST_CASE("sample_categorical: empirical frequencies pass a chi-square test") {
  std::mt19937 wr(42);
  std::uniform_real_distribution<float> wd(0.0f, 1.0f);
  for (int vocab : {10, 60}) {
    std::vector<float> w(static_cast<std::size_t>(vocab));
    for (int i = 0; i < vocab; ++i) w[static_cast<std::size_t>(i)] = (i % 4 == 1) ? 0.0f : wd(wr) + 0.05f;
    double total = 0;
    int categories = 0;
    for (float v : w) {
      total += v;
      categories += v > 0.0f;
    }
    const int draws = 200000;
    std::vector<long> count(static_cast<std::size_t>(vocab), 0);
    for (int t = 0; t < draws; ++t) {
      const float u = rng::uniform(7ull + static_cast<std::uint64_t>(vocab),
                                   rng::DrawId{0u, static_cast<std::uint32_t>(t), rng::Purpose::final_sample, 0u});
      ++count[static_cast<std::size_t>(sampling::sample_categorical(w.data(), vocab, u))];
    }
    double chi2 = 0;
    for (int i = 0; i < vocab; ++i) {
      if (w[static_cast<std::size_t>(i)] == 0.0f) {
        CHECK(count[static_cast<std::size_t>(i)] == 0);
        continue;
      }
      const double e = draws * w[static_cast<std::size_t>(i)] / total;
      chi2 += (count[static_cast<std::size_t>(i)] - e) * (count[static_cast<std::size_t>(i)] - e) / e;
    }
    const double dof = categories - 1;
    CAPTURE(vocab);
    CAPTURE(chi2);
    CHECK(chi2 < dof + 5.0 * std::sqrt(2.0 * dof) + 5.0);
  }
}

TEST_CASE("warp: temperature only is softmax(l / T)") {
  std::mt19937 rng(43);
  for (float t : {0.3f, 1.0f, 2.5f}) {
    const auto l = grid_logits(rng, 50);
    sampling::WarpParams w;
    w.temperature = t;
    CAPTURE(t);
    check_warp(l, w, softmax_ref(l, t));
    // top_k >= n and top_p == 1 are "off"
    w.top_k = 50;
    check_warp(l, w, softmax_ref(l, t));
    w.top_k = 1000;
    check_warp(l, w, softmax_ref(l, t));
  }
  // Large logits do not overflow.
  const std::vector<float> big = {1000.0f, 999.0f, -1000.0f};
  sampling::WarpParams w;
  check_warp(big, w, softmax_ref(big, 1.0));
}

TEST_CASE("warp: tiny temperatures put the mass on the largest logits, never NaN") {
  // logit / T overflows float for these (50 / 1e-37 = 5e38): only differences from the max are scaled.
  const std::vector<float> l = {10.0f, 50.0f, -3e38f, 49.99f, 50.0f, 3e38f * 0.0f};
  for (float t : {1e-6f, 1e-20f, 1e-37f, 3e-39f}) {
    sampling::WarpParams w;
    w.temperature = t;
    CAPTURE(t);
    REQUIRE_NOTHROW(w.validate());
    check_warp(l, w, {0.0, 0.5, 0.0, 0.0, 0.5, 0.0});  // the two maxima tie
    w.top_k = 1;
    check_warp(l, w, {0.0, 1.0, 0.0, 0.0, 0.0, 0.0});  // ties to the lowest id
  }
  // Small but ordinary temperatures still match the double reference.
  std::mt19937 rng(48);
  const auto g = grid_logits(rng, 40);
  sampling::WarpParams w;
  w.temperature = 0.02f;
  check_warp(g, w, softmax_ref(g, 0.02));
}

TEST_CASE("warp: huge temperatures over logits at float's range ends match the double reference") {
  // -1e38 - 3e38 overflows float to -inf, a weight of 0, where its scaled difference is ~-5 at T = 8e37.
  const std::vector<float> l = {3e38f, -3e38f, 1e38f, -1e38f, 0.0f, FLT_MAX, -FLT_MAX};
  for (float t : {8e37f, 3e37f, 1e36f}) {
    sampling::WarpParams w;
    w.temperature = t;
    CAPTURE(t);
    check_warp(l, w, softmax_ref(l, t));
  }
}

TEST_CASE("warp and softmax: temperature 0 (greedy, which has no softmax) is an error, not a row of NaNs") {
  const std::vector<float> l = {1.0f, 2.0f, 0.5f};
  std::vector<float> p(l.size());
  std::vector<int> order;
  sampling::WarpParams w;
  w.temperature = 0.0f;
  REQUIRE_NOTHROW(w.validate());  // a valid setting: decoders route it to greedy
  CHECK_THROWS_WITH_AS(sampling::warp(l.data(), p.data(), 3, w, order), doctest::Contains("temperature must be > 0"),
                       Error);
  CHECK_THROWS_WITH_AS(sampling::softmax(l.data(), p.data(), 3, 0.0f), doctest::Contains("temperature 0 is greedy"),
                       Error);
  CHECK_THROWS_AS(sampling::softmax(l.data(), p.data(), 3, 1e-45f), Error);  // 1 / T overflows
}

TEST_CASE("warp: top_k keeps exactly the k best (ties to the lowest id) and renormalises") {
  std::mt19937 rng(44);
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 5 + trial % 30;
    const auto l = grid_logits(rng, n);
    sampling::WarpParams w;
    w.temperature = (trial % 3 == 0) ? 0.7f : 1.0f;
    w.top_k = 1 + trial % (n - 1);
    CAPTURE(trial);
    CAPTURE(w.top_k);
    const auto order = rank_order(l);
    const auto want = keep_prefix(softmax_ref(l, w.temperature), order, w.top_k);
    check_warp(l, w, want);
  }
  // explicit tie: ids 1 and 3 share the second-best logit; top-2 keeps 0 and 1, not 3
  const std::vector<float> l = {3.0f, 1.0f, 0.0f, 1.0f};
  sampling::WarpParams w;
  w.top_k = 2;
  std::vector<float> p(4);
  std::vector<int> order;
  sampling::warp(l.data(), p.data(), 4, w, order);
  CHECK(p[0] > 0.0f);
  CHECK(p[1] > 0.0f);
  CHECK(p[2] == 0.0f);
  CHECK(p[3] == 0.0f);
  CHECK(p[0] + p[1] == doctest::Approx(1.0f));
  CHECK(p[0] / p[1] == doctest::Approx(std::exp(2.0)).epsilon(1e-5));
  // top_k = 1 is a one-hot on the argmax
  w.top_k = 1;
  sampling::warp(l.data(), p.data(), 4, w, order);
  CHECK(p[0] == 1.0f);
  CHECK(p[1] + p[2] + p[3] == 0.0f);
}

TEST_CASE("warp: top_p keeps the smallest rank prefix whose mass reaches p") {
  std::mt19937 rng(45);
  std::uniform_real_distribution<float> up(0.01f, 0.999f);
  int checked = 0;
  for (int trial = 0; trial < 400 && checked < 150; ++trial) {
    const int n = 4 + trial % 40;
    const auto l = grid_logits(rng, n);
    sampling::WarpParams w;
    w.temperature = (trial % 2 == 0) ? 1.0f : 1.6f;
    w.top_p = up(rng);
    const auto order = rank_order(l);
    const auto p = softmax_ref(l, w.temperature);
    double margin;
    const int keep = top_p_count(p, order, n, w.top_p, margin);
    if (margin < 1e-4) continue;  // too close to a prefix boundary for float arithmetic to be decisive
    ++checked;
    CAPTURE(trial);
    CAPTURE(w.top_p);
    CAPTURE(keep);
    check_warp(l, w, keep_prefix(p, order, keep));
  }
  CHECK(checked >= 100);
  // The top token always stays, even when it alone exceeds p, and a tiny p keeps only it.
  const std::vector<float> l = {0.0f, 5.0f, 1.0f};
  sampling::WarpParams w;
  w.top_p = 1e-6f;
  std::vector<float> p(3);
  std::vector<int> order;
  sampling::warp(l.data(), p.data(), 3, w, order);
  CHECK(p[1] == 1.0f);
  CHECK(p[0] + p[2] == 0.0f);
  // Mass strictly before the second token is p1 ~ 0.9817 < top_p = 0.99: the second stays, the third goes.
  w.top_p = 0.99f;
  sampling::warp(l.data(), p.data(), 3, w, order);
  CHECK(p[1] > 0.0f);
  CHECK(p[2] > 0.0f);
  CHECK(p[0] == 0.0f);
}

TEST_CASE("warp: a subnormal top_p keeps the top token, alone or after top-k over a flat row") {
  // top_p * kept mass (2/64 here) rounds to 0: a limit of 0 would keep no token at all.
  const std::vector<float> flat(64, 0.5f);
  std::vector<float> p(flat.size());
  std::vector<int> order;
  for (const int top_k : {0, 2})
    for (const float top_p : {1e-44f, 0x1p-149f}) {
      CAPTURE(top_k);
      CAPTURE(top_p);
      const sampling::WarpParams w{1.0f, top_k, top_p};
      w.validate();
      sampling::warp(flat.data(), p.data(), 64, w, order);
      CHECK(p[0] == 1.0f);  // ties to the lowest id
      float rest = 0.0f;
      for (std::size_t i = 1; i < p.size(); ++i) rest += p[i];
      CHECK(rest == 0.0f);
      CHECK(sampling::sample_categorical(p.data(), 64, 0.5f) == 0);
    }
}

TEST_CASE("warp: top-k then top-p, where both filters agree whatever top-p measures mass against") {
  // Cases where top-p's prefix count is the same measured on the full softmax or on the renormalised
  // top-k distribution (the two conventions in use); the result must be the intersection, renormalised.
  std::mt19937 rng(46);
  std::uniform_real_distribution<float> up(0.05f, 0.95f);
  int checked = 0;
  for (int trial = 0; trial < 600 && checked < 100; ++trial) {
    const int n = 6 + trial % 30;
    const auto l = grid_logits(rng, n);
    sampling::WarpParams w;
    w.temperature = (trial % 2 == 0) ? 1.0f : 0.8f;
    w.top_k = 2 + trial % (n - 2);
    w.top_p = up(rng);
    const auto order = rank_order(l);
    const auto p = softmax_ref(l, w.temperature);
    const auto pk = keep_prefix(p, order, w.top_k);
    double m1, m2;
    const int keep_full = top_p_count(p, order, w.top_k, w.top_p, m1);
    const int keep_renorm = top_p_count(pk, order, w.top_k, w.top_p, m2);
    if (keep_full != keep_renorm || m1 < 1e-4 || m2 < 1e-4) continue;
    ++checked;
    CAPTURE(trial);
    check_warp(l, w, keep_prefix(p, order, keep_renorm));
  }
  CHECK(checked >= 50);
}

// As in llama.cpp and HF transformers, top-p measures its mass on the renormalised top-k distribution.
TEST_CASE("warp: top-p after top-k measures mass on the renormalised top-k distribution") {
  // p ~ {0.4, 0.3, 0.2, 0.1}; top-2 renormalised is {0.571, 0.429}; top_p = 0.5 then keeps only the first.
  const std::vector<float> l = {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  sampling::WarpParams w;
  w.top_k = 2;
  w.top_p = 0.5f;
  const auto order = rank_order(l);
  const auto p = softmax_ref(l, 1.0);
  check_warp(l, w, keep_prefix(p, order, 1));
}

TEST_CASE("WarpParams::validate") {
  auto params = [](float t, int k, float p) {
    sampling::WarpParams w;
    w.temperature = t;
    w.top_k = k;
    w.top_p = p;
    return w;
  };
  CHECK_NOTHROW(params(1.0f, 0, 1.0f).validate());
  CHECK_NOTHROW(params(0.0f, 0, 1.0f).validate());  // greedy
  CHECK_NOTHROW(params(0.7f, 40, 0.9f).validate());
  CHECK_NOTHROW(params(1.0f, 1, 1e-6f).validate());
  CHECK_THROWS_AS(params(-0.1f, 0, 1.0f).validate(), skippy::Error);
  CHECK_THROWS_AS(params(NAN, 0, 1.0f).validate(), skippy::Error);
  CHECK_THROWS_AS(params(INFINITY, 0, 1.0f).validate(), skippy::Error);
  CHECK_NOTHROW(params(1e-38f, 0, 1.0f).validate());
  CHECK_THROWS_AS(params(1e-39f, 0, 1.0f).validate(), skippy::Error);  // 1 / T overflows
  CHECK_THROWS_AS(params(1.0f, -1, 1.0f).validate(), skippy::Error);
  CHECK_THROWS_AS(params(1.0f, 0, 0.0f).validate(), skippy::Error);
  CHECK_THROWS_AS(params(1.0f, 0, -0.5f).validate(), skippy::Error);
  CHECK_THROWS_AS(params(1.0f, 0, 1.0001f).validate(), skippy::Error);
  CHECK_THROWS_AS(params(1.0f, 0, NAN).validate(), skippy::Error);
}

TEST_CASE("entropy matches the double formula") {
  std::mt19937 rng(47);
  for (int n : {1, 2, 10, 1000}) {
    const auto l = grid_logits(rng, n);
    const auto p = softmax_ref(l, 1.0);
    std::vector<float> pf(p.begin(), p.end());
    double h = 0;
    for (double v : p)
      if (v > 0) h -= v * std::log(v);
    CHECK(sampling::entropy(pf.data(), n) == doctest::Approx(h).epsilon(1e-5).scale(1.0));
  }
  const float onehot[] = {0.0f, 1.0f, 0.0f};
  CHECK(sampling::entropy(onehot, 3) == 0.0f);
  const float uniform4[] = {0.25f, 0.25f, 0.25f, 0.25f};
  CHECK(sampling::entropy(uniform4, 4) == doctest::Approx(std::log(4.0)).epsilon(1e-6));
}
