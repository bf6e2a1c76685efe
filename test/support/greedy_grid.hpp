#pragma once
// The central property (README §1): greedy S3D emits exactly the tokens of greedy autoregressive
// decoding, for every skip range, K, drafting mode and quantization type. The grid is split by K into
// translation units (decoder_greedy_grid_k*_test.cpp) so it compiles in parallel.

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "models.hpp"

namespace skippy::test::grid {

template <class... T>
struct List {};

using Quants = List<quant::F32, quant::F16, quant::BF16, quant::F8_E4M3, quant::Q8_0, quant::Q4_0>;
using Skips = List<NoSkip, SkipRange<1, 3>, SkipRange<1, 2>, SkipRange<2, 4>>;

inline const std::vector<std::vector<int>> prompts =
    test::sanitized_build ? std::vector<std::vector<int>>{{7, 7, 9, 11, 30, 2, 8, 50}}
                          : std::vector<std::vector<int>>{{1, 2, 3, 4, 5}, {40}, {7, 7, 9, 11, 30, 2, 8, 50}};
inline constexpr int new_tokens = 32;

struct Tally {
  int combinations = 0;
  // (K, mode) -> accepted counts n seen
  std::map<std::pair<int, DraftMode>, std::set<int>> seen;
};

template <class Q>
struct Case {
  HostModel<Q> model;
  std::vector<std::vector<int>> reference;  // greedy AR tokens per prompt
};

// A: the activation policy of every decoder of the case, the reference AR decoder's included.
template <class Q, class A = FloatActivations>
Case<Q> make_case(const FloatWeights& w) {
  Case<Q> c{HostModel<Q>::from_float(w), {}};
  host::AutoregressiveDecoder<ModelView<Q>, accept::Greedy, A> ar(c.model.view(), 64, {});
  GenerateOptions opts;
  opts.max_new_tokens = new_tokens;
  for (const auto& p : prompts) c.reference.push_back(ar.generate(p, opts));
  return c;
}

template <class Q, class Skip, class Pred, class A = FloatActivations>
void check_combination(const std::vector<Case<Q>>& cases, Tally& tally) {
  ++tally.combinations;
  for (const auto& c : cases) {
    host::Decoder<ModelView<Q>, Skip, Pred, accept::Greedy, A> dec(c.model.view(), 64, {});
    GenerateOptions opts;
    opts.max_new_tokens = new_tokens;
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      const auto got = dec.generate(prompts[p], opts);
      INFO(std::string(Q::name), " ", std::string(A::name), " activations SkipRange<", Skip::begin, ",", Skip::end,
           "> K=", Pred::k, Pred::mode == DraftMode::simultaneous ? " simultaneous" : " sequential", " prompt ", p);
      REQUIRE(got == c.reference[p]);
      const auto& s = dec.stats();
      CHECK(s.emitted == new_tokens);
      CHECK(s.accepted + s.steps >= s.emitted);
      for (int n = 0; n <= Pred::k; ++n)
        if (s.accept_count[static_cast<std::size_t>(n)] > 0) tally.seen[{Pred::k, Pred::mode}].insert(n);
    }
  }
}

template <class Q, class A = FloatActivations, class... S, class... P>
void run_quant(List<S...>, List<P...>, Tally& tally) {
  const std::vector<Case<Q>> cases = {make_case<Q, A>(test::random_weights(11)),
                                      make_case<Q, A>(test::damped_weights(12))};
  auto per_skip = [&](auto skip) {
    using Skip = decltype(skip);
    (check_combination<Q, Skip, P, A>(cases, tally), ...);
  };
  (per_skip(S{}), ...);
}

template <int K, class... Q>
void run_quants(List<Q...>, Tally& tally) {
  (run_quant<Q>(Skips{}, List<Simultaneous<K>, Sequential<K>>{}, tally), ...);
}

// Runs greedy S3D with Simultaneous<K> and Sequential<K> over every storage type and skip range.
template <int K>
void check_grid() {
  Tally tally;
  run_quants<K>(Quants{}, tally);
  CHECK(tally.combinations == 6 * 4 * 2);  // quantization x skip range x drafting mode
  MESSAGE("greedy-equality grid, K=", K, ": ", tally.combinations, " policy combinations, 2 models x ",
          prompts.size(), " prompts each");
  // Acceptance and rollback are exercised: every accepted count 0..K occurs in both drafting modes
  // (asserted on the full prompt set; the sanitizer build runs a subset).
  if (test::sanitized_build) return;
  for (auto mode : {DraftMode::simultaneous, DraftMode::sequential})
    for (int n = 0; n <= K; ++n) {
      INFO("K=", K, mode == DraftMode::simultaneous ? " simultaneous" : " sequential", " n=", n);
      CHECK(tally.seen[{K, mode}].count(n) == 1);
    }
}

}  // namespace skippy::test::grid
