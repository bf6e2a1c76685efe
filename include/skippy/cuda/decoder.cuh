#pragma once
// The CUDA S3D decoder, composed from the same compile-time policies as host::Decoder and with its
// interface:
//   cuda::Decoder<ModelView<quant::Q8_0>, SkipRange<3, 6>, Simultaneous<4>, accept::Greedy>
// and one policy more: the activations' precision in the decoding weight products, FloatActivations by
// default or Int8Activations for Q8_0 / Q4_0 models (policy/activations.hpp).
// The model view's pointers are device memory (cuda::DeviceModel uploads a host model). One step runs
// on one stream: draft pass, drafts chosen on the device (argmax, or warp and draw for speculative
// sampling) into the verify block, verify pass, and the rule's fused acceptance kernel, so the host
// reads the verdict and the drafts once per step and nothing else. The library's three rules run on the
// device; a user-defined rule runs its host implementation on logits copied back (exact, but with a
// round trip per pass).
//
// CUDA Graphs: with a library rule, a step's launches read the position and the seed from a small device
// key (kernels::StepKey) uploaded before the step, so the decoder captures one graph per draft count k
// and attention bucket (the splits launched: the next power of two of those the step needs) on first use
// and replays it: one graph launch, one 16-byte upload and one state read per step instead of hundreds
// of launches (a small model is launch-bound). use_graphs(false) launches the same kernels
// directly. Without a stream argument the decoder creates its own; on the legacy default stream
// (cudaStreamLegacy), which no graph can capture, it launches directly.
//
// Errors: bad input and non-finite logits throw skippy::Error and leave the decoder as it was. A CUDA
// error (thrown as skippy::Error "CUDA error in ...") that surfaces in a prefill, or in a step after the
// step's pending token was written, leaves it refusing to step until start() or rewind(): it never goes on
// from a cache or pending token it did not finish.

#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../accept/traits.hpp"
#include "../decode/loop.hpp"
#include "../decode/options.hpp"
#include "../decode/policies.hpp"
#include "../decode/stats.hpp"
#include "argmax.cuh"
#include "forward.cuh"
#include "kernels/sample.cuh"
#include "kernels/select.cuh"
#include "kernels/warp_chunks.cuh"
#include "warp_scratch.cuh"

namespace skippy::cuda {

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
  // Prompt tokens per prefill pass (the forward's largest block is max(K + 1, this)): one tensor-core
  // tile of rows (gemm.cuh).
  static constexpr int prefill_block = kernels::gemm_tile_m;
  static constexpr int max_block = K + 1 > prefill_block ? K + 1 : prefill_block;

  // model: device pointers. cache_capacity: positions of the KV cache the decoder owns.
  Decoder(const Model& model, int cache_capacity, const typename Accept::Params& params = {}, std::uint64_t seed = 0,
          cudaStream_t stream = nullptr)
      : forward_(model, max_block, cache_capacity),
        cache_(forward_.make_cache()),
        rule_(params, model.config.vocab),
        seed_(seed),
        stream_(stream),
        state_(static_cast<std::size_t>(state_ints)),
        host_state_(static_cast<std::size_t>(state_ints)),
        draft_logits_(static_cast<std::size_t>(K > 0 ? K : 1) * static_cast<std::size_t>(model.config.vocab)),
        target_logits_(static_cast<std::size_t>(K + 1) * static_cast<std::size_t>(model.config.vocab)),
        argmax_scratch_(K + 1) {
    if constexpr (std::is_same_v<Accept, accept::SpeculativeSampling>) {
      // The warped target rows and the warped draft rows the drafts were drawn from.
      p_ = DeviceBuffer<float>(target_logits_.size());
      q_ = DeviceBuffer<float>(draft_logits_.size());
      warp_scratch_ = WarpScratchBuffer(model.config.vocab, K + 1);
    }
    decode::require_runnable<Skip, Predictor>(model.config);
    std::vector<int> init(static_cast<std::size_t>(state_ints), 0);
    if constexpr (Predictor::mode == DraftMode::simultaneous)
      for (int i = 1; i < K; ++i) init[static_cast<std::size_t>(draft_in + i)] = model.config.mask_token_id;
    use_graphs_ = stream_ != cudaStreamLegacy;
    try {  // a throwing constructor runs no destructor: release what was created
      for (auto& e : events_) check(cudaEventCreate(&e), "cudaEventCreate");
      if (stream_ == nullptr) {
        check(cudaStreamCreateWithFlags(&owned_stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        stream_ = owned_stream_;
      }
      state_.upload(init.data(), init.size(), stream_);
    } catch (...) {
      release_handles();
      throw;
    }
    while ((1 << (buckets_ - 1)) < kernels::attention_splits(cache_.capacity())) ++buckets_;
    graphs_.assign(static_cast<std::size_t>((K + 1) * buckets_), nullptr);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder() {
    drop_graphs();
    release_handles();
  }

  // Capture each step in a CUDA Graph (the default but on the legacy stream) or launch its kernels one by
  // one; the tokens are the same bits either way.
  void use_graphs(bool on) {
    require(!on || stream_ != cudaStreamLegacy,
            "cuda::Decoder: CUDA Graphs cannot capture the legacy default stream (cudaStreamLegacy): pass another "
            "stream to use them");
    use_graphs_ = on;
  }
  bool uses_graphs() const { return use_graphs_; }

  // Launch each pass's kernels after its first early (programmatic dependent launch, Forward::launch_early;
  // off by default); the tokens are the same bits either way. Steps captured before are captured again.
  void launch_early(bool on) {
    const bool was = forward_.launches_early();
    forward_.launch_early(on);
    if (forward_.launches_early() != was) drop_graphs();
  }
  bool launches_early() const { return forward_.launches_early(); }
  // Run the attention on kernels::grouped_attention where the heads allow it (Forward::grouped_attention).
  // Drops the captured graphs when the kernel changes.
  void grouped_attention(bool on) {
    const bool was = forward_.uses_grouped_attention();
    forward_.grouped_attention(on);
    if (forward_.uses_grouped_attention() != was) drop_graphs();
  }
  bool uses_grouped_attention() const { return forward_.uses_grouped_attention(); }
  // Run the decoding weight products of an F16 / BF16 model on tensor cores where the device and the
  // matrices allow it (Forward::tensor_core_decoding). Drops the captured graphs when the kernel changes.
  void tensor_core_decoding(bool on) {
    const bool was = forward_.uses_tensor_core_decoding();
    forward_.tensor_core_decoding(on);
    if (forward_.uses_tensor_core_decoding() != was) drop_graphs();
  }
  bool uses_tensor_core_decoding() const { return forward_.uses_tensor_core_decoding(); }
  // Fuse the decoding blocks' RMSNorms into the weight launches where the model allows it
  // (Forward::fused_norms). Drops the captured graphs when the launches change.
  void fused_norms(bool on) {
    const bool was = forward_.uses_fused_norms();
    forward_.fused_norms(on);
    if (forward_.uses_fused_norms() != was) drop_graphs();
  }
  bool uses_fused_norms() const { return forward_.uses_fused_norms(); }

  // Prefills the prompt: positions 0..P-2 go into the cache, the last prompt token becomes pending.
  void start(const std::vector<int>& prompt) {
    decode::require_prompt(prompt, vocab(), cache_.capacity());
    started_ = false;  // until the prefill has run: a failed one must not leave the last sequence steppable
    stats_ = DecodeStats{};
    cache_.clear();
    const auto t0 = clock::now();
    if (prompt_.size() < prompt.size()) prompt_ = DeviceBuffer<int>(prompt.size());
    prompt_.upload(prompt.data(), prompt.size(), stream_);  // ordered before the prefill reads it
    const int n = static_cast<int>(prompt.size()) - 1;
    for (int at = 0; at < n; at += max_block)
      forward_.run(prompt_.data() + at, n - at < max_block ? n - at : max_block, at, cache_, LayerRange{}, nullptr,
                   stream_);
    cache_.set_length(n);
    set_pending(prompt.back());
    check(cudaStreamSynchronize(stream_), "prefill");  // a kernel's fault surfaces here, before started_
    started_ = true;
    stats_.prefill_seconds += seconds_since(t0);
  }

  // As host::Decoder::rewind: committed length back to `length`, `token` pending, cache slots kept.
  void rewind(int length, int token) {
    decode::require_rewind(length, cache_.length(), token, forward_.config().vocab);
    started_ = false;  // until the device holds the token: a failed copy must not leave a stale one to verify
    cache_.set_length(length);
    set_pending(token);
    started_ = true;
  }

  // One decoding step emitting at most `budget` (>= 1) tokens into out (appended); returns n + 1.
  int step(std::vector<int>& out, int budget = max_predictors + 1) {
    decode::require_started(started_);
    const int t = cache_.length();
    const int k = decode::step_drafts(K, t, cache_.capacity(), budget);
    accept::Verdict v{};
    const Rule r = rule_kind();
    if (r != Rule::host) {
      cache_.reserve(t, k + 1);  // the slots the step's device-positioned passes write: checked here
      key_ = {seed_, t, 0};
      check(cudaMemcpyAsync(key_dev_.data(), &key_, sizeof key_, cudaMemcpyHostToDevice, stream_), "step key");
      check(cudaEventRecord(events_[0], stream_), "cudaEventRecord");
      const Bucket b = bucket(t, k);
      started_ = false;  // the verdict kernels write the device's pending token: a CUDA error until it is read
                         // back leaves it unknown, so the caller must start() or rewind() again
      if (use_graphs_) launch_graph(r, k, b);
      else launch_step(r, k, b.end_bound, false);
      check(cudaEventRecord(events_[2], stream_), "cudaEventRecord");
      read_state(block + 1 + k);
      if (host_state_[bad] != 0) {
        set_pending(pending_);  // the verdict kernels wrote a token from the bad logits where steps read it
        started_ = true;
        skippy::detail::fail("decoder: NaN or infinite logit in the draft or verify pass of the step at position ", t);
      }
      v = {host_state_[verdict], host_state_[verdict + 1]};
      // What the host decoder checks of every rule's verdict (a wrong count would index drafts_ below).
      decode::require_verdict(v, k, vocab());
      pending_ = v.next;
      drafts_.assign(host_state_.begin() + block + 1, host_state_.begin() + block + 1 + k);
      for (int i = 0; i < v.accepted; ++i) decode::require_draft(drafts_[static_cast<std::size_t>(i)], i, vocab());
    } else {
      const accept::StepContext ctx{seed_, static_cast<std::uint32_t>(t), 0};
      check(cudaEventRecord(events_[0], stream_), "cudaEventRecord");
      drafts_.clear();
      if (k > 0) draft_on_host(k, t, ctx);
      check(cudaEventRecord(events_[1], stream_), "cudaEventRecord");
      forward_.run(ints(block), k + 1, t, cache_, LayerRange{}, target_logits_.data(), stream_);
      download(target_logits_.data(), k + 1);
      check(cudaEventRecord(events_[2], stream_), "cudaEventRecord");
      decode::require_finite_logits(host_logits_.data(), k + 1, vocab(), "verify", t);
      v = rule_.verify(host_logits_.data(), drafts_.data(), k, ctx);
      decode::require_verdict(v, k, vocab());
      started_ = false;  // as above: the pending token is written, the step is not committed yet
      set_pending(v.next);
      check(cudaStreamSynchronize(stream_), "step");
    }
    float draft_ms = 0, verify_ms = 0;
    check(cudaEventElapsedTime(&draft_ms, events_[0], events_[1]), "cudaEventElapsedTime");
    check(cudaEventElapsedTime(&verify_ms, events_[1], events_[2]), "cudaEventElapsedTime");
    started_ = true;  // the step commits: nothing below fails
    cache_.set_length(t + v.accepted + 1);
    stats_.draft_seconds += 1e-3 * draft_ms;
    stats_.verify_seconds += 1e-3 * verify_ms;
    decode::record_step(stats_, k, v.accepted);
    out.insert(out.end(), drafts_.begin(), drafts_.begin() + v.accepted);
    out.push_back(v.next);
    return v.accepted + 1;
  }

  std::vector<int> generate(const std::vector<int>& prompt, const GenerateOptions& opts,
                            const TokenCallback& on_token = {}) {
    return decode::generate(*this, stats_, cache_.capacity(), prompt, opts, on_token);
  }

  // As host::Decoder::set_seed: a step's draws depend only on (seed, position).
  void set_seed(std::uint64_t seed) { seed_ = seed; }
  const DecodeStats& stats() const { return stats_; }
  const KvCache& cache() const { return cache_; }
  const Accept& rule() const { return rule_; }
  // New parameters for the acceptance rule (validated as at construction), from the next step on. The
  // captured graphs hold the old ones (and the kernels of the old kind: temperature 0 is greedy), so they
  // are dropped; a mutable rule() would let a replayed graph keep the old rule unnoticed.
  void set_params(const typename Accept::Params& params) {
    rule_ = Accept(params, vocab());
    drop_graphs();
  }
  int pending_token() const { return pending_; }
  cudaStream_t stream() const { return stream_; }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds_since(clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  }

  // Device int state, one allocation: [verdict n, next, bad flag, pad | block x_t d_1..d_K | target
  // argmax of the K+1 verify rows | draft input x_t m..m | typical acceptance's test of each draft, then
  // its arrival counter]. The host reads [0, block + 1 + k) per step.
  static constexpr int verdict = 0, bad = 2, block = 4, target = block + K + 1, draft_in = target + K + 1,
                       tested = draft_in + (K > 0 ? K : 1), state_ints = tested + K + 1;

  // Where a step's acceptance runs: the library's rules on the device, any other rule on the host.
  enum class Rule { greedy, sampling, typical, host };
  Rule rule_kind() const {
    if constexpr (std::is_same_v<Accept, accept::Greedy>) return Rule::greedy;
    else if constexpr (std::is_same_v<Accept, accept::SpeculativeSampling>)
      return rule_.greedy() ? Rule::greedy : Rule::sampling;
    else if constexpr (std::is_same_v<Accept, accept::Typical>) return Rule::typical;
    else return Rule::host;
  }
  int vocab() const { return forward_.config().vocab; }
  int* ints(int offset) const { return state_.data() + offset; }
  void release_handles() {
    for (auto& e : events_)
      if (e != nullptr) ignore(cudaEventDestroy(e));
    if (owned_stream_ != nullptr) ignore(cudaStreamDestroy(owned_stream_));
  }

  void drop_graphs() {
    for (auto& g : graphs_) {
      if (g != nullptr) ignore(cudaGraphExecDestroy(g));
      g = nullptr;
    }
  }

  void select(const float* logits, int rows, int* out) {
    check(kernels::launch_argmax(logits, vocab(), rows, out, 1, ints(bad), argmax_scratch_.get(), stream_), "argmax");
  }

  // Drafts d_1..d_k into the device block: the draft argmax, or for speculative sampling a draw from the
  // warped draft row (kept in q_ for the acceptance test).
  void draft_on_device(Rule r, int k, kernels::Position t, int end_bound) {
    constexpr LayerRange skip = layer_range<Skip>();
    const auto choose = [&](int rows, int first) {
      if (r != Rule::sampling) return select(draft_logits_.data(), rows, ints(block + 1 + first));
      if constexpr (std::is_same_v<Accept, accept::SpeculativeSampling>) {
        check(kernels::launch_warp_sample_rows(draft_logits_.data(), vocab(), rows, rule_.params().warp, q_.data(),
                                               first, key_dev_.data(), ints(block + 1 + first), ints(bad),
                                               warp_scratch_.get(), stream_),
              "draft sampling");
      }
    };
    if constexpr (Predictor::mode == DraftMode::simultaneous) {
      forward_.run(ints(draft_in), k, t, cache_, skip, draft_logits_.data(), stream_, end_bound);
      choose(k, 0);
    } else if constexpr (Predictor::mode == DraftMode::sequential) {
      for (int i = 0; i < k; ++i) {
        forward_.run(ints(block + i), 1, kernels::Position{t.offset + i, t.base}, cache_, skip, draft_logits_.data(),
                     stream_, end_bound);
        choose(1, i);
      }
    }
  }

  // The rule's fused acceptance kernel over the k + 1 verify rows: the verdict, and the next token
  // written where the next step reads its pending token.
  void accept_on_device(Rule r, int k) {
    int* pending1 = Predictor::mode == DraftMode::simultaneous ? ints(draft_in) : nullptr;
    const float* logits = target_logits_.data();
    if (r == Rule::greedy) {  // the argmax's last row writes the verdict
      const kernels::GreedyVerdict then{ints(block), k, ints(verdict), ints(block), pending1};
      check(kernels::launch_argmax(logits, vocab(), k + 1, ints(target), 1, ints(bad), argmax_scratch_.get(), stream_,
                                   then),
            "argmax and greedy verdict");
    } else if constexpr (std::is_same_v<Accept, accept::Typical>) {
      select(logits, k + 1, ints(target));
      check(kernels::launch_typical_accept(logits, ints(target), ints(block), k, vocab(), rule_.params(), ints(tested),
                                           reinterpret_cast<unsigned*>(ints(tested + K)),
                                           ints(verdict), ints(block), pending1, stream_),
            "typical acceptance");
    } else if constexpr (std::is_same_v<Accept, accept::SpeculativeSampling>) {
      check(kernels::launch_warp_rows(logits, vocab(), k + 1, rule_.params().warp, p_.data(), ints(bad),
                                      warp_scratch_.get(), stream_),
            "target warp");
      check(kernels::launch_speculative_accept(p_.data(), q_.data(), ints(block), k, vocab(), key_dev_.data(),
                                               ints(verdict), ints(block), pending1, warp_scratch_.get(), stream_),
            "speculative acceptance");
    }
    check(cudaGetLastError(), "acceptance");
  }

  // The attention splits a step at t with k drafts launches: the next power of two of those its last row
  // needs (at most all of the cache's), as an end bound on positions and the graph bucket it selects.
  struct Bucket {
    int index, end_bound;
  };
  Bucket bucket(int t, int k) const {
    const int needed = (t + k) / kernels::attention_chunk + 1;
    int index = 0;
    while ((1 << index) < needed) ++index;
    const long long end = (1LL << index) * kernels::attention_chunk;
    return {index, end < cache_.capacity() ? static_cast<int>(end) : cache_.capacity()};
  }

  // A library rule's whole step at the position in key_dev_ (below end_bound): drafts, verify pass,
  // acceptance. In a capture the draft/verify boundary event becomes a node of the graph.
  void launch_step(Rule r, int k, int end_bound, bool capturing) {
    const kernels::Position t{0, &key_dev_.data()->position};
    if (k > 0) draft_on_device(r, k, t, end_bound);
    check(capturing ? cudaEventRecordWithFlags(events_[1], stream_, cudaEventRecordExternal)
                    : cudaEventRecord(events_[1], stream_),
          "cudaEventRecord");
    forward_.run(ints(block), k + 1, t, cache_, LayerRange{}, target_logits_.data(), stream_, end_bound);
    accept_on_device(r, k);
  }

  // Replays the step graph for k drafts and attention bucket b, capturing it first if it is new.
  void launch_graph(Rule r, int k, Bucket b) {
    cudaGraphExec_t& exec = graphs_[static_cast<std::size_t>(k * buckets_ + b.index)];
    if (exec == nullptr) {
      cudaGraph_t graph = nullptr;
      check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "begin the step capture");
      try {
        launch_step(r, k, b.end_bound, true);
      } catch (...) {
        const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
        ignore(e);
        if (e == cudaSuccess && graph != nullptr) ignore(cudaGraphDestroy(graph));
        throw;
      }
      check(cudaStreamEndCapture(stream_, &graph), "end the step capture");
      const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
      ignore(cudaGraphDestroy(graph));
      if (e != cudaSuccess) exec = nullptr;
      check(e, "instantiate the step graph");
    }
    check(cudaGraphLaunch(exec, stream_), "launch the step graph");
  }

  // Drafts proposed by the host rule from copied logits; drafts_ receives them, the device block too.
  void draft_on_host(int k, int t, const accept::StepContext& ctx) {
    constexpr LayerRange skip = layer_range<Skip>();
    if constexpr (Predictor::mode == DraftMode::simultaneous) {
      forward_.run(ints(draft_in), k, t, cache_, skip, draft_logits_.data(), stream_);
      download(draft_logits_.data(), k);
      decode::require_finite_logits(host_logits_.data(), k, vocab(), "draft", t);
      for (int i = 0; i < k; ++i) {
        drafts_.push_back(rule_.propose(i, host_logits_.data() + static_cast<long>(i) * vocab(), ctx));
        decode::require_draft(drafts_.back(), i, vocab());
      }
      check(cudaMemcpyAsync(ints(block + 1), drafts_.data(), static_cast<std::size_t>(k) * sizeof(int),
                            cudaMemcpyHostToDevice, stream_), "upload drafts");
    } else if constexpr (Predictor::mode == DraftMode::sequential) {
      for (int i = 0; i < k; ++i) {
        forward_.run(ints(block + i), 1, t + i, cache_, skip, draft_logits_.data(), stream_);
        download(draft_logits_.data(), 1);
        decode::require_finite_logits(host_logits_.data(), 1, vocab(), "draft", t + i);
        drafts_.push_back(rule_.propose(i, host_logits_.data(), ctx));
        decode::require_draft(drafts_.back(), i, vocab());
        check(cudaMemcpyAsync(ints(block + 1 + i), &drafts_.back(), sizeof(int), cudaMemcpyHostToDevice, stream_),
              "upload draft");
      }
    }
    check(cudaStreamSynchronize(stream_), "upload drafts");  // drafts_ may move before an async copy reads it
  }

  // Copies `rows` logits rows to host_logits_ and waits for them.
  void download(const float* logits, int rows) {
    const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(vocab());
    if (host_logits_.size() < n) host_logits_.resize(n);
    check(cudaMemcpyAsync(host_logits_.data(), logits, n * sizeof(float), cudaMemcpyDeviceToHost, stream_),
          "download logits");
    check(cudaStreamSynchronize(stream_), "download logits");
  }

  // Copies state [0, n) to host_state_ and waits; a set bad flag is cleared on the device for next time.
  void read_state(int n) {
    check(cudaMemcpyAsync(host_state_.data(), state_.data(), static_cast<std::size_t>(n) * sizeof(int),
                          cudaMemcpyDeviceToHost, stream_), "read verdict");
    check(cudaStreamSynchronize(stream_), "step");
    if (host_state_[bad] != 0) check(cudaMemsetAsync(ints(bad), 0, sizeof(int), stream_), "clear flag");
  }

  void set_pending(int token) {
    pending_ = token;
    check(cudaMemcpyAsync(ints(block), &pending_, sizeof(int), cudaMemcpyHostToDevice, stream_), "pending token");
    if constexpr (Predictor::mode == DraftMode::simultaneous)
      check(cudaMemcpyAsync(ints(draft_in), &pending_, sizeof(int), cudaMemcpyHostToDevice, stream_), "pending token");
  }

  Forward<quant_type, Activations> forward_;
  KvCache cache_;
  Accept rule_;
  std::uint64_t seed_;
  cudaStream_t stream_;
  int pending_ = 0;  // host mirror; also the source of set_pending's copies, so it outlives them
  bool started_ = false;  // a pending token is set
  DecodeStats stats_;
  DeviceBuffer<int> state_, prompt_;
  std::vector<int> host_state_, drafts_;
  DeviceBuffer<float> draft_logits_, target_logits_, p_, q_;
  ArgmaxScratchBuffer argmax_scratch_;  // for the K + 1 verify rows, and the drafts' rows
  WarpScratchBuffer warp_scratch_;      // speculative sampling's: the same rows
  DeviceBuffer<kernels::StepKey> key_dev_{1};
  kernels::StepKey key_{};  // the host copy uploaded each step (a member: the async copy reads it)
  int buckets_ = 1;                       // attention buckets: 1, 2, 4, ... splits up to the cache's
  std::vector<cudaGraphExec_t> graphs_;  // by draft count k, then bucket
  bool use_graphs_ = true;
  cudaStream_t owned_stream_ = nullptr;
  std::vector<float> host_logits_;
  cudaEvent_t events_[3] = {};
};

template <class Model, class Accept = accept::Greedy, class Activations = FloatActivations>
using AutoregressiveDecoder = Decoder<Model, NoSkip, Autoregressive, Accept, Activations>;

}  // namespace skippy::cuda
