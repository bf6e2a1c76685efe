#pragma once
// The host S3D decoder, composed from compile-time policies:
//   host::Decoder<ModelView<quant::Q8_0>, SkipRange<3, 6>, Simultaneous<4>, accept::Greedy>
// One step (README §1): draft with the kept layers (one mask-block pass or K single-token passes),
// verify [x_t, d_1..d_K] with all layers, accept n drafts plus one token, move the cache length to t+n+1.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../accept/traits.hpp"
#include "../decode/loop.hpp"
#include "../decode/options.hpp"
#include "../decode/policies.hpp"
#include "../decode/stats.hpp"
#include "../policy/predictor.hpp"
#include "../policy/skip_range.hpp"
#include "forward.hpp"

namespace skippy::host {

template <class Model, class Skip, class Predictor, class Accept, class Activations = FloatActivations>
class Decoder {
  static_assert(decode::CheckPolicies<Model, Skip, Predictor, Accept, Activations>::ok);

 public:
  using quant_type = typename Model::quant_type;
  using skip_type = Skip;
  using predictor_type = Predictor;
  using accept_type = Accept;
  using activations_type = Activations;
  static constexpr int K = Predictor::k;

  Decoder(const Model& model, int cache_capacity, const typename Accept::Params& params = {}, std::uint64_t seed = 0)
      : forward_(model),
        cache_(forward_.make_cache(cache_capacity)),
        rule_(params, model.config.vocab),
        seed_(seed),
        draft_logits_(static_cast<std::size_t>(std::max(K, 1)) * static_cast<std::size_t>(model.config.vocab)),
        target_logits_(static_cast<std::size_t>(K + 1) * static_cast<std::size_t>(model.config.vocab)) {
    decode::require_runnable<Skip, Predictor>(model.config);
  }

  // Prefills the prompt: positions 0..P-2 go into the cache, the last prompt token becomes pending.
  void start(const std::vector<int>& prompt) {
    decode::require_prompt(prompt, forward_.config().vocab, cache_.capacity());
    started_ = false;  // until the prefill has run: a failed one must not leave the last sequence steppable
    stats_ = DecodeStats{};
    cache_.clear();
    const auto t0 = clock::now();
    if (prompt.size() > 1)
      forward_.run(prompt.data(), static_cast<int>(prompt.size()) - 1, 0, cache_, LayerRange{}, nullptr);
    cache_.set_length(static_cast<int>(prompt.size()) - 1);
    stats_.prefill_seconds += seconds_since(t0);
    pending_ = prompt.back();
    started_ = true;
  }

  // Moves the committed length back to `length` (<= the current length) with `token` pending, keeping
  // cache slots < length as they are: the caller vouches that they hold the full-model K/V of the prefix
  // it means (evaluation from true prefixes prefills a text once and steps from its positions in
  // descending order, since a step only writes slots >= its start). Statistics are kept.
  void rewind(int length, int token) {
    decode::require_rewind(length, cache_.length(), token, forward_.config().vocab);
    cache_.set_length(length);
    pending_ = token;
    started_ = true;
  }

  // One decoding step emitting at most `budget` (>= 1) tokens into out (appended). Returns how many
  // tokens the step produced: n + 1 <= budget (the drafts are cut to budget - 1, decode::step_drafts).
  int step(std::vector<int>& out, int budget = max_predictors + 1) {
    decode::require_started(started_);
    const int t = cache_.length();
    const int k = decode::step_drafts(K, t, cache_.capacity(), budget);
    const accept::StepContext ctx{seed_, static_cast<std::uint32_t>(t), 0};
    const int vocab = forward_.config().vocab;

    auto t0 = clock::now();
    drafts_.assign(1, pending_);  // block = [x_t, d_1..d_k]
    if (k > 0) draft(k, t, ctx, vocab);
    stats_.draft_seconds += seconds_since(t0);

    t0 = clock::now();
    forward_.run(drafts_.data(), k + 1, t, cache_, LayerRange{}, target_logits_.data());
    decode::require_finite_logits(target_logits_.data(), k + 1, vocab, "verify", t);
    const accept::Verdict v = rule_.verify(target_logits_.data(), drafts_.data() + 1, k, ctx);
    decode::require_verdict(v, k, vocab);
    cache_.set_length(t + v.accepted + 1);
    stats_.verify_seconds += seconds_since(t0);

    decode::record_step(stats_, k, v.accepted);
    out.insert(out.end(), drafts_.begin() + 1, drafts_.begin() + 1 + v.accepted);
    out.push_back(v.next);
    pending_ = v.next;
    return v.accepted + 1;
  }

  // Generates up to opts.max_new_tokens tokens after the prompt, stopping right after an end token or
  // when the callback returns false. Resets the statistics.
  std::vector<int> generate(const std::vector<int>& prompt, const GenerateOptions& opts,
                            const TokenCallback& on_token = {}) {
    return decode::generate(*this, stats_, cache_.capacity(), prompt, opts, on_token);
  }

  // The seed of the counter-based random stream (speculative sampling); a step's draws depend only on
  // (seed, position), so the same seed replays the same output, and two prompts decoded with one seed
  // share their random numbers (give independent requests their own seeds). A run is not a prefix of a
  // longer one with the same seed: the last step's token budget cuts the drafts, and a bonus draw then
  // replaces an acceptance test (each run has the exact distribution).
  void set_seed(std::uint64_t seed) { seed_ = seed; }

  const DecodeStats& stats() const { return stats_; }
  const KvCache& cache() const { return cache_; }
  int pending_token() const { return pending_; }
  const Accept& rule() const { return rule_; }
  // New parameters for the acceptance rule (validated as at construction), from the next step on.
  void set_params(const typename Accept::Params& params) { rule_ = Accept(params, forward_.config().vocab); }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds_since(clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  }

  void draft(int k, int t, const accept::StepContext& ctx, int vocab) {
    constexpr LayerRange skip = layer_range<Skip>();
    float* logits = draft_logits_.data();
    if constexpr (Predictor::mode == DraftMode::simultaneous) {
      block_.assign(static_cast<std::size_t>(k), forward_.config().mask_token_id);
      block_[0] = pending_;
      forward_.run(block_.data(), k, t, cache_, skip, logits);
      decode::require_finite_logits(logits, k, vocab, "draft", t);
      for (int i = 0; i < k; ++i) {
        drafts_.push_back(rule_.propose(i, logits + static_cast<long>(i) * vocab, ctx));
        decode::require_draft(drafts_.back(), i, vocab);
      }
    } else {
      for (int i = 0; i < k; ++i) {
        forward_.run(&drafts_.back(), 1, t + i, cache_, skip, logits);
        decode::require_finite_logits(logits, 1, vocab, "draft", t + i);
        drafts_.push_back(rule_.propose(i, logits, ctx));
        decode::require_draft(drafts_.back(), i, vocab);
      }
    }
  }

  Forward<quant_type, Activations> forward_;
  KvCache cache_;
  Accept rule_;
  std::uint64_t seed_;
  int pending_ = 0;
  bool started_ = false;  // a pending token is set
  DecodeStats stats_;
  std::vector<float> draft_logits_, target_logits_;
  std::vector<int> drafts_, block_;
};

// Plain autoregressive decoding: the K = 0 step.
template <class Model, class Accept = accept::Greedy, class Activations = FloatActivations>
using AutoregressiveDecoder = Decoder<Model, NoSkip, Autoregressive, Accept, Activations>;

}  // namespace skippy::host
