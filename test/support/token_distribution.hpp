#pragma once
// The end-to-end distribution checks of speculative sampling, for any decoder: the exact warped
// p(first token | prompt) from one full host forward pass and the marginal p(second token | prompt) from
// one more pass per first token, against the first (second) tokens of many seeded runs.

#include <cstdint>
#include <vector>

#include <skippy/skippy.hpp>

namespace skippy::test {

template <class Q>
std::vector<float> warped_next_token(const ModelView<Q>& m, const std::vector<int>& prompt,
                                     const sampling::WarpParams& w) {
  const int V = m.config.vocab;
  host::Forward<Q> fwd(m);
  auto cache = fwd.make_cache(static_cast<int>(prompt.size()));
  std::vector<float> logits(prompt.size() * static_cast<std::size_t>(V)), p(static_cast<std::size_t>(V));
  fwd.run(prompt.data(), static_cast<int>(prompt.size()), 0, cache, LayerRange{}, logits.data());
  std::vector<int> order;
  sampling::warp(logits.data() + (prompt.size() - 1) * static_cast<std::size_t>(V), p.data(), V, w, order);
  return p;
}

// The marginal of the second generated token: sum over x1 of p(x1 | prompt) p(x2 | prompt, x1).
template <class Q>
std::vector<float> warped_second_token(const ModelView<Q>& m, const std::vector<int>& prompt,
                                       const sampling::WarpParams& w) {
  const std::vector<float> p1 = warped_next_token(m, prompt, w);
  std::vector<double> sum(p1.size(), 0.0);
  std::vector<int> seq = prompt;
  seq.push_back(0);
  for (std::size_t x1 = 0; x1 < p1.size(); ++x1) {
    if (p1[x1] == 0.0f) continue;
    seq.back() = static_cast<int>(x1);
    const std::vector<float> p2 = warped_next_token(m, seq, w);
    for (std::size_t v = 0; v < p2.size(); ++v) sum[v] += static_cast<double>(p1[x1]) * static_cast<double>(p2[v]);
  }
  return std::vector<float>(sum.begin(), sum.end());
}

// Counts of the first token of a whole first step (drafts, acceptance tests, a residual draw where one is
// rejected) over `runs` steps seeded seed0, seed0 + 1, ... Not generate() with one new token: a budget
// of 1 drafts nothing, and the count would test the final draw alone. Throws if no step drafted.
template <class Dec>
std::vector<long> first_token_counts(Dec& dec, const std::vector<int>& prompt, int vocab, long runs,
                                     std::uint64_t seed0) {
  std::vector<long> counts(static_cast<std::size_t>(vocab));
  std::vector<int> out;
  long drafted = 0;
  for (long r = 0; r < runs; ++r) {
    dec.set_seed(seed0 + static_cast<std::uint64_t>(r));
    dec.start(prompt);
    out.clear();
    dec.step(out);
    drafted += dec.stats().drafted;
    counts[static_cast<std::size_t>(out.at(0))] += 1;
  }
  require(runs == 0 || drafted > 0, "first_token_counts: no step drafted, so nothing speculative was tested");
  return counts;
}

// Counts of the second token over `runs` runs seeded seed0, seed0 + 1, ... (steps until two tokens are out).
// Throws unless some first step handed out both tokens, so that a draft accepted after an accepted draft,
// or the draw that follows it, was tested rather than two separate first tokens.
template <class Dec>
std::vector<long> second_token_counts(Dec& dec, const std::vector<int>& prompt, int vocab, long runs,
                                      std::uint64_t seed0) {
  std::vector<long> counts(static_cast<std::size_t>(vocab));
  std::vector<int> out;
  long both_in_first_step = 0;
  for (long r = 0; r < runs; ++r) {
    dec.set_seed(seed0 + static_cast<std::uint64_t>(r));
    dec.start(prompt);
    out.clear();
    dec.step(out);
    if (out.size() >= 2) ++both_in_first_step;
    while (out.size() < 2) dec.step(out);
    counts[static_cast<std::size_t>(out[1])] += 1;
  }
  require(runs == 0 || both_in_first_step > 0,
          "second_token_counts: no first step accepted a draft, so the second draft's test was never reached");
  return counts;
}

}  // namespace skippy::test
