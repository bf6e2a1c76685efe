#pragma once
// The end-to-end distribution check of speculative sampling, for any decoder: the exact warped
// p(first token | prompt) from one full host forward pass, and the first tokens of many seeded runs.

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

}  // namespace skippy::test
