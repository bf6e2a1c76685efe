// The device sampling kernels against the host rules they reproduce: the warp (temperature, top-k,
// top-p, ties), categorical draws, the speculative-sampling draft draws and acceptance, and typical
// acceptance. Float sums run in another order on the device, so a draw may differ from the host's only
// where a cumulative sum lies within rounding of its boundary: the tests allow a handful of such cases
// in hundreds and check that the mismatches found are of that kind where they can tell.

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../support/gpu.hpp"
#include "../support/sampling_compare.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <set>
#include <utility>
#include <vector>

using namespace skippy;
namespace kernels = skippy::cuda::kernels;
using skippy::cuda::DeviceBuffer;
using skippy::test::random_logits;

namespace {

template <class T>
DeviceBuffer<T> to_device(const std::vector<T>& v) {
  DeviceBuffer<T> d(v.size());
  d.upload(v.data(), v.size());
  return d;
}
template <class T>
std::vector<T> to_host(const DeviceBuffer<T>& d, std::size_t n) {
  std::vector<T> v(n);
  d.download(v.data(), n);
  return v;
}
void synced(const char* what) {
  skippy::cuda::check(cudaGetLastError(), what);
  skippy::cuda::check(cudaDeviceSynchronize(), what);
}

template <int Threads = kernels::sample_threads>
__global__ void sample_kernel(const float* w, int n, const float* u, int* out) {
  __shared__ typename kernels::BlockAll<Threads>::Storage storage;
  kernels::BlockAll<Threads> all(storage);
  const int token = kernels::sample_row(w + static_cast<long>(blockIdx.x) * n, n, u[blockIdx.x], all);
  if (threadIdx.x == 0) out[blockIdx.x] = token;
}

}  // namespace

namespace {

// launch_warp_rows, then launch_warp_sample_rows over the same scratch (Capacity: the candidates the
// kernels may hold); the warped rows of both, and the draws.
struct Warped {
  std::vector<float> p, q;
  std::vector<int> tokens;
  int bad;
};
template <int Capacity>
Warped warp_on_device(const DeviceBuffer<float>& dx, int n, int rows, const sampling::WarpParams& w,
                      const DeviceBuffer<kernels::StepKey>& key) {
  const skippy::cuda::WarpScratchBuffer scratch(n, rows);
  DeviceBuffer<float> dp(static_cast<std::size_t>(rows) * n), dq(dp.size());
  DeviceBuffer<int> bad(1), tokens(rows);
  const std::vector<int> zero = {0};
  bad.upload(zero.data(), 1);
  skippy::cuda::check(kernels::launch_warp_rows<kernels::sample_threads, Capacity>(dx.data(), n, rows, w, dp.data(),
                                                                                     bad.data(), scratch.get()),
                      "warp rows");
  skippy::cuda::check(kernels::launch_warp_sample_rows<kernels::sample_threads, Capacity>(
                          dx.data(), n, rows, w, dq.data(), 0, key.data(), tokens.data(), bad.data(), scratch.get()),
                      "warp and draw rows");
  synced("sampling warp");
  return {to_host(dp, dp.size()), to_host(dq, dq.size()), to_host(tokens, rows), to_host(bad, 1)[0]};
}

}  // namespace

TEST_CASE("cuda warp_rows equals sampling::warp: temperature, top-k, top-p and their ties; draft draws") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda warp");
  // Rows of one chunk (one block a row) and of many (kernels/warp_chunks.cuh: 8, 32 and 64 chunks).
  // Exact ties where each level holds few tokens, and across chunks (top-p's boundary then falls in a
  // long run of ties, which compare_warp allows for). Scale 6: peaked rows, whose top-p cut the groups'
  // maxima bound. Capacity 64: too few candidates for the tied rows (the whole-row search).
  struct Shape {
    int n;
    bool ties;
    float scale;
    bool small_capacity;
  };
  const DeviceBuffer<kernels::StepKey> key = to_device(std::vector<kernels::StepKey>{{7, 100, 0}});
  for (const Shape shape : {Shape{1000, true, 2, false}, Shape{1000, false, 2, false}, Shape{32000, false, 2, false},
                            Shape{32000, false, 6, false}, Shape{128256, false, 6, false}, Shape{1000, true, 2, true},
                            Shape{20001, true, 2, true}, Shape{300000, false, 6, false}}) {
    if (skippy::test::sanitizer_run() && shape.n > 32000) continue;  // the sanitizers' time: the others suffice
    const int n = shape.n;
    const bool ties = shape.ties;
    const int rows = skippy::test::emulated && n > 32000 ? 2 : 6;
    const auto x = random_logits(rows, n, ties, static_cast<std::uint32_t>(n + ties), shape.scale);
    const auto dx = to_device(x);
    for (const auto& w : skippy::test::warp_grid()) {
      const Warped got = shape.small_capacity ? warp_on_device<64>(dx, n, rows, w, key)
                                              : warp_on_device<kernels::sample_candidates>(dx, n, rows, w, key);
      CHECK(got.bad == 0);
      CHECK(got.q == got.p);
      for (int r = 0; r < rows; ++r) {
        const float* p = got.p.data() + static_cast<long>(r) * n;
        const auto c = skippy::test::compare_warp(x.data() + static_cast<long>(r) * n, p, n, w);
        const float u = rng::uniform(7, {static_cast<std::uint32_t>(r), 100u, rng::Purpose::draft_sample, 0u});
        const int want = sampling::sample_categorical(p, n, u), token = got.tokens[static_cast<std::size_t>(r)];
        INFO("n ", n, ties ? " tied" : "", " scale ", shape.scale, shape.small_capacity ? " capacity 64" : "", " T ",
             w.temperature, " top_k ", w.top_k, " top_p ", w.top_p, " row ", r, " kept ", c.kept, " flipped ", c.only,
             " (allowed ", c.may_flip, ") differ ", c.differ, " mass ", c.mass, " drew ", token, " host ", want);
        CHECK(c.ok(w));
        CHECK((token == want || skippy::test::draws_at_boundary(p, n, u, token, want)));
      }
    }
  }
}

TEST_CASE("cuda warp_rows at tiny temperatures (logit / T overflows) and a subnormal top_p equals sampling::warp") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda warp tiny temperatures");
  const DeviceBuffer<kernels::StepKey> key = to_device(std::vector<kernels::StepKey>{{7, 100, 0}});
  for (const int n : {1000, 32000, 20001}) {  // one block a row; chunks; tied maxima across chunks
    const bool ties = n != 32000;
    const int rows = 4;
    const auto x = random_logits(rows, n, ties, static_cast<std::uint32_t>(n + 11));
    const auto dx = to_device(x);
    auto warps = skippy::test::tiny_temperature_warps();
    for (const auto& w : skippy::test::subnormal_top_p_warps()) warps.push_back(w);
    for (const auto& w : warps) {
      const Warped got = warp_on_device<kernels::sample_candidates>(dx, n, rows, w, key);
      CHECK(got.bad == 0);
      for (int r = 0; r < rows; ++r) {
        const auto c = skippy::test::compare_warp(x.data() + static_cast<long>(r) * n,
                                                  got.p.data() + static_cast<long>(r) * n, n, w);
        INFO("n ", n, " T ", w.temperature, " top_k ", w.top_k, " top_p ", w.top_p, " row ", r, " kept ", c.kept,
             " mass ", c.mass);
        CHECK(c.ok(w));
      }
    }
  }
}

TEST_CASE("cuda warp_rows at huge temperatures over logits at float's range ends equals sampling::warp") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda warp huge temperatures");
  const DeviceBuffer<kernels::StepKey> key = to_device(std::vector<kernels::StepKey>{{7, 100, 0}});
  for (const int n : {1000, 32000}) {  // one block a row; chunks
    const int rows = 2;
    auto x = random_logits(rows, n, false, static_cast<std::uint32_t>(n + 13));
    // Differences that overflow float (-1e38 - 3e38) but not once scaled; spread over the row's chunks.
    const float ends[] = {3e38f, -3e38f, 1e38f, -1e38f, FLT_MAX, -FLT_MAX};
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < 6; ++j) x[static_cast<std::size_t>(r * n + (j * 7919 + r * 101) % n)] = ends[j];
    const auto dx = to_device(x);
    for (const float t : {8e37f, 1e36f})
      for (const int top_k : {0, 3}) {
        const sampling::WarpParams w{t, top_k, top_k ? 0.9f : 1.0f};
        const Warped got = warp_on_device<kernels::sample_candidates>(dx, n, rows, w, key);
        CHECK(got.bad == 0);
        for (int r = 0; r < rows; ++r) {
          const auto c = skippy::test::compare_warp(x.data() + static_cast<long>(r) * n,
                                                    got.p.data() + static_cast<long>(r) * n, n, w);
          INFO("n ", n, " T ", t, " top_k ", top_k, " row ", r, " kept ", c.kept, " mass ", c.mass);
          CHECK(c.ok(w));
        }
      }
  }
}

TEST_CASE("cuda warp_rows flags a non-finite logit") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda warp flag");
  const DeviceBuffer<kernels::StepKey> key = to_device(std::vector<kernels::StepKey>{{7, 100, 0}});
  for (const int n : {300, 20000}) {  // one block a row; chunks
    std::vector<float> x = random_logits(2, n, false, 5);
    x[static_cast<std::size_t>(n) + static_cast<std::size_t>(n) * 2 / 3] = NAN;
    const Warped got =
        warp_on_device<kernels::sample_candidates>(to_device(x), n, 2, sampling::WarpParams{0.8f, 40, 0.9f}, key);
    INFO("n ", n);
    CHECK(got.bad == 1);
    for (const int t : got.tokens) CHECK((t >= 0 && t < n));  // meaningless, but in the vocabulary
  }
}

TEST_CASE("cuda sample_row draws sampling::sample_categorical's token") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda categorical");
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (const int n : {7, 513, 32000, 128256}) {
    const int rows = 400;
    std::vector<float> w(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n)), u(rows);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = unit(rng) < 0.3f ? 0.0f : unit(rng);  // sparse, like top-p
    for (float& x : u) x = static_cast<float>(static_cast<std::uint32_t>(unit(rng) * 16777216.0f)) / 16777216.0f;
    u[0] = 0.0f;
    u[1] = 16777215.0f / 16777216.0f;  // the extremes of rng::uniform
    const auto dw = to_device(w), du = to_device(u);
    DeviceBuffer<int> out(rows);
    sample_kernel<<<rows, kernels::sample_threads>>>(dw.data(), n, du.data(), out.data());
    synced("sample_row");
    const auto got = to_host(out, rows);
    int mismatches = 0;
    for (int r = 0; r < rows; ++r) {
      const float* row = w.data() + static_cast<long>(r) * n;
      const int want = sampling::sample_categorical(row, n, u[static_cast<std::size_t>(r)]);
      const int g = got[static_cast<std::size_t>(r)];
      REQUIRE(g >= 0);
      REQUIRE(g < n);
      CHECK(row[g] > 0.0f);
      if (g == want) continue;
      ++mismatches;
      INFO("n ", n, " row ", r, " device ", g, " host ", want);
      CHECK(skippy::test::draws_at_boundary(row, n, u[static_cast<std::size_t>(r)], g, want));
    }
    // Mismatches are allowed only at rounding-close boundaries (checked above).
    MESSAGE("n ", n, ": ", mismatches, " of ", rows, " draws differ from the host, all at rounding-close boundaries");
  }
}

namespace {

struct SpecCase {
  std::vector<int> drafts;
  accept::Verdict verdict;
};

// One step of speculative sampling on k draft rows and k + 1 target rows, on the host rule and on the
// device kernels, with the same seed and position.
SpecCase host_step(const std::vector<float>& draft, const std::vector<float>& target, int k, int n,
                   const sampling::WarpParams& w, std::uint64_t seed) {
  accept::SpeculativeSampling rule({w}, n);
  const accept::StepContext ctx{seed, 17u, 0u};
  SpecCase c;
  for (int i = 0; i < k; ++i) c.drafts.push_back(rule.propose(i, draft.data() + static_cast<long>(i) * n, ctx));
  c.verdict = rule.verify(target.data(), c.drafts.data(), k, ctx);
  return c;
}

SpecCase device_step(const DeviceBuffer<float>& draft, const DeviceBuffer<float>& target, int k, int n,
                     const sampling::WarpParams& w, std::uint64_t seed) {
  DeviceBuffer<float> p(static_cast<std::size_t>(k + 1) * n), q(static_cast<std::size_t>(k) * n);
  DeviceBuffer<int> state(4 + k + 1);  // verdict n, next, bad, pad | x_t d_1..d_k
  const std::vector<int> zero(static_cast<std::size_t>(4 + k + 1), 0);
  state.upload(zero.data(), zero.size());
  const auto key = to_device(std::vector<kernels::StepKey>{{seed, 17, 0}});
  int* s = state.data();
  const skippy::cuda::WarpScratchBuffer scratch(n, k + 1);
  skippy::cuda::check(kernels::launch_warp_sample_rows(draft.data(), n, k, w, q.data(), 0, key.data(), s + 5, s + 2,
                                                       scratch.get()),
                      "draft draws");
  skippy::cuda::check(kernels::launch_warp_rows(target.data(), n, k + 1, w, p.data(), s + 2, scratch.get()),
                      "target warp");
  skippy::cuda::check(kernels::launch_speculative_accept(p.data(), q.data(), s + 4, k, n, key.data(), s, s + 4, nullptr,
                                                         scratch.get()),
                      "speculative acceptance");
  synced("speculative sampling kernels");
  const auto h = to_host(state, zero.size());
  REQUIRE(h[2] == 0);
  return {std::vector<int>(h.begin() + 5, h.end()), {h[0], h[1]}};
}

}  // namespace

TEST_CASE("cuda speculative sampling kernels draw the host rule's drafts and verdicts") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda speculative sampling kernels");
  const int k = 3;
  for (const int n : {96, 9000}) {  // one block a row; three chunks (kernels/warp_chunks.cuh)
    for (const sampling::WarpParams& w : {sampling::WarpParams{1.0f, 0, 1.0f}, sampling::WarpParams{0.8f, 20, 0.9f}}) {
      std::set<int> accepted;
      int mismatches = 0;
      const bool quick = skippy::test::sanitizer_run();
      const int trials = quick ? 12 : skippy::test::emulated ? (n < 1000 ? 100 : 30) : n < 1000 ? 300 : 100;
      for (int trial = 0; trial < trials; ++trial) {
        // Target = draft + noise: the drafts are often, not always, accepted.
        const auto draft = random_logits(k, n, false, static_cast<std::uint32_t>(1000 + trial));
        auto target = random_logits(k + 1, n, false, static_cast<std::uint32_t>(5000 + trial), 0.7f);
        for (std::size_t i = 0; i < draft.size(); ++i) target[i] += draft[i];
        const auto seed = static_cast<std::uint64_t>(trial) * 7919u;
        const SpecCase want = host_step(draft, target, k, n, w, seed);
        const SpecCase got = device_step(to_device(draft), to_device(target), k, n, w, seed);
        accepted.insert(want.verdict.accepted);
        if (got.drafts == want.drafts && got.verdict.accepted == want.verdict.accepted &&
            got.verdict.next == want.verdict.next)
          continue;
        ++mismatches;
        MESSAGE("trial ", trial, ": device n ", got.verdict.accepted, " next ", got.verdict.next, ", host n ",
                want.verdict.accepted, " next ", want.verdict.next);
      }
      INFO("n ", n, " T ", w.temperature, " top_k ", w.top_k, " top_p ", w.top_p);
      if (quick) continue;
      CHECK(mismatches <= trials / 100);
      CHECK(accepted.size() == static_cast<std::size_t>(k + 1));  // every count 0..k occurred
    }
  }
}

TEST_CASE("cuda typical_accept returns Typical::verify's verdict") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda typical acceptance");
  constexpr int max_k = 4;
  const int n = 200;
  const bool quick = skippy::test::sanitizer_run();
  // T 1e-37: logit / T would overflow float, the rows are one-hot.
  for (const accept::TypicalParams params : {accept::TypicalParams{0.8f, 0.09f, 0.3f},
                                             accept::TypicalParams{1e-37f, 0.09f, 0.3f}}) {
    CAPTURE(params.temperature);
    accept::Typical rule(params, n);
    std::set<int> accepted;
    int compared = 0;
    // The tests and the arrival counter: reused by every trial with k varying, as the decoder does.
    DeviceBuffer<int> tested(max_k);
    DeviceBuffer<unsigned> arrived(1);
    const unsigned zero = 0;
    arrived.upload(&zero, 1);
    for (int trial = 0; trial < (quick ? 12 : 300); ++trial) {
      const int k = max_k - trial % max_k;
      const auto [target, block, decidable] = skippy::test::typical_trial(trial, k, n, params);
      if (!decidable) continue;  // the decision lies within rounding of the threshold
      const accept::Verdict want = rule.verify(target.data(), block.data() + 1, k, {});
      const auto dt = to_device(target);
      const auto db = to_device(block);
      DeviceBuffer<int> argmax(k + 1), verdict(2), bad(1);
      const int no = 0;
      bad.upload(&no, 1);
      skippy::cuda::check(kernels::launch_argmax(dt.data(), n, k + 1, argmax.data(), 1, bad.data(), {}), "argmax");
      skippy::cuda::check(kernels::launch_typical_accept(dt.data(), argmax.data(), db.data(), k, n, params,
                                                         tested.data(), arrived.data(), verdict.data(), db.data(),
                                                         nullptr),
                          "typical acceptance");
      synced("typical acceptance");
      const auto v = to_host(verdict, 2);
      INFO("trial ", trial);
      CHECK(v[0] == want.accepted);
      CHECK(v[1] == want.next);
      CHECK(to_host(db, 1)[0] == want.next);  // the next step's pending token
      CHECK(to_host(arrived, 1)[0] == 0u);    // the counter left at zero
      accepted.insert(want.accepted);
      ++compared;
    }
    if (quick) continue;
    CHECK(compared >= 250);
    CHECK(accepted.size() >= 3);
  }
}
