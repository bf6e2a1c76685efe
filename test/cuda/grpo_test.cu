// The GRPO CUDA kernels give the host kernels' results (same formulas; only the summation order differs).
// Compiled wherever nvcc exists; runs where a GPU exists, else skips visibly.

#include <doctest/doctest.h>

#include "../support/error_message.hpp"

#include <skippy/grpo/cuda.cuh>
#include <skippy/grpo/grpo.hpp>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

using namespace skippy;
using namespace skippy::grpo;

namespace {

bool have_gpu() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return false;
  }
  return true;
}

#define CUDA_OK(expr) REQUIRE((expr) == cudaSuccess)

// Whether fn throws a skippy::Error whose message holds needle; prints the message it got otherwise.
template <class F>
bool has(F&& fn, const std::string& needle) {
  std::string what = test::error_message(fn);
  if (what.empty()) what = "no error";
  const bool found = what.find(needle) != std::string::npos;
  if (!found) MESSAGE("wanted \"", needle, "\", got: ", what);
  return found;
}

template <class T>
struct Dev {
  T* p = nullptr;
  std::size_t n = 0;
  explicit Dev(std::size_t count) : n(count) { REQUIRE(cudaMalloc(&p, (count ? count : 1) * sizeof(T)) == cudaSuccess); }
  explicit Dev(const std::vector<T>& v) : Dev(v.size()) {
    if (n) REQUIRE(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> get() const {
    std::vector<T> v(n);
    if (n) REQUIRE(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
};

struct Batch {
  std::vector<float> pc, pr, rc, rr;
  std::vector<int> group;
};

Batch make(int n, int groups, int skip_group) {
  Batch b;
  for (int i = 0; i < n; ++i) {
    const float x = static_cast<float>(i);
    b.pc.push_back(-3.0f - 1.1f * std::sin(0.9f * x));
    b.pr.push_back(-3.2f + 0.8f * std::cos(1.3f * x));
    b.rc.push_back(-3.1f + 0.4f * std::sin(2.3f * x));
    b.rr.push_back(-3.0f - 0.3f * std::cos(0.4f * x));
    int g = (i * 7 + i / 5) % groups;
    if (g == skip_group) g = (g + 1) % groups;  // leave one group absent
    b.group.push_back(g);
  }
  return b;
}

template <class Method>
void check_step(typename Method::Params params, int n, int groups, int skip_group, bool absent_kept = true) {
  const Batch b = make(n, groups, skip_group);
  GroupState<float> host_state(groups);
  host_state.alpha[0] = 0.5f / static_cast<float>(groups);
  host_state.alpha[1] += 0.5f / static_cast<float>(groups);
  const std::vector<float> alpha0 = host_state.alpha;
  std::vector<StepResult<float>> host;
  std::vector<std::vector<float>> host_alpha;  // alpha after each step
  for (int it = 0; it < 3; ++it) {
    host.push_back(step<Method>(PreferenceBatch<float>{b.pc, b.pr, b.rc, b.rr, b.group}, params, host_state));
    host_alpha.push_back(host_state.alpha);
  }

  Dev<float> pc(b.pc), pr(b.pr), rc(b.rc), rr(b.rr), alpha(alpha0);
  Dev<int> group(b.group);
  const auto un = static_cast<std::size_t>(n), ug = static_cast<std::size_t>(groups);
  Dev<float> margin(un), loss(un), gsum(ug), gloss(ug), weight(ug), obj(1), dc(un), dr(un);
  Dev<int> gcount(ug);
  Dev<device::DeviceStatus> status(1);
  const device::DeviceStep<float> out{margin.p, loss.p, gsum.p, gloss.p, gcount.p, weight.p, obj.p, dc.p, dr.p};
  for (int it = 0; it < 3; ++it) {
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::step<Method>(pc.p, pr.p, rc.p, rr.p, group.p, n, groups, params, alpha.p, out, status.p, nullptr));
    device::check_status(status.p, nullptr);
    const StepResult<float>& h = host[static_cast<std::size_t>(it)];
    const auto d_loss = loss.get(), d_gloss = gloss.get(), d_w = weight.get(), d_dc = dc.get(), d_dr = dr.get();
    const auto d_count = gcount.get();
    const auto d_alpha = alpha.get();
    for (std::size_t i = 0; i < un; ++i) {
      CHECK(d_loss[i] == doctest::Approx(h.loss[i]).epsilon(1e-5));
      CHECK(d_dc[i] == doctest::Approx(h.d_chosen[i]).epsilon(1e-4).scale(1e-6));
      CHECK(d_dr[i] == doctest::Approx(h.d_rejected[i]).epsilon(1e-4).scale(1e-6));
    }
    for (std::size_t g = 0; g < ug; ++g) {
      CHECK(d_count[g] == h.group_count[g]);
      CHECK(d_gloss[g] == doctest::Approx(h.group_loss[g]).epsilon(1e-5));
      CHECK(d_w[g] == doctest::Approx(h.weight[g]).epsilon(1e-5));
      const auto& h_alpha = host_alpha[static_cast<std::size_t>(it)];
      if (Method::adaptive) CHECK(d_alpha[g] == doctest::Approx(h_alpha[g]).epsilon(1e-4));
    }
    CHECK(obj.get()[0] == doctest::Approx(h.objective).epsilon(1e-5));
  }
  if (Method::adaptive && skip_group >= 0 && absent_kept) CHECK(alpha.get()[static_cast<std::size_t>(skip_group)] == alpha0[static_cast<std::size_t>(skip_group)]);
}

}  // namespace

TEST_CASE("grpo CUDA kernels equal the host kernels") {
  if (!have_gpu()) {
    MESSAGE("skipped: no GPU");
    std::printf("skipped: no GPU (grpo_test)\n");
    return;
  }
  ObjectiveParams<UniformWeights> u;
  u.loss.beta = 0.5;
  check_step<DpoMethod>(u, 1000, 3, -1);
  check_step<IpoMethod>(u, 777, 5, 2);
  ObjectiveParams<BalancedWeights> bal;
  check_step<IsDpoMethod>(bal, 513, 4, -1);
  ObjectiveParams<GroupRobust> gr;
  gr.loss.beta = 0.3;
  gr.weighting.chi = 0.8;
  gr.weighting.eta_alpha = 0.7;
  check_step<GrDpoMethod>(gr, 1000, 3, -1);
  check_step<GrDpoMethod>(gr, 999, 6, 4);  // absent group keeps its alpha
  check_step<GrIpoMethod>(gr, 300, 300, -1);  // more groups than threads in the block
  gr.weighting.absent = AbsentGroups::zero_exponent;
  check_step<GrDpoMethod>(gr, 640, 4, 1, false);
  gr.weighting.mix = RobustMix::balanced;  // (1-chi)/G + chi alpha_g
  check_step<GrIpoMethod>(gr, 500, 5, 3, false);

  // Sequence log-probability forward and backward.
  const int B = 3, T = 7, V = 1000;
  const SequenceShape shape{B, T, V};
  std::vector<float> logits(shape.logits());
  for (std::size_t k = 0; k < logits.size(); ++k) logits[k] = 3.0f * std::sin(0.013f * static_cast<float>(k * (k % 13)));
  std::vector<int> targets(shape.positions());
  std::vector<std::uint8_t> mask(shape.positions());
  for (std::size_t p = 0; p < targets.size(); ++p) {
    targets[p] = static_cast<int>((p * 131) % V);
    mask[p] = p % T < 2 ? 0 : 1;
  }
  std::vector<float> lp(B), lse(shape.positions()), coef{0.5f, -1.25f, 2.0f}, dl(shape.logits());
  sequence_logprob(Span<const float>(logits), Span<const int>(targets), Span<const std::uint8_t>(mask), shape,
                   Span<float>(lp), Span<float>(lse));
  sequence_logprob_backward(Span<const float>(logits), Span<const int>(targets), Span<const std::uint8_t>(mask),
                            Span<const float>(lse), Span<const float>(coef), shape, Span<float>(dl));
  Dev<float> d_logits(logits), d_lp(static_cast<std::size_t>(B)), d_lse(shape.positions()), d_coef(coef),
      d_dl(shape.logits());
  Dev<int> d_targets(targets);
  Dev<std::uint8_t> d_mask(mask);
  Dev<device::DeviceStatus> status(1);
  CUDA_OK(device::reset_status(status.p, nullptr));
  CUDA_OK(device::sequence_logprob(d_logits.p, d_targets.p, d_mask.p, B, T, V, d_lp.p, d_lse.p, status.p, nullptr));
  CUDA_OK(device::sequence_logprob_backward(d_logits.p, d_targets.p, d_mask.p, d_lse.p, d_coef.p, B, T, V, d_dl.p,
                                            status.p, nullptr));
  device::check_status(status.p, nullptr);
  const auto g_lp = d_lp.get(), g_lse = d_lse.get(), g_dl = d_dl.get();
  for (std::size_t b = 0; b < static_cast<std::size_t>(B); ++b) CHECK(g_lp[b] == doctest::Approx(lp[b]).epsilon(1e-5));
  for (std::size_t p = 0; p < lse.size(); ++p) CHECK(g_lse[p] == doctest::Approx(lse[p]).epsilon(1e-5));
  for (std::size_t k = 0; k < dl.size(); ++k) CHECK(g_dl[k] == doctest::Approx(dl[k]).epsilon(1e-4).scale(1e-6));
}

TEST_CASE("grpo CUDA kernels report bad input through check_status") {
  if (!have_gpu()) {
    MESSAGE("skipped: no GPU");
    std::printf("skipped: no GPU (grpo_test errors)\n");
    return;
  }
  Batch b = make(64, 3, -1);
  b.group[17] = 9;
  b.rr[5] = std::numeric_limits<float>::quiet_NaN();
  {
    Batch one = b;
    one.rr[5] = 0.0f;
    Dev<float> pc(one.pc), pr(one.pr), rc(one.rc), rr(one.rr), margin(64), loss(64);
    Dev<int> group(one.group);
    Dev<device::DeviceStatus> status(1);
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::sample_losses<Dpo>(pc.p, pr.p, rc.p, rr.p, group.p, 64, 3, 0.1f, margin.p, loss.p, status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "group id 9 of sample 17"));
  }
  {
    Batch one = b;
    one.group[17] = 0;
    Dev<float> pc(one.pc), pr(one.pr), rc(one.rc), rr(one.rr), margin(64), loss(64);
    Dev<int> group(one.group);
    Dev<device::DeviceStatus> status(1);
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::sample_losses<Dpo>(pc.p, pr.p, rc.p, rr.p, group.p, 64, 3, 0.1f, margin.p, loss.p, status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "reference_rejected[5] is not finite"));
  }
}

TEST_CASE("grpo CUDA entry points reject bad parameters before launching, and keep alpha on bad data") {
  if (!have_gpu()) {
    MESSAGE("skipped: no GPU");
    std::printf("skipped: no GPU (grpo_test parameters)\n");
    return;
  }
  const int n = 64, groups = 3;
  Batch b = make(n, groups, -1);
  Dev<float> pc(b.pc), pr(b.pr), rc(b.rc), rr(b.rr), margin(n), loss(n), gsum(groups), gloss(groups),
      weight(groups), obj(1), dc(n), dr(n);
  Dev<int> group(b.group), gcount(groups);
  Dev<device::DeviceStatus> status(1);
  const device::DeviceStep<float> out{margin.p, loss.p, gsum.p, gloss.p, gcount.p, weight.p, obj.p, dc.p, dr.p};
  const std::vector<float> alpha0(groups, 1.0f / groups);
  Dev<float> alpha(alpha0);
  ObjectiveParams<GroupRobust> gr;
  // Throws on a rejected parameter (so no doctest assertion inside: it would catch the exception).
  const auto run = [&](const ObjectiveParams<GroupRobust>& p, int count, device::DeviceStatus* st) {
    if (device::reset_status(status.p, nullptr) != cudaSuccess) return false;
    return device::step<GrIpoMethod>(pc.p, pr.p, rc.p, rr.p, group.p, count, groups, p, alpha.p, out, st, nullptr) ==
           cudaSuccess;
  };
  const std::vector<float> sentinel(n, 7.0f);  // no kernel may write out before a parameter is rejected
  REQUIRE(cudaMemcpy(margin.p, sentinel.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  auto bad = gr;
  bad.loss.beta = 0.0;
  CHECK(has([&] { run(bad, n, status.p); }, "beta must be positive"));
  bad = gr;
  bad.weighting.chi = 1.5;
  CHECK(has([&] { run(bad, n, status.p); }, "chi must be in [0, 1]"));
  bad = gr;
  bad.weighting.eta_alpha = -1.0;
  CHECK(has([&] { run(bad, n, status.p); }, "eta_alpha must be finite"));
  CHECK(has([&] { run(gr, -5, status.p); }, "number of samples must be >= 0, got -5"));
  CHECK(has([&] { run(gr, n, nullptr); }, "status must not be null"));
  CHECK(has([&] {
    (void)device::step<GrIpoMethod>(pc.p, pr.p, rc.p, rr.p, group.p, n, groups, gr, static_cast<float*>(nullptr), out,
                                    status.p, nullptr);
  }, "GroupRobust needs alpha"));
  CHECK(margin.get() == sentinel);
  CHECK(has([&] { (void)device::sequence_logprob<float>(nullptr, nullptr, nullptr, -1, 4, 8, nullptr, nullptr, status.p,
                                                        nullptr); },
            "sequence shape must be non-negative"));
  CHECK(alpha.get() == alpha0);  // nothing ran

  // A loss that overflows (IPO of a margin of 1e20): the sample is named (as by the host's sample_losses);
  // its group loss is not finite, so alpha is kept.
  std::vector<float> huge = b.pc;
  huge[3] = 1e20f;
  REQUIRE(cudaMemcpy(pc.p, huge.data(), huge.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(run(gr, n, status.p));
  CHECK(has([&] { device::check_status(status.p, nullptr); }, "the margin or loss of sample 3 is not finite"));
  CHECK(alpha.get() == alpha0);
  // A negative alpha: reported, kept.
  REQUIRE(cudaMemcpy(pc.p, b.pc.data(), b.pc.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  std::vector<float> negative = alpha0;
  negative[1] = -0.25f;
  REQUIRE(cudaMemcpy(alpha.p, negative.data(), negative.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(run(gr, n, status.p));
  CHECK(has([&] { device::check_status(status.p, nullptr); }, "alpha[1] must be finite and >= 0"));
  CHECK(alpha.get() == negative);
  REQUIRE(cudaMemcpy(alpha.p, alpha0.data(), alpha0.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  // Faults step 1 reports while the group losses stay finite: the host rejects such a batch before mirror
  // ascent, so alpha is kept. A group id out of range (its sample left out of every group) ...
  std::vector<int> stray = b.group;
  stray[5] = groups + 4;
  REQUIRE(cudaMemcpy(group.p, stray.data(), stray.size() * sizeof(int), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(run(gr, n, status.p));
  CHECK(has([&] { device::check_status(status.p, nullptr); }, "group id 7 of sample 5 is out of range"));
  CHECK(alpha.get() == alpha0);
  REQUIRE(cudaMemcpy(group.p, b.group.data(), b.group.size() * sizeof(int), cudaMemcpyHostToDevice) == cudaSuccess);
  // ... and, under DPO, a log-probability of +inf (margin +inf, loss -log sigmoid(inf) = 0: finite).
  std::vector<float> inf = b.pc;
  inf[2] = std::numeric_limits<float>::infinity();
  REQUIRE(cudaMemcpy(pc.p, inf.data(), inf.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(device::reset_status(status.p, nullptr) == cudaSuccess);
  CUDA_OK(device::step<GrDpoMethod>(pc.p, pr.p, rc.p, rr.p, group.p, n, groups, gr, alpha.p, out, status.p, nullptr));
  CHECK(has([&] { device::check_status(status.p, nullptr); }, "policy_chosen[2] is not finite"));
  CHECK(alpha.get() == alpha0);
  REQUIRE(cudaMemcpy(pc.p, b.pc.data(), b.pc.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  // Caller counts summing past INT_MAX: reported (as the host's group_weights), alpha kept.
  {
    Dev<int> counts(std::vector<int>{INT_MAX, 1, 0});
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::update_weights<GroupRobust>(alpha.p, gloss.p, counts.p, groups, gr.weighting, weight.p, obj.p,
                                                status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "group counts sum to more than 2147483647"));
    CHECK(alpha.get() == alpha0);
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::update_weights<UniformWeights>(static_cast<float*>(nullptr), gloss.p, counts.p, groups, {},
                                                   weight.p, obj.p, status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "group counts sum to more than 2147483647"));
  }
  // And a good step after them moves alpha.
  REQUIRE(run(gr, n, status.p));
  device::check_status(status.p, nullptr);
  CHECK(alpha.get() != alpha0);
}

TEST_CASE("grpo CUDA kernels: float sums and the mirror-ascent step in double; a bad backward target is reported") {
  if (!have_gpu()) {
    MESSAGE("skipped: no GPU");
    std::printf("skipped: no GPU (grpo_test precision)\n");
    return;
  }
  Dev<device::DeviceStatus> status(1);
  {  // 1e4 then 1e5 x 1e-4, as the host test: a float sum would stay at 1e4.
    std::vector<float> l(100001, 1e-4f);
    l[0] = 1e4f;
    const int n = static_cast<int>(l.size());
    Dev<float> loss(l), gsum(1), gloss(1);
    Dev<int> group(std::vector<int>(l.size(), 0)), gcount(1);
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::group_reduce(group.p, loss.p, n, 1, gsum.p, gcount.p, gloss.p, status.p, nullptr));
    device::check_status(status.p, nullptr);
    CHECK(gcount.get()[0] == n);
    CHECK(gsum.get()[0] == doctest::Approx(1e4 + 1e5 * static_cast<double>(1e-4f)).epsilon(1e-6));
  }
  {  // eta L = 1e39 overflows float, not double: all mass on the larger loss, as on the host.
    Dev<float> alpha(std::vector<float>{0.5f, 0.5f}), gloss(std::vector<float>{100.0f, 50.0f}), weight(2), obj(1);
    Dev<int> gcount(std::vector<int>{3, 4});
    GroupRobustParams p{1.0, 1e37, AbsentGroups::keep_alpha};
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::update_weights<GroupRobust>(alpha.p, gloss.p, gcount.p, 2, p, weight.p, obj.p, status.p, nullptr));
    device::check_status(status.p, nullptr);
    CHECK(alpha.get() == std::vector<float>{1.0f, std::numeric_limits<float>::min()});
    // A positive alpha stays at least the smallest normal float (a 0 would be permanent): the group
    // behind regains the weight once its losses lead, as on the host.
    const Dev<float> first(std::vector<float>{1.0f, 0.0f}), second(std::vector<float>{0.0f, 1.0f});
    const GroupRobustParams q{1.0, 5.0, AbsentGroups::keep_alpha};
    CUDA_OK(device::reset_status(status.p, nullptr));
    for (int k = 0; k < 40; ++k)
      CUDA_OK(
          device::update_weights<GroupRobust>(alpha.p, first.p, gcount.p, 2, q, weight.p, obj.p, status.p, nullptr));
    device::check_status(status.p, nullptr);
    CHECK(alpha.get()[1] == std::numeric_limits<float>::min());
    for (int k = 0; k < 80; ++k)
      CUDA_OK(
          device::update_weights<GroupRobust>(alpha.p, second.p, gcount.p, 2, q, weight.p, obj.p, status.p, nullptr));
    device::check_status(status.p, nullptr);
    CHECK(alpha.get()[1] > 0.99f);
    // An exponent that overflows double: reported, alpha kept.
    const std::vector<float> kept{0.5f, 0.5f};
    Dev<float> alpha2(kept), gloss2(std::vector<float>{1e10f, 1.0f});
    p.eta_alpha = 1e300;
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::update_weights<GroupRobust>(alpha2.p, gloss2.p, gcount.p, 2, p, weight.p, obj.p, status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "group 0 overflows (device; alpha kept)"));
    CHECK(alpha2.get() == kept);
    // A negative count (update_weights takes the caller's counts): reported, alpha kept.
    Dev<int> negative(std::vector<int>{3, -1});
    p.eta_alpha = 1.0;
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::update_weights<GroupRobust>(alpha2.p, gloss.p, negative.p, 2, p, weight.p, obj.p, status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "group_count[1] must be >= 0, got -1 (device"));
    CHECK(alpha2.get() == kept);
  }
  {  // beta is checked as the kernels' float.
    ObjectiveParams<UniformWeights> p;
    p.loss.beta = 1e-50;
    CHECK(has([&] {
      (void)device::step<DpoMethod, float>(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 2, p, nullptr,
                                           device::DeviceStep<float>{}, status.p, nullptr);
    }, "beta = 1e-50 does not fit float"));
  }
  {  // Backward with a target out of range at an unmasked position: a zero row, and the status names it.
    const int length = 3, vocab = 5;
    std::vector<float> z(length * vocab);
    for (std::size_t i = 0; i < z.size(); ++i) z[i] = 0.1f * static_cast<float>(i % 7);
    Dev<float> logits(z), lse(std::vector<float>(length, 1.0f)), coef(std::vector<float>{1.0f}), dlogits(z.size());
    Dev<int> targets(std::vector<int>{1, 70, 2});
    Dev<std::uint8_t> mask(std::vector<std::uint8_t>{1, 1, 1});
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::sequence_logprob_backward(logits.p, targets.p, mask.p, lse.p, coef.p, 1, length, vocab, dlogits.p,
                                              status.p, nullptr));
    CHECK(has([&] { device::check_status(status.p, nullptr); }, "target id 70 of response 0 position 1"));
    const auto d = dlogits.get();
    for (int v = 0; v < vocab; ++v) CHECK(d[static_cast<std::size_t>(vocab + v)] == 0.0f);
  }
}

TEST_CASE("grpo CUDA weights: bad input names what the host's update_alpha names (kind and lowest group)") {
  if (!have_gpu()) {
    MESSAGE("skipped: no GPU");
    std::printf("skipped: no GPU (grpo_test weights errors)\n");
    return;
  }
  // More groups than the block's threads, so a thread checks several; faults of every kind at random
  // groups. The host names the first bad alpha, else count, else group loss, else overflowing exponent.
  const int groups = 600;
  const auto ug = static_cast<std::size_t>(groups);
  // "alpha[12]", "group_count[3]", "group_loss[7]" or "group 5 overflows": in both sides' messages.
  const auto key = [](const std::string& what) {
    static const std::regex r(R"((alpha|group_count|group_loss)\[\d+\]|group \d+ overflows)");
    std::smatch m;
    return std::regex_search(what, m, r) ? m.str() : "no error: " + what;
  };
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> pick(0, groups - 1), kind(0, 3), faults(1, 4);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Dev<device::DeviceStatus> status(1);
  Dev<float> weight(ug), obj(1);
  GroupRobustParams p{0.2, 1e300, AbsentGroups::keep_alpha};  // eta L overflows double for L = 1e10
  int distinct_kinds = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<float> alpha(ug), loss(ug);
    std::vector<int> count(ug);
    for (std::size_t g = 0; g < ug; ++g) {
      alpha[g] = 0.1f + unit(rng);
      loss[g] = unit(rng);
      count[g] = 1 + pick(rng) % 5;
    }
    for (int f = faults(rng); f > 0; --f) {
      const auto g = static_cast<std::size_t>(pick(rng));
      switch (kind(rng)) {
        case 0: alpha[g] = g % 2 ? -0.5f : std::numeric_limits<float>::quiet_NaN(); break;
        case 1: count[g] = -1 - static_cast<int>(g % 3); break;
        case 2: loss[g] = std::numeric_limits<float>::infinity(); break;
        default: loss[g] = 1e10f; break;
      }
    }
    std::vector<float> host_alpha = alpha;
    const std::string want = key(test::error_message([&] {
      update_alpha<float>(host_alpha, loss, count, p.eta_alpha, p.absent);
    }));
    Dev<float> d_alpha(alpha), d_loss(loss);
    Dev<int> d_count(count);
    CUDA_OK(device::reset_status(status.p, nullptr));
    CUDA_OK(device::update_weights<GroupRobust>(d_alpha.p, d_loss.p, d_count.p, groups, p, weight.p, obj.p, status.p,
                                                nullptr));
    const std::string got = key(test::error_message([&] { device::check_status(status.p, nullptr); }));
    INFO("trial ", trial);
    CHECK(got == want);
    const std::vector<float> kept = d_alpha.get();  // every trial has a fault: alpha kept (NaN too: bits)
    CHECK(std::memcmp(kept.data(), alpha.data(), ug * sizeof(float)) == 0);
    distinct_kinds |= 1 << (want.find("alpha") == 0 ? 0 : want.find("group_count") == 0 ? 1
                                                          : want.find("group_loss") == 0 ? 2 : 3);
  }
  CHECK(distinct_kinds == 15);  // every kind of fault came first in some trial

  // UniformWeights checks the counts alone, as the host's group_weights: the lowest negative one.
  std::vector<int> count(ug, 2);
  count[260] = -4;  // a thread's second group, checked by a lower thread than group 10's
  count[10] = -1;
  Dev<int> d_count(count);
  Dev<float> d_loss(std::vector<float>(ug, 0.5f));
  CUDA_OK(device::reset_status(status.p, nullptr));
  CUDA_OK(device::update_weights<UniformWeights>(static_cast<float*>(nullptr), d_loss.p, d_count.p, groups, UniformWeights::Params{},
                                                 weight.p, obj.p, status.p, nullptr));
  CHECK(has([&] { device::check_status(status.p, nullptr); }, "group_count[10] must be >= 0, got -1 (device"));
}

TEST_CASE("grpo CUDA sample and sequence kernels name the fault the host names first, whatever the blocks' order") {
  if (!have_gpu()) {
    MESSAGE("skipped: no GPU");
    std::printf("skipped: no GPU (grpo_test report order)\n");
    return;
  }
  // The part of a message both sides word alike: "group id 9 of sample 17", "reference_rejected[5]",
  // "margin or loss of sample 8", "group_count[3]", "target id -3 of response 2 position 4",
  // "non-finite logits in response 2 position 4".
  const auto key = [](const std::string& what) {
    static const std::regex r(
        R"(group id -?\d+ of sample \d+|(policy|reference)_(chosen|rejected)\[\d+\]|margin or loss of sample \d+|)"
        R"(group_count\[\d+\]|target id -?\d+ of response \d+ position \d+|)"
        R"(non-finite logits in response \d+ position \d+|coef\[\d+\]|lse of response \d+ position \d+)");
    std::smatch m;
    return std::regex_search(what, m, r) ? m.str() : "no error: " + what;
  };
  std::mt19937 rng(29);
  Dev<device::DeviceStatus> status(1);

  SUBCASE("sample_losses: group ids, the fields field by field, then margins and losses; the lowest sample") {
    const int n = 3000, groups = 4;  // 12 blocks of the grid-stride kernel
    const auto un = static_cast<std::size_t>(n);
    std::uniform_int_distribution<int> pick(0, n - 1), kind(0, 5), faults(1, 4);
    Dev<float> margin(un), loss(un);
    int kinds_first = 0;
    for (int trial = 0; trial < 40; ++trial) {
      Batch b = make(n, groups, -1);
      std::vector<float>* fields[4] = {&b.pc, &b.pr, &b.rc, &b.rr};
      for (int f = faults(rng); f > 0; --f) {
        const auto i = static_cast<std::size_t>(pick(rng));
        const int k = kind(rng);
        if (k == 0) {
          b.group[i] = i % 2 ? groups + static_cast<int>(i % 5) : -1;
        } else if (k == 5) {  // finite, but h = -3e38 - 3e38 overflows
          b.pc[i] = -3e38f;
          b.pr[i] = 3e38f;
        } else {
          (*fields[k - 1])[i] = i % 2 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
        }
      }
      std::vector<float> hm(un), hl(un);
      const std::string want = key(test::error_message([&] {
        sample_losses<Dpo>(PreferenceBatch<float>{b.pc, b.pr, b.rc, b.rr, b.group}, groups, 0.1, Span<float>(hm),
                           Span<float>(hl));
      }));
      Dev<float> pc(b.pc), pr(b.pr), rc(b.rc), rr(b.rr);
      Dev<int> group(b.group);
      CUDA_OK(device::reset_status(status.p, nullptr));
      CUDA_OK(device::sample_losses<Dpo>(pc.p, pr.p, rc.p, rr.p, group.p, n, groups, 0.1f, margin.p, loss.p, status.p,
                                         nullptr));
      INFO("trial ", trial);
      CHECK(key(test::error_message([&] { device::check_status(status.p, nullptr); })) == want);
      kinds_first |= want.find("group id") == 0 ? 1 : want.find("margin") == 0 ? 4 : 2;
    }
    CHECK(kinds_first == 7);
  }

  SUBCASE("group_reduce and gradient_coefficients called alone: group ids, then (step 6) counts; the lowest") {
    const int n = 3000, groups = 300;  // several blocks; groups over one block's threads
    const auto un = static_cast<std::size_t>(n), ug = static_cast<std::size_t>(groups);
    std::uniform_int_distribution<int> pick(0, n - 1), pick_g(0, groups - 1), kind(0, 1), faults(1, 4);
    Dev<float> margin(std::vector<float>(un, 0.25f)), loss(std::vector<float>(un, 0.5f)),
        weight(std::vector<float>(ug, 1.0f / groups)), gsum(ug), gloss(ug), dc(un), dr(un);
    int kinds_first = 0;
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<int> group(un), count(ug, 10);
      for (std::size_t i = 0; i < un; ++i) group[i] = static_cast<int>(i % ug);
      for (int f = faults(rng); f > 0; --f) {
        if (kind(rng) == 0) {
          const auto i = static_cast<std::size_t>(pick(rng));
          group[i] = i % 2 ? groups + static_cast<int>(i % 5) : -1;
        } else {
          count[static_cast<std::size_t>(pick_g(rng))] = -2;
        }
      }
      std::vector<float> hs(ug), hl(ug), hc(un), hr(un);
      std::vector<int> hn(ug);
      const std::vector<float> h_loss(un, 0.5f), h_margin(un, 0.25f), h_weight(ug, 1.0f / groups);
      const std::string want_reduce = key(test::error_message([&] {
        group_reduce<float>(Span<const int>(group), Span<const float>(h_loss), groups, Span<float>(hs), Span<int>(hn),
                            Span<float>(hl));
      }));
      const std::string want_coef = key(test::error_message([&] {
        gradient_coefficients<Dpo, float>(h_margin, group, h_weight, count, 0.1, Span<float>(hc), Span<float>(hr));
      }));
      Dev<int> d_group(group), d_count(count), d_gcount(ug);
      INFO("trial ", trial);
      CUDA_OK(device::reset_status(status.p, nullptr));
      CUDA_OK(device::group_reduce(d_group.p, loss.p, n, groups, gsum.p, d_gcount.p, gloss.p, status.p, nullptr));
      CHECK(key(test::error_message([&] { device::check_status(status.p, nullptr); })) == want_reduce);
      CUDA_OK(device::reset_status(status.p, nullptr));
      CUDA_OK(device::gradient_coefficients<Dpo>(margin.p, d_group.p, n, groups, weight.p, d_count.p, 0.1f, dc.p, dr.p,
                                                 status.p, nullptr));
      const std::string got = test::error_message([&] { device::check_status(status.p, nullptr); });
      CHECK(key(got) == want_coef);
      if (want_coef.find("group_count") == 0) CHECK(got.find(", got -2 (device") != std::string::npos);
      kinds_first |= want_coef.find("group id") == 0 ? 1 : want_coef.find("group_count") == 0 ? 2 : 4;
    }
    CHECK(kinds_first == 3);  // both kinds came first in some trial
  }

  SUBCASE("sequence_logprob and its backward: the lowest response and position, the coef before its positions, "
          "the target before the logits or lse") {
    const int B = 24, T = 6, V = 40;  // a block per response (forward) and per position (backward)
    const SequenceShape shape{B, T, V};
    std::uniform_int_distribution<int> pick_p(0, B * T - 1), pick_v(0, V - 1), kind(0, 2), faults(1, 4);
    Dev<float> lp(static_cast<std::size_t>(B)), lse(shape.positions()), dl(shape.logits());
    std::uniform_int_distribution<int> pick_b(0, B - 1);
    int kinds_first = 0, back_kinds_first = 0;
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<float> logits(shape.logits());
      for (std::size_t k = 0; k < logits.size(); ++k) logits[k] = std::sin(0.37f * static_cast<float>(k));
      std::vector<int> targets(shape.positions());
      std::vector<std::uint8_t> mask(shape.positions(), 1);
      std::vector<float> h_coef(static_cast<std::size_t>(B), 0.5f);
      if (trial % 3 == 0) h_coef[static_cast<std::size_t>(pick_b(rng))] = std::numeric_limits<float>::quiet_NaN();
      for (std::size_t p = 0; p < targets.size(); ++p) targets[p] = static_cast<int>((p * 7) % V);
      for (int f = faults(rng); f > 0; --f) {
        const auto p = static_cast<std::size_t>(pick_p(rng));
        switch (kind(rng)) {
          case 0: targets[p] = p % 2 ? V + static_cast<int>(p % 3) : -1 - static_cast<int>(p % 4); break;
          case 1: logits[p * static_cast<std::size_t>(V) + static_cast<std::size_t>(pick_v(rng))] =
                      std::numeric_limits<float>::quiet_NaN(); break;
          default: targets[p] = -7; mask[p] = 0; break;  // masked off: never read, never reported
        }
      }
      std::vector<float> h_lp(static_cast<std::size_t>(B)), h_lse(shape.positions()), h_dl(shape.logits());
      const std::string want = key(test::error_message([&] {
        sequence_logprob(Span<const float>(logits), Span<const int>(targets), Span<const std::uint8_t>(mask), shape,
                         Span<float>(h_lp), Span<float>(h_lse));
      }));
      Dev<float> d_logits(logits), coef(h_coef);
      Dev<int> d_targets(targets);
      Dev<std::uint8_t> d_mask(mask);
      INFO("trial ", trial);
      CUDA_OK(device::reset_status(status.p, nullptr));
      CUDA_OK(device::sequence_logprob(d_logits.p, d_targets.p, d_mask.p, B, T, V, lp.p, lse.p, status.p, nullptr));
      CHECK(key(test::error_message([&] { device::check_status(status.p, nullptr); })) == want);
      // The backward from the device forward's lse (NaN where the logits are): the host's backward checks
      // each response's coef, then per position its target and lse.
      const std::vector<float> d_lse = lse.get();
      const std::string want_back = key(test::error_message([&] {
        sequence_logprob_backward(Span<const float>(logits), Span<const int>(targets), Span<const std::uint8_t>(mask),
                                  Span<const float>(d_lse), Span<const float>(h_coef), shape, Span<float>(h_dl));
      }));
      CUDA_OK(device::reset_status(status.p, nullptr));
      CUDA_OK(device::sequence_logprob_backward(d_logits.p, d_targets.p, d_mask.p, lse.p, coef.p, B, T, V, dl.p,
                                                status.p, nullptr));
      CHECK(key(test::error_message([&] { device::check_status(status.p, nullptr); })) == want_back);
      kinds_first |= want.find("target") == 0 ? 1 : want.find("non-finite") == 0 ? 2 : 4;
      back_kinds_first |= want_back.find("coef") == 0     ? 1
                          : want_back.find("target") == 0 ? 2
                          : want_back.find("lse") == 0    ? 4
                                                          : 8;
    }
    CHECK((kinds_first & 3) == 3);  // each kind came first in some trial
    CHECK((back_kinds_first & 7) == 7);
  }
}
