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

// The warped distribution of the first draft: the kept layers (skip skipped) over the prompt's last token,
// attending to the full model's K/V of the positions before it, as a decoder's first step drafts.
// Speculative sampling accepts that draft with probability sum_v min(p(v), q(v)).
template <class Q>
std::vector<float> warped_first_draft(const ModelView<Q>& m, const std::vector<int>& prompt, LayerRange skip,
                                      const sampling::WarpParams& w) {
  const int V = m.config.vocab;
  const int last = static_cast<int>(prompt.size()) - 1;
  host::Forward<Q> fwd(m);
  auto cache = fwd.make_cache(static_cast<int>(prompt.size()));
  if (last > 0) fwd.run(prompt.data(), last, 0, cache, LayerRange{}, nullptr);
  cache.set_length(last);
  std::vector<float> logits(static_cast<std::size_t>(V)), q(static_cast<std::size_t>(V));
  fwd.run(prompt.data() + last, 1, last, cache, skip, logits.data());
  std::vector<int> order;
  sampling::warp(logits.data(), q.data(), V, w, order);
  return q;
}

inline double overlap(const std::vector<float>& p, const std::vector<float>& q) {
  double s = 0.0;
  for (std::size_t v = 0; v < p.size(); ++v) s += static_cast<double>(p[v] < q[v] ? p[v] : q[v]);
  return s;
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

// Counts of the token at `index` (0: first, 1: second) over `runs` runs seeded seed0, seed0 + 1, ..., each a
// fresh start and whole steps (drafts, acceptance tests, a residual draw where one is rejected) until the
// token is out. Not generate() with one new token: a budget of 1 drafts nothing, and the count would test
// the final draw alone. Throws unless some first step drafted and handed out the token itself, so that the
// speculative path to it (for index 1: a draft tested after an accepted draft) was tested. With first_steps,
// the statistics of every run's first step are added there (its acceptance of the first draft).
template <class Dec>
std::vector<long> token_counts(Dec& dec, const std::vector<int>& prompt, int vocab, long runs, std::uint64_t seed0,
                               std::size_t index, DecodeStats* first_steps = nullptr) {
  std::vector<long> counts(static_cast<std::size_t>(vocab));
  std::vector<int> out;
  long tested = 0;
  for (long r = 0; r < runs; ++r) {
    dec.set_seed(seed0 + static_cast<std::uint64_t>(r));
    dec.start(prompt);
    out.clear();
    dec.step(out);
    if (first_steps != nullptr) *first_steps += dec.stats();
    if (dec.stats().drafted > 0 && out.size() > index) ++tested;
    while (out.size() <= index) dec.step(out);
    counts[static_cast<std::size_t>(out[index])] += 1;
  }
  require(runs == 0 || tested > 0, "token_counts: no first step drafted and handed out token ", index,
          ", so nothing speculative was tested");
  return counts;
}
template <class Dec>
std::vector<long> first_token_counts(Dec& dec, const std::vector<int>& prompt, int vocab, long runs,
                                     std::uint64_t seed0, DecodeStats* first_steps = nullptr) {
  return token_counts(dec, prompt, vocab, runs, seed0, 0, first_steps);
}
template <class Dec>
std::vector<long> second_token_counts(Dec& dec, const std::vector<int>& prompt, int vocab, long runs,
                                      std::uint64_t seed0) {
  return token_counts(dec, prompt, vocab, runs, seed0, 1);
}

}  // namespace skippy::test
