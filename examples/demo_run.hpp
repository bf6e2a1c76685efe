#pragma once
// The demo's shared part: its options, and one AR-vs-S3D run templated on the decoder (host::Decoder
// or cuda::Decoder), so examples/demo.cpp and examples/demo_cuda.cu print the same report.

#include <skippy/skippy.hpp>
#include <skippy/text/utf8.hpp>

#include "bundled_model.hpp"
#include "dispatch.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace skippy::examples {

inline constexpr const char* default_prompt = "The for statement in Python differs a bit from what you may be used to in C.";

struct DemoOptions {
  std::string model = examples::bundled_model_path();
  std::string prompt = default_prompt;
  int tokens = 200;
  int skip_begin = -1, skip_end = -1;  // -1: the range the model was trained for
  int k = 4;
  std::string draft = "simultaneous";
  std::string accept = "greedy";
  std::string quant = "f16";
  float temperature = 0.7f, top_p = 0.95f;
  int top_k = 40;
  std::uint64_t seed = 1;
  bool stream = true;
  std::string backend = "auto";  // auto: CUDA when a GPU exists, else the host
  bool tensor_cores = false;     // CUDA, F16: tensor-core decoding (cuda::Decoder::tensor_core_decoding)
  bool fused_norms = false;      // CUDA: the norms in the weight launches (cuda::Decoder::fused_norms)
};

template <class Dec, class = void>
struct HasTensorCoreDecoding : std::false_type {};
template <class Dec>
struct HasTensorCoreDecoding<Dec, std::void_t<decltype(std::declval<Dec&>().tensor_core_decoding(true))>>
    : std::true_type {};

// The options only some decoders take: tensor-core decoding and fused norms (cuda::Decoder). Returns what
// the decoder runs, for the report ("" where the decoder has no such switch).
template <class Dec>
std::string apply_backend_options(Dec& dec, const DemoOptions& o) {
  if constexpr (HasTensorCoreDecoding<Dec>::value) {
    std::string report;
    dec.tensor_core_decoding(o.tensor_cores);
    if (dec.uses_tensor_core_decoding()) report += ", tensor-core decoding";
    else if (o.tensor_cores) report += ", tensor-core decoding unavailable here (F16 / BF16 on sm_80+ only)";
    dec.fused_norms(o.fused_norms);
    if (dec.uses_fused_norms()) report += ", fused norms";
    else if (o.fused_norms) report += ", fused norms unavailable for this model";
    return report;
  } else {
    std::string report = o.tensor_cores ? ", --tensor-cores ignored (CUDA only)" : "";
    return report + (o.fused_norms ? ", --fused-norms ignored (CUDA only)" : "");
  }
}

// The policy lists a backend instantiates, dispatched from the options: f(Tag<Skip>, Tag<Pred>, Tag<Rule>)
// for the matching combination. Returns false (calling nothing) when the options name one not in the
// lists; throws for a malformed option.
template <class Skips, class Predictors, class Rules, class F>
bool dispatch_policies(const DemoOptions& o, int skip_begin, int skip_end, F&& f) {
  const bool sim = o.draft == "simultaneous";
  require(sim || o.draft == "sequential", "--draft must be simultaneous or sequential, got '", o.draft, "'");
  require(o.accept == "greedy" || o.accept == "sampling" || o.accept == "typical",
          "--accept must be greedy, sampling or typical, got '", o.accept, "'");
  bool ran = false;
  dispatch(
      Skips{}, [&](auto s) { return decltype(s)::type::begin == skip_begin && decltype(s)::type::end == skip_end; },
      [&](auto s) {
        dispatch(
            Predictors{},
            [&](auto p) {
              using P = typename decltype(p)::type;
              return P::k == o.k && (P::mode == DraftMode::simultaneous) == sim;
            },
            [&](auto p) {
              dispatch(
                  Rules{},
                  [&](auto r) {
                    using R = typename decltype(r)::type;
                    return o.accept == (std::is_same_v<R, accept::Greedy>                ? "greedy"
                                        : std::is_same_v<R, accept::SpeculativeSampling> ? "sampling"
                                                                                         : "typical");
                  },
                  [&](auto r) {
                    ran = true;
                    f(s, p, r);
                  });
            });
      });
  return ran;
}

// The skip range the options ask for: --skip, else the one the model was trained for.
template <class Q>
std::pair<int, int> skip_range_of(const LoadedModel<Q>& m, const DemoOptions& o) {
  if (o.skip_begin >= 0) return {o.skip_begin, o.skip_end};
  if (m.trained.predictors > 0) return {m.trained.skip_begin, m.trained.skip_end};
  return {2, 6};
}

template <class Rule>
typename Rule::Params params(const DemoOptions& o) {
  if constexpr (std::is_same_v<Rule, accept::SpeculativeSampling>)
    return {sampling::WarpParams{o.temperature, o.top_k, o.top_p}};
  else if constexpr (std::is_same_v<Rule, accept::Typical>)
    return accept::TypicalParams{o.temperature, 0.09f, 0.3f};
  else
    return {};
}

struct Run {
  std::vector<int> tokens;
  DecodeStats stats;
};

// Generates with `dec`, streaming the prompt's text and the new bytes as valid UTF-8 (the prompt's bytes go
// through the same stream: an invalid byte shows as U+FFFD, a character it ends inside is joined).
template <class Dec>
Run generate(Dec& dec, const gguf::Vocabulary& vocab, const std::vector<int>& prompt, const DemoOptions& o) {
  GenerateOptions g;
  g.max_new_tokens = o.tokens;
  if (vocab.eos >= 0) g.end_tokens.push_back(vocab.eos);
  text::Utf8Stream utf8;
  std::fputs(utf8.push(o.prompt).c_str(), stdout);
  std::fflush(stdout);
  Run r;
  r.tokens = dec.generate(prompt, g, [&](int t) {
    if (o.stream) {
      std::fputs(utf8.push(vocab.text(t)).c_str(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  if (!o.stream) std::fputs(utf8.push(vocab.text(r.tokens)).c_str(), stdout);
  std::fputs(utf8.finish().c_str(), stdout);
  std::printf("\n");
  r.stats = dec.stats();
  return r;
}

// One demo run with decoders Decoder<ModelView<Q>, ...> (host::Decoder or cuda::Decoder) over `view`
// (host or device memory: the same model as m, which supplies its description).
template <template <class, class, class, class> class Decoder, class Q, class Skip, class Pred, class Rule>
int demo(const LoadedModel<Q>& m, const ModelView<Q>& view, const gguf::Vocabulary& vocab, const DemoOptions& o,
         const char* backend) {
  const ModelConfig& c = m.view.config;
  const std::vector<int> prompt = bos_prompt(vocab, o.prompt);
  require_within_context(m.context_length, static_cast<long>(prompt.size()) + o.tokens,
                         "the prompt's " + std::to_string(prompt.size()) + " tokens plus --tokens " +
                             std::to_string(o.tokens),
                         "shorten --prompt or lower --tokens");
  const int capacity = static_cast<int>(prompt.size()) + o.tokens + Pred::k + 1;
  const char* rule = std::is_same_v<Rule, accept::Greedy> ? "greedy"
                     : std::is_same_v<Rule, accept::Typical> ? "typical acceptance"
                                                             : "speculative sampling";
  std::printf("model: %s (%d layers, dim %d, %d/%d heads, vocab %d, %s%s)\n", o.model.c_str(), c.n_layers, c.dim,
              c.n_heads, c.n_kv_heads, c.vocab, Q::name, m.converted() ? ", converted from the file" : "");
  if (m.trained.predictors > 0)
    std::printf("trained for S3D: skip [%d, %d), K = %d\n", m.trained.skip_begin, m.trained.skip_end,
                m.trained.predictors);

  // AR with the same rule: greedy AR for greedy and typical (typical emits the target argmax), and
  // sampling from the warped target for speculative sampling, the distribution S3D must keep.
  using ArRule = std::conditional_t<std::is_same_v<Rule, accept::SpeculativeSampling>, Rule, accept::Greedy>;
  Decoder<ModelView<Q>, NoSkip, Autoregressive, ArRule> ar(view, capacity, params<ArRule>(o), o.seed);
  const std::string runs = apply_backend_options(ar, o);
  // Both decoders before either runs: what the S3D one rejects (a skip range past the model's layers,
  // parameters of its rule) is an error before the autoregressive run, not after it.
  Decoder<ModelView<Q>, Skip, Pred, Rule> s3d(view, capacity, params<Rule>(o), o.seed);
  apply_backend_options(s3d, o);
  std::printf("backend: %s%s\n\n--- autoregressive (%s) ---\n", backend, runs.c_str(), rule);
  const Run a = generate(ar, vocab, prompt, o);

  std::printf("\n--- S3D SkipRange<%d,%d> %s<%d>, %s ---\n", Skip::begin, Skip::end,
              Pred::mode == DraftMode::simultaneous ? "Simultaneous" : "Sequential", Pred::k, rule);
  const Run s = generate(s3d, vocab, prompt, o);

  const double ar_tps = a.stats.tokens_per_second(), s3d_tps = s.stats.tokens_per_second();
  std::printf("\n%-16s %10s %6s %8s  %s\n", "", "tokens/s", "tau", "speed-up", "acceptance by draft position");
  std::printf("%-16s %10.0f %6.2f %7.2fx\n", "autoregressive", ar_tps, a.stats.tau(), 1.0);
  std::printf("%-16s %10.0f %6.2f %7.2fx ", "S3D", s3d_tps, s.stats.tau(), ar_tps > 0 ? s3d_tps / ar_tps : 0.0);
  for (int i = 0; i < Pred::k; ++i) std::printf(" %.2f", s.stats.acceptance(i));
  // README §1: free-generation tau goes with the share of repeated 8-grams (loops are easy to draft).
  std::printf("\nrepeated 8-grams in the S3D text: %.0f%% (loops are easy to draft; held-out tau: "
              "skippy_config_sweep)\n\n",
              100.0 * repeated_ngram_share(s.tokens, 8));
  if (std::is_same_v<Rule, accept::Greedy>)
    std::printf("greedy S3D %s the autoregressive tokens.\n",
                s.tokens == a.tokens ? "emitted exactly" : "DIFFERS FROM (a bug:) ");
  const double c_frac = theory::draft_fraction(c.n_layers, Skip::begin, Skip::end, Pred::k, Pred::mode,
                                               theory::head_fraction(c));
  std::printf("On a memory-bound GPU a step costs ~(1 + c) AR steps, c = %.2f the draft's share of weight bytes:\n"
              "expected speed-up tau/(1+c) = %.2fx.\n%s\n",
              c_frac, s.stats.tau() / (1 + c_frac),
              std::strncmp(backend, "host", 4) == 0
                  ? "On this CPU the model is compute-bound (its weights stay in cache): each decoded weight serves\n"
                    "all K+1 rows of a step, but every row costs its own multiply-adds, as does its attention, so\n"
                    "a step costs a few AR steps and the measured ratio is below the memory-bound one."
                  : "A model this small is launch-bound on a GPU: each pass is a few dozen short kernels.");
  return (std::is_same_v<Rule, accept::Greedy> && s.tokens != a.tokens) ? 3 : 0;
}

}  // namespace skippy::examples
