// host::attend against naive double-precision causal softmax attention with grouped-query heads, and the
// bookkeeping rules of host::KvCache.

#include <doctest/doctest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <random>
#include <skippy/core/error.hpp>
#include <skippy/host/attention.hpp>
#include <skippy/host/kv_cache.hpp>
#include <skippy/model/config.hpp>
#include <string>
#include <vector>

using namespace skippy;

namespace {

ModelConfig make_config(int n_heads, int n_kv_heads, int head_dim) {
  ModelConfig c;
  c.n_layers = 2;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads;
  c.dim = n_heads * head_dim;
  c.ffn_dim = 64;
  c.vocab = 16;
  return c;
}

void fill(host::KvCache& cache, std::mt19937& rng, int n) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  cache.reserve(0, n);
  for (int l = 0; l < cache.n_layers(); ++l)
    for (int p = 0; p < n; ++p)
      for (int i = 0; i < cache.kv_dim(); ++i) {
        cache.k(l, p)[i] = g(rng);
        cache.v(l, p)[i] = g(rng);
      }
  cache.set_length(n);
}

// Naive attention in double. Returns the output and, per element, sum_j p_j |v_j| (the error scale).
void attend_ref(const std::vector<float>& q, const host::KvCache& cache, int layer, int pos, const ModelConfig& c,
                std::vector<double>& out, std::vector<double>& mag) {
  const int hd = c.dim / c.n_heads;
  const int group = c.n_heads / c.n_kv_heads;
  out.assign(static_cast<std::size_t>(c.dim), 0.0);
  mag.assign(static_cast<std::size_t>(c.dim), 0.0);
  for (int h = 0; h < c.n_heads; ++h) {
    const int kvh = h / group;
    std::vector<double> s(static_cast<std::size_t>(pos + 1));
    double mx = -INFINITY;
    for (int j = 0; j <= pos; ++j) {
      double d = 0;
      for (int i = 0; i < hd; ++i)
        d += static_cast<double>(q[static_cast<std::size_t>(h * hd + i)]) * cache.k(layer, j)[kvh * hd + i];
      s[static_cast<std::size_t>(j)] = d / std::sqrt(static_cast<double>(hd));
      mx = std::max(mx, s[static_cast<std::size_t>(j)]);
    }
    double z = 0;
    for (auto& v : s) z += (v = std::exp(v - mx));
    for (int j = 0; j <= pos; ++j) {
      const double p = s[static_cast<std::size_t>(j)] / z;
      for (int i = 0; i < hd; ++i) {
        const double v = cache.v(layer, j)[kvh * hd + i];
        out[static_cast<std::size_t>(h * hd + i)] += p * v;
        mag[static_cast<std::size_t>(h * hd + i)] += p * std::fabs(v);
      }
    }
  }
}

std::vector<float> run_attend(const std::vector<float>& q, const host::KvCache& cache, int layer, int pos,
                              const ModelConfig& c) {
  std::vector<float> out(static_cast<std::size_t>(c.dim)), scores(static_cast<std::size_t>(pos + 1));
  host::attend(q.data(), cache, layer, pos, c, out.data(), scores.data());
  return out;
}

}  // namespace

TEST_CASE("attend matches naive double attention (MHA, GQA, MQA)") {
  std::mt19937 rng(31);
  struct Shape {
    int heads, kv_heads, hd;
  };
  // head_dim 48 and 64: whole 32-value parts of the output plus a tail, and two parts.
  for (const Shape& sh :
       {Shape{4, 4, 8}, Shape{8, 2, 16}, Shape{8, 4, 4}, Shape{4, 1, 32}, Shape{2, 1, 48}, Shape{2, 2, 64}}) {
    const ModelConfig c = make_config(sh.heads, sh.kv_heads, sh.hd);
    c.validate();
    const int n = 20;
    host::KvCache cache(c.n_layers, 24, c.kv_dim());
    fill(cache, rng, n);
    for (float qscale : {0.3f, 1.0f, 8.0f}) {  // 8: peaked softmax with large scores
      for (int layer = 0; layer < c.n_layers; ++layer) {
        for (int pos : {0, 1, 5, n - 1}) {
          CAPTURE(sh.heads);
          CAPTURE(sh.kv_heads);
          CAPTURE(qscale);
          CAPTURE(layer);
          CAPTURE(pos);
          std::normal_distribution<float> g(0.0f, qscale);
          std::vector<float> q(static_cast<std::size_t>(c.dim));
          for (auto& v : q) v = g(rng);
          const auto out = run_attend(q, cache, layer, pos, c);
          std::vector<double> ref, mag;
          attend_ref(q, cache, layer, pos, c, ref, mag);
          for (int i = 0; i < c.dim; ++i) {
            INFO("element " << i);
            REQUIRE(std::fabs(out[static_cast<std::size_t>(i)] - ref[static_cast<std::size_t>(i)]) <=
                    2e-5 * mag[static_cast<std::size_t>(i)] + 1e-6);
          }
        }
      }
    }
  }
}

TEST_CASE("attend is causal: slots after pos (and other layers) do not matter, slots up to pos do") {
  std::mt19937 rng(32);
  const ModelConfig c = make_config(8, 2, 16);
  const int n = 12;
  host::KvCache cache(c.n_layers, 16, c.kv_dim());
  fill(cache, rng, n);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> q(static_cast<std::size_t>(c.dim));
  for (auto& v : q) v = g(rng);
  for (int pos = 0; pos < n - 1; ++pos) {
    CAPTURE(pos);
    const auto before = run_attend(q, cache, 0, pos, c);
    // change every later slot of layer 0 and every slot of layer 1
    host::KvCache other = cache;
    for (int p = pos + 1; p < n; ++p)
      for (int i = 0; i < c.kv_dim(); ++i) {
        other.k(0, p)[i] = 100.0f + g(rng);
        other.v(0, p)[i] = -50.0f + g(rng);
      }
    for (int p = 0; p < n; ++p)
      for (int i = 0; i < c.kv_dim(); ++i) other.k(1, p)[i] = other.v(1, p)[i] = 7.0f;
    const auto after = run_attend(q, other, 0, pos, c);
    CHECK(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0);
    // changing slot pos itself does change every head's output
    host::KvCache changed = cache;
    for (int i = 0; i < c.kv_dim(); ++i) changed.v(0, pos)[i] += 1.0f;
    const auto moved = run_attend(q, changed, 0, pos, c);
    const int hd = c.head_dim();
    for (int h = 0; h < c.n_heads; ++h)
      CHECK(moved[static_cast<std::size_t>(h * hd)] != before[static_cast<std::size_t>(h * hd)]);
  }
}

TEST_CASE("attend maps query head h to KV head h / group_size") {
  // Make each KV head's V a constant equal to its index: with any scores, output head h == h / group.
  const ModelConfig c = make_config(8, 2, 4);
  host::KvCache cache(1, 4, c.kv_dim());
  cache.reserve(0, 3);
  std::mt19937 rng(33);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int p = 0; p < 3; ++p)
    for (int kvh = 0; kvh < c.n_kv_heads; ++kvh)
      for (int i = 0; i < c.head_dim(); ++i) {
        cache.k(0, p)[kvh * c.head_dim() + i] = g(rng);
        cache.v(0, p)[kvh * c.head_dim() + i] = static_cast<float>(kvh + 1);
      }
  std::vector<float> q(static_cast<std::size_t>(c.dim));
  for (auto& v : q) v = g(rng);
  const auto out = run_attend(q, cache, 0, 2, c);
  for (int h = 0; h < c.n_heads; ++h)
    for (int i = 0; i < c.head_dim(); ++i)
      CHECK(out[static_cast<std::size_t>(h * c.head_dim() + i)] ==
            doctest::Approx(h / (c.n_heads / c.n_kv_heads) + 1).epsilon(1e-6));
}

TEST_CASE("KvCache: layout, overflow, gaps, set_length and rollback by rewrite") {
  host::KvCache cache(3, 8, 5);
  CHECK(cache.capacity() == 8);
  CHECK(cache.kv_dim() == 5);
  CHECK(cache.n_layers() == 3);
  CHECK(cache.length() == 0);
  CHECK(cache.filled() == 0);

  SUBCASE("slots are distinct, contiguous [layer][position][kv_dim], and K and V do not alias") {
    for (int l = 0; l < 3; ++l)
      for (int p = 0; p < 8; ++p)
        for (int i = 0; i < 5; ++i) {
          cache.k(l, p)[i] = static_cast<float>(100 * l + 10 * p + i);
          cache.v(l, p)[i] = -static_cast<float>(100 * l + 10 * p + i) - 1.0f;
        }
    const host::KvCache& cc = cache;
    for (int l = 0; l < 3; ++l)
      for (int p = 0; p < 8; ++p)
        for (int i = 0; i < 5; ++i) {
          REQUIRE(cc.k(l, p)[i] == static_cast<float>(100 * l + 10 * p + i));
          REQUIRE(cc.v(l, p)[i] == -static_cast<float>(100 * l + 10 * p + i) - 1.0f);
        }
    CHECK(cache.k(0, 1) == cache.k(0, 0) + 5);
    CHECK(cache.k(1, 0) == cache.k(0, 7) + 5);
  }

  SUBCASE("overflow throws an Error mentioning overflow and leaves the counters unchanged") {
    auto expect_overflow = [&](int start, int m) {
      const int len = cache.length(), fil = cache.filled();
      try {
        cache.reserve(start, m);
        FAIL("reserve(" << start << ", " << m << ") did not throw");
      } catch (const skippy::Error& e) {
        CHECK(std::string(e.what()).find("overflow") != std::string::npos);
      }
      CHECK(cache.length() == len);
      CHECK(cache.filled() == fil);
    };
    expect_overflow(0, 9);
    cache.reserve(0, 8);  // exactly full is fine
    CHECK(cache.filled() == 8);
    expect_overflow(8, 1);
    expect_overflow(5, 4);
    expect_overflow(0, INT_MAX);
    expect_overflow(8, INT_MAX);  // start + m must not wrap around
  }

  SUBCASE("a gap throws; contiguous blocks are accepted") {
    cache.reserve(0, 2);
    CHECK(cache.filled() == 2);
    CHECK_THROWS_AS(cache.reserve(3, 1), skippy::Error);
    CHECK_THROWS_AS(cache.reserve(-1, 1), skippy::Error);
    CHECK_THROWS_AS(cache.reserve(2, 0), skippy::Error);
    CHECK(cache.filled() == 2);
    cache.reserve(2, 3);
    CHECK(cache.filled() == 5);
    CHECK(cache.length() == 0);
  }

  SUBCASE("set_length beyond filled throws; set_length commits or rolls back") {
    cache.reserve(0, 4);
    CHECK_THROWS_AS(cache.set_length(5), skippy::Error);
    CHECK_THROWS_AS(cache.set_length(-1), skippy::Error);
    CHECK(cache.length() == 0);
    CHECK(cache.filled() == 4);
    cache.set_length(4);
    CHECK(cache.length() == 4);
    cache.reserve(4, 3);  // draft scratch past the committed prefix
    CHECK(cache.length() == 4);
    CHECK(cache.filled() == 7);
    cache.set_length(5);  // commit one of the drafts
    CHECK(cache.length() == 5);
    CHECK(cache.filled() == 5);
    CHECK_THROWS_AS(cache.set_length(6), skippy::Error);
    cache.clear();
    CHECK(cache.length() == 0);
    CHECK(cache.filled() == 0);
  }

  SUBCASE("writing at start < length drops length to start") {
    cache.reserve(0, 6);
    cache.set_length(6);
    cache.reserve(3, 2);
    CHECK(cache.length() == 3);
    CHECK(cache.filled() == 5);
    cache.reserve(5, 1);  // writing at or past length keeps it
    CHECK(cache.length() == 3);
    CHECK(cache.filled() == 6);
    cache.reserve(0, 1);
    CHECK(cache.length() == 0);
    CHECK(cache.filled() == 1);
  }

  CHECK_THROWS_AS(host::KvCache(0, 8, 5), skippy::Error);
  CHECK_THROWS_AS(host::KvCache(1, 0, 5), skippy::Error);
  CHECK_THROWS_AS(host::KvCache(1, 8, 0), skippy::Error);
}
