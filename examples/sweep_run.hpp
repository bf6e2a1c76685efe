#pragma once
// The measuring half of the configuration sweep (examples/config_sweep.cpp), shared by its host and
// CUDA translation units: free generation, held-out acceptance and timing of every configuration of
// examples/sweep_configs.hpp with one decoder template (host::Decoder or cuda::Decoder).

#include <skippy/skippy.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "bundled_model.hpp"
#include "sweep_configs.hpp"

namespace skippy::examples {

using SweepQuant = quant::F16;

struct SweepOptions {
  std::string model = examples::bundled_model_path();
  std::string text_file;  // empty: examples/eval_text.hpp
  int positions = 1000, tokens = 128;
  std::string csv = "sweep.csv";
  std::string only;  // run only configurations whose name contains this
  std::string backend = "all";  // host, cuda, or all (host, then CUDA where a GPU exists)
};

struct SweepRow {
  std::string name;
  int skipped = 0, k = 0;
  bool simultaneous = false;
  theory::Acceptance acc;
  double tau_held = 0, tau_se = 0, tau_free = 0, repeats = 0, ms_per_step = 0, measured = 0, predicted_time = 0,
         predicted_bytes = 0;
};

inline const std::vector<std::string> sweep_prompts = {"The for statement in Python", "Dictionaries are",
                                                       "   >>> import os\n   >>> "};

struct FreeRun {
  DecodeStats stats;
  double repeats = 0;
};

// Free greedy generation from the prompts.
template <class Dec, class Model>
FreeRun free_generation(const Model& m, const gguf::Vocabulary& vocab, int tokens) {
  FreeRun f;
  for (const auto& p : sweep_prompts) {
    const std::vector<int> ids = bos_prompt(vocab, p);
    Dec dec(m, static_cast<int>(ids.size()) + tokens + Dec::K + 1, {});
    GenerateOptions o;
    o.max_new_tokens = tokens;
    const auto out = dec.generate(ids, o);
    f.stats += dec.stats();
    f.repeats += repeated_ngram_share(out, 8) / static_cast<double>(sweep_prompts.size());
  }
  return f;
}

template <template <class, class, class, class> class Decoder, class Model, class... C>
std::vector<SweepRow> sweep(SweepList<C...>, const Model& m, const gguf::Vocabulary& vocab,
                            const std::vector<int>& text, const SweepOptions& opt, const DecodeStats& ar) {
  const double ar_step = ar.decode_seconds() / static_cast<double>(ar.steps);
  const ModelConfig& c = m.config;
  const double head = theory::head_fraction(c);
  std::vector<SweepRow> rows;
  auto one = [&](auto cfg) {
    using Cfg = decltype(cfg);
    using Skip = typename Cfg::skip;
    using Pred = typename Cfg::predictor;
    using Dec = Decoder<Model, Skip, Pred, accept::Greedy>;
    SweepRow r;
    r.skipped = Skip::skipped;
    r.k = Pred::k;
    r.simultaneous = Pred::mode == DraftMode::simultaneous;
    r.name = "SkipRange<" + std::to_string(Skip::begin) + "," + std::to_string(Skip::end) + "> " +
             (r.simultaneous ? "Simultaneous<" : "Sequential<") + std::to_string(Pred::k) + ">";
    if (!opt.only.empty() && r.name.find(opt.only) == std::string::npos) return;
    std::fprintf(stderr, "  %s ...\n", r.name.c_str());
    host::HeldOutOptions ho;
    ho.positions = opt.positions;
    Dec dec(m, ho.window + Pred::k, {});
    std::vector<host::HeldOutBlock> blocks;
    const DecodeStats held = host::evaluate_held_out(dec, text, ho, &blocks);
    r.acc = theory::calibrate(held, Pred::k);
    r.tau_held = held.tau();
    r.tau_se = host::held_out_tau_standard_error(blocks);
    const FreeRun f = free_generation<Dec>(m, vocab, opt.tokens);
    r.tau_free = f.stats.tau();
    r.repeats = f.repeats;
    const auto steps = static_cast<double>(f.stats.steps);
    r.ms_per_step = 1e3 * f.stats.decode_seconds() / steps;
    r.measured = f.stats.tokens_per_second() / ar.tokens_per_second();
    r.predicted_time = theory::improvement_factor(theory::expected_tau(r.acc), ar_step,
                                                  f.stats.draft_seconds / steps, f.stats.verify_seconds / steps);
    r.predicted_bytes = theory::predicted_speedup<Skip, Pred>(r.acc, c.n_layers, head);
    rows.push_back(r);
  };
  (one(C{}), ...);
  return rows;
}

// One backend's sweep: the AR baseline, then every configuration.
struct SweepResult {
  std::string backend;
  FreeRun ar;
  std::vector<SweepRow> rows;
};

template <template <class, class, class, class> class Decoder, class Model>
SweepResult run_sweep(const Model& m, const gguf::Vocabulary& vocab, const std::vector<int>& text,
                      const SweepOptions& opt, std::string backend) {
  SweepResult r;
  r.backend = std::move(backend);
  r.ar = free_generation<Decoder<Model, NoSkip, Autoregressive, accept::Greedy>>(m, vocab, opt.tokens);
  r.rows = sweep<Decoder>(Sweep{}, m, vocab, text, opt, r.ar.stats);
  return r;
}

// The CUDA sweep (examples/config_sweep_cuda.cu, built when CUDA is): ran is false without a GPU.
struct CudaSweep {
  bool ran = false;
  std::string why;
  SweepResult result;
};
CudaSweep sweep_cuda(const ModelView<SweepQuant>& host_model, const gguf::Vocabulary& vocab,
                     const std::vector<int>& text, const SweepOptions& opt);

}  // namespace skippy::examples
