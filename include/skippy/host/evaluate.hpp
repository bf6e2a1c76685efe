#pragma once
// tau on held-out text (README §1): every draft block starts from the true prefix and is compared with
// the full model's own greedy continuation, so no feedback loop (a model repeating itself) can inflate it.
//
// A window of the text is prefilled once; then, for sampled positions p in descending order, the decoder
// rewinds to length p with x_p pending and takes one step. A step only writes cache slots >= p, which later
// (smaller) positions never read, so each step sees exactly the full-model K/V of its true prefix.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "../core/error.hpp"
#include "../decode/stats.hpp"
#include "../rng/philox.hpp"

namespace skippy::host {

struct HeldOutOptions {
  int positions = 1000;    // draft blocks evaluated in all
  int window = 256;        // tokens prefilled per window (the decoder's capacity must be >= window + K - 1)
  int per_window = 32;     // positions sampled per window
  int min_context = 16;    // positions p >= min_context: every block has some prefix
  std::uint64_t seed = 1;  // window offsets, positions and (sampling rules) draws are a function of it
};

// One evaluated block: the draft started at text[offset + position] with text[offset .. offset+position)
// as its prefix, and `accepted` drafts matched the full model's greedy continuation.
struct HeldOutBlock {
  std::size_t offset;
  int position;
  int accepted;
  int window;  // index of the window the block was drawn from
};

// Standard error of tau from the blocks: the blocks of one window share its text and are correlated, so
// the windows are the independent samples (the variance of a ratio mean over clusters). NaN with fewer
// than two windows. Windows are drawn at random offsets and may overlap; on a text not much longer than
// the windows put together they share text, and the estimate is then too small.
inline double held_out_tau_standard_error(const std::vector<HeldOutBlock>& blocks) {
  std::vector<double> tokens, count;  // per window: tokens emitted and blocks
  for (const auto& b : blocks) {
    const auto w = static_cast<std::size_t>(b.window);
    if (w >= tokens.size()) {
      tokens.resize(w + 1, 0.0);
      count.resize(w + 1, 0.0);
    }
    tokens[w] += 1.0 + b.accepted;
    count[w] += 1.0;
  }
  double t = 0, n = 0, windows = 0;
  for (std::size_t w = 0; w < tokens.size(); ++w) {
    t += tokens[w];
    n += count[w];
    windows += count[w] > 0 ? 1.0 : 0.0;
  }
  if (windows < 2) return std::numeric_limits<double>::quiet_NaN();
  const double tau = t / n;
  double ss = 0;
  for (std::size_t w = 0; w < tokens.size(); ++w) ss += (tokens[w] - tau * count[w]) * (tokens[w] - tau * count[w]);
  return std::sqrt(windows / (windows - 1) * ss) / n;
}

// Runs the evaluation with `dec` (greedy acceptance gives README §1's held-out tau) and returns the summed
// statistics: tau() is the mean tokens per step, acceptance(i) the conditional acceptance per position.
// `blocks`, when given, receives every block evaluated.
template <class Dec>
DecodeStats evaluate_held_out(Dec& dec, const std::vector<int>& text, const HeldOutOptions& o = {},
                              std::vector<HeldOutBlock>* blocks = nullptr) {
  require(o.positions > 0 && o.per_window > 0, "held-out evaluation: positions and per_window must be > 0");
  require(o.min_context >= 1 && o.window > o.min_context + 1, "held-out evaluation: window ", o.window,
          " must exceed min_context + 1 = ", o.min_context + 1);
  require(static_cast<long>(text.size()) >= o.window, "held-out evaluation: the text has ", text.size(),
          " tokens, fewer than one window of ", o.window);
  // The prefill holds the window; the last block (p = window - 2) writes K + 1 slots from p, and with fewer
  // its drafts would be cut short and bias tau.
  const int need = std::max(o.window, o.window - 1 + Dec::K);
  require(dec.cache().capacity() >= need, "held-out evaluation: the decoder's KV cache holds ",
          dec.cache().capacity(), " positions, a window of ", o.window, " with K = ", Dec::K, " needs ", need);
  const int per = std::min(o.per_window, o.window - 1 - o.min_context);
  const auto span = static_cast<std::uint64_t>(text.size()) - static_cast<std::uint64_t>(o.window);
  DecodeStats total;
  std::vector<int> out, candidates;
  for (std::uint32_t w = 0, done = 0; done < static_cast<std::uint32_t>(o.positions); ++w) {
    const auto draw = [&](std::uint32_t i) { return rng::uniform(o.seed, {i, w, rng::Purpose::evaluation, 0}); };
    const auto off = static_cast<std::size_t>(std::min<std::uint64_t>(
        span, static_cast<std::uint64_t>(draw(0) * static_cast<float>(span + 1))));
    const std::vector<int> win(text.begin() + static_cast<long>(off), text.begin() + static_cast<long>(off) + o.window);
    // Partial Fisher-Yates over [min_context, window - 1): `per` distinct positions.
    candidates.clear();
    for (int p = o.min_context; p < o.window - 1; ++p) candidates.push_back(p);
    const int take = std::min(per, o.positions - static_cast<int>(done));
    for (int i = 0; i < take; ++i) {
      const int range = static_cast<int>(candidates.size()) - i;
      const int j = i + std::min(range - 1, static_cast<int>(draw(1u + static_cast<std::uint32_t>(i)) *
                                                              static_cast<float>(range)));
      std::swap(candidates[static_cast<std::size_t>(i)], candidates[static_cast<std::size_t>(j)]);
    }
    std::sort(candidates.begin(), candidates.begin() + take, std::greater<int>());
    // A block's random draws are keyed by its position, which recurs across windows: with a sampling rule,
    // windows under one seed would share draws and correlate their blocks. Each window gets its own seed
    // (the decoder keeps the last one).
    const rng::Philox4x32 key = rng::philox4x32_10(
        rng::Philox4x32{{w, 0, static_cast<std::uint32_t>(rng::Purpose::evaluation), 1}},
        static_cast<std::uint32_t>(o.seed), static_cast<std::uint32_t>(o.seed >> 32));
    dec.set_seed(static_cast<std::uint64_t>(key.v[0]) | (static_cast<std::uint64_t>(key.v[1]) << 32));
    dec.start(win);
    total.prefill_seconds += dec.stats().prefill_seconds;
    for (int i = 0; i < take; ++i) {
      const int p = candidates[static_cast<std::size_t>(i)];
      dec.rewind(p, win[static_cast<std::size_t>(p)]);
      out.clear();
      const int emitted = dec.step(out);
      if (blocks) blocks->push_back({off, p, emitted - 1, static_cast<int>(w)});
    }
    DecodeStats s = dec.stats();
    s.prefill_seconds = 0;
    total += s;
    done += static_cast<std::uint32_t>(take);
  }
  return total;
}

}  // namespace skippy::host
