// kernels::grouped_attention against the host's attention (host::attend) over head sizes, group sizes,
// blocks that span several row tiles and positions on both sides of chunk boundaries; a row's bits alone
// and in a block; the position read on the device; its 8-bit output; the cases it refuses.

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../support/gpu.hpp"
#include "../support/row_error.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace skippy;
namespace k = skippy::cuda::kernels;

namespace {

// One layer's cache of `capacity` positions and m query rows, random but fixed, on the host and the device,
// with the split workspace of blocks of up to m rows.
struct Case {
  ModelConfig c;
  int m, capacity;
  host::KvCache hc;
  std::vector<float> q;
  skippy::cuda::DeviceBuffer<float> dq, kc, vc, partial, out;
  skippy::cuda::DeviceBuffer<unsigned> counters;

  Case(int head_dim, int n_heads, int n_kv, int rows, int cap)
      : c(config(head_dim, n_heads, n_kv)), m(rows), capacity(cap), hc(1, cap, c.kv_dim()),
        q(static_cast<std::size_t>(rows) * c.dim), dq(q.size()),
        kc(static_cast<std::size_t>(cap) * c.kv_dim()), vc(kc.size()),
        partial(k::attention_partial_floats(rows, n_heads, head_dim, cap)), out(q.size()),
        counters(k::attention_counters(rows, n_heads)) {
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.37f * static_cast<float>(i) + 0.1f);
    for (int p = 0; p < cap; ++p)
      for (int e = 0; e < c.kv_dim(); ++e) {
        const float x = static_cast<float>(p * c.kv_dim() + e);
        hc.k(0, p)[e] = std::cos(0.071f * x) * 1.5f;
        hc.v(0, p)[e] = std::sin(0.013f * x + 0.5f);
      }
    dq.upload(q.data(), q.size());
    kc.upload(hc.k(0, 0), kc.size());
    vc.upload(hc.v(0, 0), vc.size());
    REQUIRE(cudaMemset(counters.data(), 0, counters.size() * sizeof(unsigned)) == cudaSuccess);
  }
  static ModelConfig config(int head_dim, int n_heads, int n_kv) {
    ModelConfig c;
    c.n_layers = 1;
    c.dim = head_dim * n_heads;
    c.n_heads = n_heads;
    c.n_kv_heads = n_kv;
    c.ffn_dim = c.dim;
    c.vocab = 8;
    return c;
  }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(c.head_dim())); }

  // Rows [0, rows) of the queries at positions start.., with n_splits splits (0: those of the last row);
  // the output downloaded after every output slot was first set to NaN.
  std::vector<float> run(int start, int rows, int n_splits = 0, const int* device_start = nullptr,
                         std::int8_t* q8 = nullptr, float* q8_scales = nullptr) {
    std::vector<float> nan(out.size(), std::numeric_limits<float>::quiet_NaN());
    out.upload(nan.data(), nan.size());
    const int splits = n_splits > 0 ? n_splits : (start + rows - 1) / k::attention_chunk + 1;
    const k::Position at = device_start != nullptr ? k::Position{0, device_start} : k::Position::at(start);
    const cudaError_t e = k::launch_grouped_attention(dq.data(), kc.data(), vc.data(), rows, c.n_heads, c.n_kv_heads,
                                                      c.head_dim(), at, splits, k::attention_splits(capacity), scale(),
                                                      partial.data(), counters.data(), out.data(), q8, q8_scales,
                                                      nullptr);
    REQUIRE(e == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<float> got = test::on_host(out);
    got.resize(static_cast<std::size_t>(rows) * c.dim);
    return got;
  }
  // host::attend of row i at position pos.
  std::vector<float> host_row(int i, int pos) {
    std::vector<float> o(static_cast<std::size_t>(c.dim)), scores(static_cast<std::size_t>(pos) + 1);
    host::attend(q.data() + static_cast<std::size_t>(i) * c.dim, hc, 0, pos, c, o.data(), scores.data());
    return o;
  }
};

}  // namespace

TEST_CASE("kernels::grouped_attention equals host::attend within float rounding, a row's bits the same alone, in "
          "any block and with the position on the device") {
  SKIPPY_SKIP_WITHOUT_GPU("grouped attention vs host");
  REQUIRE(k::grouped_attention_prepare() > 0);
  struct Shape {
    int head_dim, n_heads, n_kv;
  };
  // Groups of 1 to 32 (tiles of 32 rows down to 1; 3 leaves pairs of a tile unused), head sizes 32 to 256;
  // blocks of 11 rows, and of 40 (several tiles for every group).
  std::vector<Shape> shapes = {{32, 4, 4},  {64, 4, 2},  {128, 8, 2}, {128, 16, 2},
                               {256, 4, 1}, {64, 48, 3}, {32, 24, 8}, {64, 32, 1}};
  std::vector<int> starts = {0, 3, k::attention_chunk - 5, 2 * k::attention_chunk - 1, 3 * k::attention_chunk + 20};
  if (test::sanitizer_run()) {  // an access or race shows in one launch; the sanitizers run them slowly
    shapes = {{128, 8, 2}, {64, 48, 3}};
    starts = {3, 2 * k::attention_chunk - 1};
  }
  const int C = k::attention_chunk, capacity = 3 * C + 80;
  const std::vector<int> blocks = test::sanitizer_run() ? std::vector<int>{11} : std::vector<int>{11, 40};
  for (const Shape& s : shapes)
    for (const int m : blocks) {
      Case t(s.head_dim, s.n_heads, s.n_kv, m, capacity);
      const int group = s.n_heads / s.n_kv;
      if (!k::grouped_attention_supported(s.head_dim, group)) {
        // Every sm_80+ device gives a block the 99 KB that heads of up to 128 values take.
        REQUIRE(s.head_dim > 128);
        MESSAGE("head_dim ", s.head_dim, ": more shared memory than this device gives a block; not run");
        continue;
      }
      // Positions from the first chunk, a block inside a chunk, and blocks across one and two boundaries.
      for (const int start : starts) {
        INFO("head_dim ", s.head_dim, ", ", s.n_heads, " heads over ", s.n_kv, ", block of ", m, " at ", start);
        const std::vector<float> block = t.run(start, m);
        std::vector<float> want;
        for (int i = 0; i < m; ++i) {
          const std::vector<float> row = t.host_row(i, start + i);
          want.insert(want.end(), row.begin(), row.end());
        }
        // Per row (head by head together): the host sums up to 440 keys one after another (about n ulps of
        // error at worst), here chunk by chunk. A wrong key, scale or weight is an error of order 1e-1; an
        // output left unwritten is NaN.
        const double e = test::row_error(block, want, t.c.dim);
        INFO("relative error ", e);
        CHECK(e <= 1e-4);
        // Each row alone (a block of one at its own position, query row i moved to row 0 on the device) and
        // the first rows as a shorter block: the block's bits.
        for (int i = 0; i < m; i += 3) {
          t.dq.upload(t.q.data() + static_cast<std::size_t>(i) * t.c.dim, static_cast<std::size_t>(t.c.dim));
          const std::vector<float> one = t.run(start + i, 1);
          t.dq.upload(t.q.data(), t.q.size());
          INFO("row ", i, " alone");
          CHECK(std::memcmp(one.data(), block.data() + static_cast<std::size_t>(i) * t.c.dim,
                            one.size() * sizeof(float)) == 0);
        }
        const std::vector<float> shorter = t.run(start, 5);
        CHECK(std::memcmp(shorter.data(), block.data(), shorter.size() * sizeof(float)) == 0);
        // The position on the device, with every split of the cache launched (a replayed graph's launch).
        skippy::cuda::DeviceBuffer<int> position(1);
        position.upload(&start, 1);
        const std::vector<float> replayed = t.run(start, m, k::attention_splits(capacity), position.data());
        CHECK(std::memcmp(replayed.data(), block.data(), block.size() * sizeof(float)) == 0);
      }
    }
}

TEST_CASE("kernels::grouped_attention's 8-bit output has quantize_activations' bits over its float output") {
  SKIPPY_SKIP_WITHOUT_GPU("grouped attention 8-bit output");
  const int m = 5, capacity = 300;
  Case t(64, 8, 2, m, capacity);
  const std::size_t n = static_cast<std::size_t>(m) * t.c.dim;
  skippy::cuda::DeviceBuffer<std::int8_t> q8(n), q8_again(n);
  skippy::cuda::DeviceBuffer<float> s(n / quant::qk), s_again(n / quant::qk), floats(n);
  for (const int start : {4, 290}) {  // one split, three splits
    CAPTURE(start);
    const std::vector<float> unset(s.size(), -1.0f);
    s.upload(unset.data(), unset.size());
    const std::vector<float> plain = t.run(start, m);
    const std::vector<float> with_q8 = t.run(start, m, 0, nullptr, q8.data(), s.data());
    CHECK(std::memcmp(plain.data(), with_q8.data(), plain.size() * sizeof(float)) == 0);
    floats.upload(with_q8.data(), n);
    REQUIRE(skippy::cuda::quantize_activations(floats.data(), m, t.c.dim, q8_again.data(), s_again.data()) ==
            cudaSuccess);
    CHECK(test::same_bytes(q8, q8_again));
    CHECK(test::same_bytes(s, s_again));
    const std::vector<float> scales = test::on_host(s);
    CHECK(*std::min_element(scales.begin(), scales.end()) > 0.0f);  // every block written (was -1)
  }
}

TEST_CASE("kernels::grouped_attention refuses heads and operands it cannot take, launching nothing") {
  SKIPPY_SKIP_WITHOUT_GPU("grouped attention refusals");
  CHECK_FALSE(k::grouped_attention_fits(48, 1));   // not a multiple of 32
  CHECK_FALSE(k::grouped_attention_fits(96, 1));   // 24 quads do not divide 256 threads
  CHECK_FALSE(k::grouped_attention_fits(16, 1));
  CHECK_FALSE(k::grouped_attention_fits(64, 64));  // more heads per KV head than a block scores
  CHECK(k::grouped_attention_fits(128, 8));
  Case t(64, 4, 2, 2, 64);
  const auto launch = [&](const float* q, int head_dim, int n_kv) {
    return k::launch_grouped_attention(q, t.kc.data(), t.vc.data(), 2, 4, n_kv, head_dim, k::Position::at(0), 1,
                                       k::attention_splits(64), 1.0f, t.partial.data(), t.counters.data(),
                                       t.out.data(), nullptr, nullptr, nullptr);
  };
  std::vector<float> nan(t.out.size(), std::numeric_limits<float>::quiet_NaN());
  t.out.upload(nan.data(), nan.size());
  CHECK(launch(t.dq.data() + 1, 64, 2) == cudaErrorNotSupported);  // 4-byte aligned queries
  CHECK(launch(t.dq.data(), 48, 2) == cudaErrorNotSupported);
  CHECK(launch(t.dq.data(), 64, 3) == cudaErrorInvalidValue);  // 4 heads over 3 KV heads
  CHECK(k::launch_grouped_attention(t.dq.data(), t.kc.data(), t.vc.data(), 2, 4, 2, 64, k::Position::at(0), 2, 1,
                                    1.0f, t.partial.data(), t.counters.data(), t.out.data(), nullptr, nullptr,
                                    nullptr) == cudaErrorInvalidValue);  // more splits than the partials hold
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  const std::vector<float> out = test::on_host(t.out);
  CHECK(std::all_of(out.begin(), out.end(), [](float x) { return std::isnan(x); }));  // nothing ran
}
