// skippy demo: autoregressive and self-speculative decoding side by side on the bundled S3D-trained
// byte model (examples/models/skippy-byte.gguf; see its model card), streaming the generated text.
//
// The policies are template parameters: the options below pick one of the instantiations listed in
// Skips / Predictors / Rules / Quants, so every decoder the demo runs is a fully specialised type.

#include <skippy/skippy.hpp>
#include <skippy/text/utf8.hpp>

#include "bundled_model.hpp"
#include "dispatch.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace skippy;
using examples::Tag;
using examples::TypeList;

namespace {

// Every combination is compiled (3 x 6 x 3 x 3 decoders): extend the lists to offer more.
using Skips = TypeList<SkipRange<2, 6>, SkipRange<3, 5>, SkipRange<1, 7>>;
using Predictors = TypeList<Simultaneous<2>, Simultaneous<4>, Simultaneous<6>, Sequential<2>, Sequential<4>, Sequential<6>>;
using Rules = TypeList<accept::Greedy, accept::SpeculativeSampling, accept::Typical>;
using Quants = TypeList<quant::F16, quant::Q8_0, quant::Q4_0>;

const char* default_prompt = "The for statement in Python differs a bit from what you may be used to in C.";

struct Options {
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
};

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: skippy_demo [options]\n"
               "Generates from a prompt with autoregressive decoding, then with S3D, and compares them.\n\n"
               "  --model PATH        GGUF model (default: the bundled examples/models/skippy-byte.gguf)\n"
               "  --prompt TEXT       prompt text (default: a sentence from the style of Python's docs)\n"
               "  --tokens N          new tokens (bytes) to generate (default 200)\n"
               "  --skip B:E          draft skips layers B..E-1: 2:6 3:5 1:7 (default: the model's trained range)\n"
               "  --k K               draft length K: 2 4 6 (default 4)\n"
               "  --draft MODE        simultaneous (mask tokens, one pass; needs S3D training) or sequential\n"
               "                      (K single-token passes; works on any model) (default simultaneous)\n"
               "  --accept RULE       greedy (exactly the AR tokens), sampling (speculative sampling: the exact\n"
               "                      AR distribution) or typical (fast, not lossless) (default greedy)\n"
               "  --temperature T     sampling/typical temperature (default 0.7)\n"
               "  --top-k N           sampling top-k, 0 = off (default 40)\n"
               "  --top-p P           sampling top-p, 1 = off (default 0.95)\n"
               "  --seed S            seed of the sampling streams (default 1)\n"
               "  --quant Q           weight storage: f16 (the file, in place), q8_0 or q4_0 (converted) (default f16)\n"
               "  --no-stream         print the text after generation instead of while it is produced\n"
               "Backend: host (CPU).\n");
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--model" && v) o.model = argv[++i];
    else if (a == "--prompt" && v) o.prompt = argv[++i];
    else if (a == "--tokens" && v) o.tokens = std::atoi(argv[++i]);
    else if (a == "--skip" && v) {
      if (std::sscanf(argv[++i], "%d:%d", &o.skip_begin, &o.skip_end) != 2) return false;
    } else if (a == "--k" && v) o.k = std::atoi(argv[++i]);
    else if (a == "--draft" && v) o.draft = argv[++i];
    else if (a == "--accept" && v) o.accept = argv[++i];
    else if (a == "--temperature" && v) o.temperature = static_cast<float>(std::atof(argv[++i]));
    else if (a == "--top-k" && v) o.top_k = std::atoi(argv[++i]);
    else if (a == "--top-p" && v) o.top_p = static_cast<float>(std::atof(argv[++i]));
    else if (a == "--seed" && v) o.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--quant" && v) o.quant = argv[++i];
    else if (a == "--no-stream") o.stream = false;
    else {
      std::fprintf(stderr, "skippy_demo: unknown or incomplete option '%s'\n\n", a.c_str());
      return false;
    }
  }
  return true;
}

template <class Rule>
typename Rule::Params params(const Options& o) {
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

// Generates with `dec`, streaming the bytes as valid UTF-8.
template <class Dec>
Run generate(Dec& dec, const gguf::Vocabulary& vocab, const std::vector<int>& prompt, const Options& o) {
  GenerateOptions g;
  g.max_new_tokens = o.tokens;
  if (vocab.eos >= 0) g.end_tokens.push_back(vocab.eos);
  text::Utf8Stream utf8;
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

template <class Q, class Skip, class Pred, class Rule>
int demo(const examples::LoadedModel<Q>& m, const gguf::Vocabulary& vocab, const Options& o) {
  const ModelConfig& c = m.view.config;
  std::vector<int> prompt = {vocab.bos >= 0 ? vocab.bos : 1};
  const std::vector<int> text = vocab.encode_bytes(o.prompt);
  prompt.insert(prompt.end(), text.begin(), text.end());
  const int capacity = static_cast<int>(prompt.size()) + o.tokens + Pred::k + 1;
  const char* rule = std::is_same_v<Rule, accept::Greedy> ? "greedy"
                     : std::is_same_v<Rule, accept::Typical> ? "typical acceptance"
                                                             : "speculative sampling";
  std::printf("model: %s (%d layers, dim %d, %d/%d heads, vocab %d, %s%s)\n", o.model.c_str(), c.n_layers, c.dim,
              c.n_heads, c.n_kv_heads, c.vocab, Q::name, m.converted() ? ", converted from the file" : "");
  if (m.trained.predictors > 0)
    std::printf("trained for S3D: skip [%d, %d), K = %d\n", m.trained.skip_begin, m.trained.skip_end,
                m.trained.predictors);
  std::printf("backend: host (CPU)\n\n--- autoregressive (%s) ---\n%s", rule, o.prompt.c_str());
  std::fflush(stdout);

  // AR with the same rule: greedy AR for greedy and typical (typical emits the target argmax), and
  // sampling from the warped target for speculative sampling, the distribution S3D must keep.
  using ArRule = std::conditional_t<std::is_same_v<Rule, accept::SpeculativeSampling>, Rule, accept::Greedy>;
  host::AutoregressiveDecoder<ModelView<Q>, ArRule> ar(m.view, capacity, params<ArRule>(o), o.seed);
  const Run a = generate(ar, vocab, prompt, o);

  std::printf("\n--- S3D SkipRange<%d,%d> %s<%d>, %s ---\n%s", Skip::begin, Skip::end,
              Pred::mode == DraftMode::simultaneous ? "Simultaneous" : "Sequential", Pred::k, rule, o.prompt.c_str());
  std::fflush(stdout);
  host::Decoder<ModelView<Q>, Skip, Pred, Rule> s3d(m.view, capacity, params<Rule>(o), o.seed);
  const Run s = generate(s3d, vocab, prompt, o);

  const double ar_tps = a.stats.tokens_per_second(), s3d_tps = s.stats.tokens_per_second();
  std::printf("\n%-16s %10s %6s %8s  %s\n", "", "tokens/s", "tau", "speed-up", "acceptance by draft position");
  std::printf("%-16s %10.0f %6.2f %7.2fx\n", "autoregressive", ar_tps, a.stats.tau(), 1.0);
  std::printf("%-16s %10.0f %6.2f %7.2fx ", "S3D", s3d_tps, s.stats.tau(), ar_tps > 0 ? s3d_tps / ar_tps : 0.0);
  for (int i = 0; i < Pred::k; ++i) std::printf(" %.2f", s.stats.acceptance(i));
  std::printf("\n\n");
  if (std::is_same_v<Rule, accept::Greedy>)
    std::printf("greedy S3D %s the autoregressive tokens.\n",
                s.tokens == a.tokens ? "emitted exactly" : "DIFFERS FROM (a bug:) ");
  const double c_frac = theory::draft_fraction(c.n_layers, Skip::begin, Skip::end, Pred::k, Pred::mode,
                                               theory::head_fraction(c));
  std::printf("On a memory-bound GPU a step costs ~(1 + c) AR steps, c = %.2f the draft's share of weight bytes:\n"
              "expected speed-up tau/(1+c) = %.2fx. On this CPU the model is compute-bound: drafting and verifying\n"
              "K+1 tokens costs several AR steps, which is what limits the measured ratio above.\n",
              c_frac, s.stats.tau() / (1 + c_frac));
  return (std::is_same_v<Rule, accept::Greedy> && s.tokens != a.tokens) ? 3 : 0;
}

template <class Q>
int with_model(const Options& o) {
  const examples::LoadedModel<Q> m(o.model);
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(m.file);
  const int b = o.skip_begin >= 0 ? o.skip_begin : (m.trained.predictors > 0 ? m.trained.skip_begin : 2);
  const int e = o.skip_begin >= 0 ? o.skip_end : (m.trained.predictors > 0 ? m.trained.skip_end : 6);
  const bool sim = o.draft == "simultaneous";
  require(sim || o.draft == "sequential", "--draft must be simultaneous or sequential, got '", o.draft, "'");
  int rc = -1;
  const bool found = examples::dispatch(
      Skips{}, [&](auto s) { return decltype(s)::type::begin == b && decltype(s)::type::end == e; },
      [&](auto s) {
        const bool pk = examples::dispatch(
            Predictors{},
            [&](auto p) {
              using P = typename decltype(p)::type;
              return P::k == o.k && (P::mode == DraftMode::simultaneous) == sim;
            },
            [&](auto p) {
              const bool pr = examples::dispatch(
                  Rules{},
                  [&](auto r) {
                    using R = typename decltype(r)::type;
                    return o.accept == (std::is_same_v<R, accept::Greedy>                ? "greedy"
                                        : std::is_same_v<R, accept::SpeculativeSampling> ? "sampling"
                                                                                         : "typical");
                  },
                  [&](auto r) {
                    rc = demo<Q, typename decltype(s)::type, typename decltype(p)::type, typename decltype(r)::type>(
                        m, vocab, o);
                  });
              require(pr, "--accept must be greedy, sampling or typical, got '", o.accept, "'");
            });
        require(pk, "--k ", o.k, " is not instantiated (choose 2 4 6)");
      });
  require(found, "--skip ", b, ":", e, " is not instantiated (choose 2:6 3:5 1:7)");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    usage(stderr);
    return 2;
  }
  try {
    require(o.tokens >= 1, "--tokens must be >= 1, got ", o.tokens);
    require(o.quant == "f16" || o.quant == "q8_0" || o.quant == "q4_0", "--quant must be f16, q8_0 or q4_0, got '",
            o.quant, "'");
    int rc = -1;
    examples::dispatch(
        Quants{}, [&](auto q) { return o.quant == examples::option_name<typename decltype(q)::type>(); },
        [&](auto q) { rc = with_model<typename decltype(q)::type>(o); });
    return rc;
  } catch (const Error& e) {
    std::fprintf(stderr, "skippy_demo: %s\n", e.what());
    return 1;
  }
}
