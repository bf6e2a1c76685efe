// The fused sequence log-probability: forward against a direct computation, backward against finite
// differences, and the chain GRPO coefficients -> dJ/dlogits.

#include <doctest/doctest.h>

#include <skippy/grpo/grpo.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace skippy;
using namespace skippy::grpo;

namespace {

struct Seq {
  SequenceShape shape;
  std::vector<double> logits;
  std::vector<int> targets;
  std::vector<std::uint8_t> mask;
};

Seq make(int batch, int length, int vocab, double offset = 0.0) {
  Seq s{{batch, length, vocab}, {}, {}, {}};
  for (std::size_t k = 0; k < s.shape.logits(); ++k)
    s.logits.push_back(offset + 2.0 * std::sin(0.37 * static_cast<double>(k) + 0.1 * static_cast<double>(k % 7)));
  for (std::size_t p = 0; p < s.shape.positions(); ++p) {
    s.targets.push_back(static_cast<int>((p * 5 + 3) % static_cast<std::size_t>(vocab)));
    s.mask.push_back(p % static_cast<std::size_t>(length) == 0 ? 0 : 1);  // the first position is "prompt"
  }
  return s;
}

std::vector<double> forward(const Seq& s, std::vector<double>* lse_out = nullptr) {
  std::vector<double> lp(static_cast<std::size_t>(s.shape.batch)), lse(s.shape.positions());
  sequence_logprob(Span<const double>(s.logits), Span<const int>(s.targets), Span<const std::uint8_t>(s.mask), s.shape,
                   Span<double>(lp), Span<double>(lse));
  if (lse_out) *lse_out = lse;
  return lp;
}

}  // namespace

TEST_CASE("grpo: sequence log-probability equals the direct sum of log-softmax") {
  const Seq s = make(3, 5, 11);
  const auto lp = forward(s);
  for (int b = 0; b < 3; ++b) {
    double direct = 0;
    for (int t = 0; t < 5; ++t) {
      const std::size_t p = static_cast<std::size_t>(b * 5 + t);
      if (!s.mask[p]) continue;
      double z = 0;
      for (int v = 0; v < 11; ++v) z += std::exp(s.logits[p * 11 + static_cast<std::size_t>(v)]);
      direct += s.logits[p * 11 + static_cast<std::size_t>(s.targets[p])] - std::log(z);
    }
    CHECK(lp[static_cast<std::size_t>(b)] == doctest::Approx(direct).epsilon(1e-13));
  }
  // Shifting every logit of a position leaves it unchanged, even by 1e4 (max subtraction).
  const Seq big = make(3, 5, 11, 1.0e4);
  const auto lp_big = forward(big);
  for (std::size_t b = 0; b < 3; ++b) CHECK(lp_big[b] == doctest::Approx(lp[b]).epsilon(1e-9));
}

TEST_CASE("grpo: sequence log-probability backward matches finite differences") {
  Seq s = make(2, 4, 6);
  std::vector<double> lse;
  forward(s, &lse);
  const std::vector<double> coef{0.7, -1.3};
  std::vector<double> d(s.shape.logits());
  sequence_logprob_backward(Span<const double>(s.logits), Span<const int>(s.targets), Span<const std::uint8_t>(s.mask),
                            Span<const double>(lse), Span<const double>(coef), s.shape, Span<double>(d));
  const double eps = 1e-6;
  for (std::size_t k = 0; k < s.logits.size(); ++k) {
    const double keep = s.logits[k];
    s.logits[k] = keep + eps;
    const auto up = forward(s);
    s.logits[k] = keep - eps;
    const auto down = forward(s);
    s.logits[k] = keep;
    const double fd = coef[0] * (up[0] - down[0]) / (2 * eps) + coef[1] * (up[1] - down[1]) / (2 * eps);
    INFO("logit ", k);
    CHECK(d[k] == doctest::Approx(fd).epsilon(1e-6).scale(1e-4));
  }
}

TEST_CASE("grpo: GRPO coefficients through the fused backward give dJ/dlogits") {
  // Two pairs = four responses: 0 chosen/1 rejected (group 0), 2 chosen/3 rejected (group 1).
  Seq s = make(4, 3, 5);
  const std::vector<double> ref{-4.0, -3.5, -5.0, -4.2};
  const std::vector<int> group{0, 1};
  ObjectiveParams<GroupRobust> p;
  p.loss.beta = 0.8;
  p.weighting.chi = 0.5;
  const auto run = [&](const Seq& q, GroupState<double>& st) {
    const auto lp = forward(q);
    const std::vector<double> pc{lp[0], lp[2]}, pr{lp[1], lp[3]}, rc{ref[0], ref[2]}, rr{ref[1], ref[3]};
    return step<GrDpoMethod>(PreferenceBatch<double>{pc, pr, rc, rr, group}, p, st);
  };
  GroupState<double> st(2);
  st.alpha = {0.3, 0.7};
  p.weighting.eta_alpha = 0.0;  // hold alpha fixed for the finite differences
  const auto r = run(s, st);
  std::vector<double> lse;
  forward(s, &lse);
  const std::vector<double> coef{r.d_chosen[0], r.d_rejected[0], r.d_chosen[1], r.d_rejected[1]};
  std::vector<double> d(s.shape.logits());
  sequence_logprob_backward(Span<const double>(s.logits), Span<const int>(s.targets), Span<const std::uint8_t>(s.mask),
                            Span<const double>(lse), Span<const double>(coef), s.shape, Span<double>(d));
  const double eps = 1e-6;
  for (std::size_t k = 0; k < s.logits.size(); ++k) {
    const double keep = s.logits[k];
    s.logits[k] = keep + eps;
    const double up = run(s, st).objective;
    s.logits[k] = keep - eps;
    const double down = run(s, st).objective;
    s.logits[k] = keep;
    CHECK(d[k] == doctest::Approx((up - down) / (2 * eps)).epsilon(1e-6).scale(1e-4));
  }
}

TEST_CASE("grpo: sequence log-probability rejects bad input") {
  const auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  {
    Seq s = make(2, 3, 4);
    s.targets[4] = 9;  // response 1, position 1 (masked in)
    CHECK(message([&] { forward(s); }).find("target id 9 of response 1 position 1 is out of range 0..3") !=
          std::string::npos);
  }
  {
    Seq s = make(2, 3, 4);
    s.targets[3] = -100;  // masked-out position: ignored (an "ignore index")
    CHECK(message([&] { forward(s); }) == "no error");
  }
  {
    Seq s = make(2, 3, 4);
    s.logits[2 * 4 + 1] = std::numeric_limits<double>::quiet_NaN();
    CHECK(message([&] { forward(s); }).find("non-finite logits in response 0 position 2") != std::string::npos);
  }
  {
    Seq s = make(2, 3, 4);
    s.mask.pop_back();
    CHECK(message([&] { forward(s); }).find("mismatched lengths: mask has 5 entries") != std::string::npos);
  }
  {  // The backward pass checks its own inputs: a coefficient and, where the mask is on, lse.
    Seq s = make(2, 3, 4);
    std::vector<double> lse, coef{0.5, 0.25}, d(s.shape.logits());
    forward(s, &lse);
    const auto backward = [&] {
      sequence_logprob_backward(Span<const double>(s.logits), Span<const int>(s.targets),
                                Span<const std::uint8_t>(s.mask), Span<const double>(lse), Span<const double>(coef),
                                s.shape, Span<double>(d));
    };
    CHECK(message(backward) == "no error");
    coef[1] = std::numeric_limits<double>::quiet_NaN();
    CHECK(message(backward).find("coef[1] is not finite") != std::string::npos);
    coef[1] = 0.25;
    lse[3] = std::numeric_limits<double>::infinity();  // response 1, position 0: masked off, not read
    CHECK(message(backward) == "no error");
    lse[4] = std::numeric_limits<double>::infinity();
    CHECK(message(backward).find("lse of response 1 position 1 is not finite") != std::string::npos);
  }
}
