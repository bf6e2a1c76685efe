// skippy demo: autoregressive vs self-speculative decoding side by side on the host backend.
//
// Until the project's trained model ships (issue: S3D training recipe), the demo builds a seeded
// random LLaMA-architecture model whose middle layers are damped, the situation S3D exploits: the
// skipped layers change the next token only sometimes. Greedy S3D must emit exactly the AR tokens.

#include <skippy/skippy.hpp>

#include "demo_model.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace skippy;

namespace {

struct Options {
  int tokens = 96;
  std::uint64_t seed = 1;
  float damping = 0.05f;
};

void usage() {
  std::printf(
      "usage: skippy_demo [--tokens N] [--seed S] [--damping F]\n"
      "  --tokens N   tokens to generate (default 96)\n"
      "  --seed S     seed of the random model (default 1)\n"
      "  --damping F  residual scale of the skipped layers 2..5 (default 0.05; 1 = plain random model)\n");
}

template <class Dec>
void run(const char* label, Dec& dec, const std::vector<int>& prompt, const GenerateOptions& o,
         const std::vector<int>* reference, double ar_tps) {
  std::printf("%-34s ", label);
  const auto out = dec.generate(prompt, o, [](int t) {
    std::printf("%d ", t);
    std::fflush(stdout);
    return true;
  });
  const DecodeStats& s = dec.stats();
  std::printf("\n%-34s %.0f tok/s  tau %.2f", "", s.tokens_per_second(), s.tau());
  if (Dec::K > 0) {
    std::printf("  acceptance by position:");
    for (int i = 0; i < Dec::K; ++i) std::printf(" %.2f", s.acceptance(i));
  }
  if (ar_tps > 0) std::printf("  speed-up %.2fx", s.tokens_per_second() / ar_tps);
  if (reference) std::printf("  %s", out == *reference ? "(identical to AR)" : "(DIFFERS FROM AR: bug)");
  std::printf("\n\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--tokens" && has_value) {
      opt.tokens = std::atoi(argv[++i]);
    } else if (a == "--seed" && has_value) {
      opt.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--damping" && has_value) {
      opt.damping = static_cast<float>(std::atof(argv[++i]));
    } else {
      std::fprintf(stderr, "unknown or incomplete option: %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  try {
    const FloatWeights w = examples::damped_demo_weights(opt.seed, opt.damping);
    const ModelConfig& c = w.config;
    using Q = quant::Q8_0;
    const auto model = HostModel<Q>::from_float(w);
    const auto view = model.view();
    std::printf("skippy %d.%d.%d demo: random %d-layer model (dim %d, vocab %d, %s weights), layers 2..5 damped by %g\n"
                "backend: host (CPU)\n\n",
                version_major, version_minor, version_patch, c.n_layers, c.dim, c.vocab, Q::name, opt.damping);

    const std::vector<int> prompt = {1, 17, 42, 99, 256, 7};
    GenerateOptions o;
    o.max_new_tokens = opt.tokens;
    const int capacity = static_cast<int>(prompt.size()) + opt.tokens + 8;

    host::AutoregressiveDecoder<ModelView<Q>> ar(view, capacity, {});
    run("autoregressive (greedy)", ar, prompt, o, nullptr, 0);
    const auto reference = ar.generate(prompt, o);
    const double ar_tps = ar.stats().tokens_per_second();

    host::Decoder<ModelView<Q>, SkipRange<2, 6>, Sequential<4>, accept::Greedy> seq(view, capacity, {});
    run("S3D SkipRange<2,6> Sequential<4>", seq, prompt, o, &reference, ar_tps);
    host::Decoder<ModelView<Q>, SkipRange<2, 6>, Simultaneous<4>, accept::Greedy> sim(view, capacity, {});
    run("S3D SkipRange<2,6> Simultaneous<4>", sim, prompt, o, &reference, ar_tps);
    std::printf("(a random model has not learned to predict at mask positions: Simultaneous<K> needs the\n"
                " S3D-trained model; Sequential<K> drafting works on any model)\n\n");
    host::Decoder<ModelView<Q>, SkipRange<2, 6>, Sequential<4>, accept::SpeculativeSampling> samp(
        view, capacity, {sampling::WarpParams{0.8f, 40, 0.95f}}, opt.seed);
    run("S3D sampling T=0.8 top-k 40 top-p .95", samp, prompt, o, nullptr, ar_tps);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
