#pragma once
// The parts of a decoder that do not depend on the backend: the runtime checks of a configuration, the
// statistics of one step, and the generate() loop over start()/step().

#include <algorithm>
#include <cmath>
#include <vector>

#include "../accept/verdict.hpp"
#include "../core/error.hpp"
#include "../model/config.hpp"
#include "../policy/predictor.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace skippy::decode {

// Checks that a model can run the policies (a runtime fact: the config is data).
template <class Skip, class Predictor>
void require_runnable(const ModelConfig& c) {
  require(Skip::end <= c.n_layers, "SkipRange<", Skip::begin, ", ", Skip::end, "> reaches past the model's ",
          c.n_layers, " layers");
  require(Predictor::mode != DraftMode::simultaneous || c.mask_token_id >= 0, "Simultaneous<", Predictor::k,
          "> drafting needs a mask token, but the model config has mask_token_id = -1");
}

// Checks a prompt before its prefill: at least one token, every id in the vocabulary, and all of it in
// the cache (positions 0..P-2 committed, the last token pending at P-1).
inline void require_prompt(const std::vector<int>& prompt, int vocab, int capacity) {
  require(!prompt.empty(), "decoder: the prompt must hold at least one token");
  for (std::size_t i = 0; i < prompt.size(); ++i)
    require(prompt[i] >= 0 && prompt[i] < vocab, "decoder: prompt token id ", prompt[i], " at index ", i,
            " is outside the vocabulary [0, ", vocab, ")");
  require(static_cast<long>(prompt.size()) <= capacity, "decoder: a prompt of ", prompt.size(),
          " tokens does not fit the KV cache of ", capacity, " positions");
}

// A step needs a pending token: start() or rewind() sets it.
inline void require_started(bool started) {
  require(started, "decoder: step() before start() or rewind(): there is no pending token");
}

// What an acceptance rule returned, checked before the decoder writes it into a block: a user-defined
// rule's ids would otherwise index the embedding out of bounds.
inline void require_draft(int id, int i, int vocab) {
  require(id >= 0 && id < vocab, "decoder: the acceptance rule proposed token id ", id, " for draft ", i + 1,
          ", outside the vocabulary [0, ", vocab, ")");
}
inline void require_verdict(const accept::Verdict& v, int k, int vocab) {
  require(v.accepted >= 0 && v.accepted <= k, "decoder: the acceptance rule accepted ", v.accepted, " of ", k,
          " drafts");
  require(v.next >= 0 && v.next < vocab, "decoder: the acceptance rule returned next token id ", v.next,
          ", outside the vocabulary [0, ", vocab, ")");
}

// Drafts the next step may make: K, shrunk near the end of the cache (a step needs t + k + 1 slots) and
// to the caller's token budget.
inline int step_drafts(int K, int length, int capacity, int budget) {
  require(budget >= 1, "decoder: a step's token budget must be >= 1, got ", budget);
  const int room = capacity - length - 1;
  require(room >= 0, "decoder: the KV cache is full (", capacity, " positions); no further token fits");
  return std::max(0, std::min({K, room, budget - 1}));
}

// Checks a rewind to `length` (<= the committed length) with `token` pending.
inline void require_rewind(int length, int committed, int token, int vocab) {
  require(length >= 0 && length <= committed, "decoder: rewind to ", length, " outside [0, ", committed, "]");
  require(token >= 0 && token < vocab, "decoder: pending token id ", token, " is outside [0, ", vocab, ")");
}

// NaN logits are an error the decoder reports, not a token (README §1).
inline void require_finite_logits(const float* logits, int rows, int vocab, const char* pass, int t) {
  for (int r = 0; r < rows; ++r)
    for (int v = 0; v < vocab; ++v)
      require(std::isfinite(logits[static_cast<long>(r) * vocab + v]), "decoder: NaN or infinite logit for token id ",
              v, " in the ", pass, " pass at position ", t + r);
}

// Counts one step that drafted k tokens and accepted n of them.
inline void record_step(DecodeStats& s, int k, int n) {
  s.steps += 1;
  s.emitted += n + 1;
  s.drafted += k;
  s.accepted += n;
  s.accept_count[static_cast<std::size_t>(n)] += 1;
  for (int i = 0; i < k && i <= n; ++i) {
    s.reached[static_cast<std::size_t>(i)] += 1;
    if (i < n) s.accepted_at[static_cast<std::size_t>(i)] += 1;
  }
}

// generate() for any decoder with start(prompt), step(out, budget), rewind(length, token), a stats() it
// lets this loop correct, and capacity(): up to opts.max_new_tokens tokens after the prompt, stopping
// right after an end token or when the callback returns false. Resets the statistics (start() does).
// A stop inside an accepted block leaves the decoder where the last handed-out token left it (committed
// length P - 1 + tokens, that token pending), so a later step() continues the emitted text; so does a
// callback that throws (its exception is rethrown).
template <class Decoder>
std::vector<int> generate(Decoder& dec, DecodeStats& stats, int capacity, const std::vector<int>& prompt,
                          const GenerateOptions& opts, const TokenCallback& on_token) {
  require(opts.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got ", opts.max_new_tokens);
  const long need = static_cast<long>(prompt.size()) + opts.max_new_tokens - 1;
  require(need <= capacity, "generate: a prompt of ", prompt.size(), " tokens plus ", opts.max_new_tokens,
          " new tokens needs ", need, " KV cache positions, capacity is ", capacity);
  dec.start(prompt);
  const int committed0 = static_cast<int>(prompt.size()) - 1;
  std::vector<int> result, block;
  // Tokens block[i+1..] were produced but never handed out: uncount them and roll the decoder back.
  const auto cut_after = [&](std::size_t i) {
    const auto dropped = static_cast<long>(block.size() - i - 1);
    if (dropped == 0) return;
    stats.emitted -= dropped;
    dec.rewind(committed0 + static_cast<int>(result.size()), result.back());
  };
  while (static_cast<int>(result.size()) < opts.max_new_tokens) {
    block.clear();
    dec.step(block, opts.max_new_tokens - static_cast<int>(result.size()));
    for (std::size_t i = 0; i < block.size(); ++i) {
      result.push_back(block[i]);
      bool go_on = true;
      if (on_token) {
        try {
          go_on = on_token(block[i]);
        } catch (...) {
          cut_after(i);
          throw;
        }
      }
      if (!go_on || opts.is_end(block[i]) || static_cast<int>(result.size()) == opts.max_new_tokens) {
        cut_after(i);
        return result;
      }
    }
  }
  return result;
}

}  // namespace skippy::decode
