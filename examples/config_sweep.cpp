// Compile-time configuration sweep: every (skip range, K, drafting mode) in examples/sweep_configs.hpp
// is its own decoder type. Each runs on the bundled S3D-trained model (or --model) and reports:
//   held-out acceptance per draft position and tau (drafts from true prefixes of --text, compared with
//   the full model's greedy continuation: DESIGN.md §1), tau and the repeated 8-gram share in free greedy
//   generation, time per step and the measured speed-up over AR on this machine, the theory's speed-up
//   from the held-out acceptance with this machine's measured step times (and its error against the
//   measurement), and the speed-up the weight-byte cost model predicts for a memory-bound device.
// Writes sweep.csv, and sweep.png when gnuplot is installed.

#include <skippy/skippy.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "bundled_model.hpp"
#include "eval_text.hpp"
#include "sweep_configs.hpp"

using namespace skippy;
using Q = quant::F16;
using M = ModelView<Q>;

namespace {

struct Options {
  std::string model = examples::bundled_model_path();
  std::string text_file;  // empty: examples/eval_text.hpp
  int positions = 1000, tokens = 128;
  std::string csv = "sweep.csv";
  std::string only;  // run only configurations whose name contains this
};

struct Row {
  std::string name;
  int skipped = 0, k = 0;
  bool simultaneous = false;
  theory::Acceptance acc;
  double tau_held = 0, tau_free = 0, repeats = 0, ms_per_step = 0, measured = 0, predicted_time = 0,
         predicted_bytes = 0;
};

// The plot's data: one gnuplot data block per (drafting mode, K), points ordered by skipped layers so
// each block draws as one line; columns skipped, predicted (memory-bound), measured. Returns the
// blocks' titles, space-separated, in block order.
std::string write_plot_data(std::vector<Row> rows, const std::string& path) {
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::make_tuple(!a.simultaneous, a.k, a.skipped) < std::make_tuple(!b.simultaneous, b.k, b.skipped);
  });
  std::FILE* f = std::fopen(path.c_str(), "w");
  require(f != nullptr, "cannot write ", path);
  std::string titles;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (i == 0 || r.k != rows[i - 1].k || r.simultaneous != rows[i - 1].simultaneous) {
      if (i > 0) std::fprintf(f, "\n\n");
      titles += (titles.empty() ? "" : " ") + std::string(r.simultaneous ? "simultaneous" : "sequential") +
                "_K=" + std::to_string(r.k);
    }
    std::fprintf(f, "%d %.4f %.4f\n", r.skipped, r.predicted_bytes, r.measured);
  }
  std::fclose(f);
  return titles;
}

const std::vector<std::string> prompts = {"The for statement in Python", "Dictionaries are",
                                          "   >>> import os\n   >>> "};

struct Free {
  DecodeStats stats;
  double repeats = 0;
};

// Free greedy generation from the prompts.
template <class Dec>
Free generate(const M& m, const gguf::Vocabulary& vocab, int tokens) {
  Free f;
  std::vector<int> all;
  for (const auto& p : prompts) {
    std::vector<int> ids = {vocab.bos};
    const auto b = vocab.encode_bytes(p);
    ids.insert(ids.end(), b.begin(), b.end());
    Dec dec(m, static_cast<int>(ids.size()) + tokens + Dec::K + 1, {});
    GenerateOptions o;
    o.max_new_tokens = tokens;
    const auto out = dec.generate(ids, o);
    f.stats += dec.stats();
    f.repeats += repeated_ngram_share(out, 8) / static_cast<double>(prompts.size());
  }
  return f;
}

template <class... C>
std::vector<Row> sweep(examples::SweepList<C...>, const M& m, const gguf::Vocabulary& vocab,
                       const std::vector<int>& text, const Options& opt, const DecodeStats& ar) {
  const double ar_step = ar.decode_seconds() / static_cast<double>(ar.steps);
  const ModelConfig& c = m.config;
  const double head = theory::head_fraction(c);
  std::vector<Row> rows;
  auto one = [&](auto cfg) {
    using Cfg = decltype(cfg);
    using Skip = typename Cfg::skip;
    using Pred = typename Cfg::predictor;
    using Dec = host::Decoder<M, Skip, Pred, accept::Greedy>;
    Row r;
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
    const DecodeStats held = host::evaluate_held_out(dec, text, ho);
    r.acc = theory::calibrate(held, Pred::k);
    r.tau_held = held.tau();
    const Free f = generate<Dec>(m, vocab, opt.tokens);
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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot open --text file ", path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: skippy_config_sweep [--model PATH] [--text FILE] [--positions N] [--tokens N] [--csv PATH]\n"
          "  Runs every configuration of examples/sweep_configs.hpp (greedy, host backend, F16 weights).\n"
          "  --model PATH     GGUF model (default: the bundled examples/models/skippy-byte.gguf)\n"
          "  --text FILE      held-out text for the acceptance measurement (default: a built-in paragraph;\n"
          "                   the training recipe writes its held-out split to build/train/heldout.txt)\n"
          "  --positions N    draft blocks measured from true prefixes per configuration (default 1000)\n"
          "  --tokens N       tokens per prompt in free generation, which is timed (default 128)\n"
          "  --csv PATH       table as CSV (default sweep.csv; a plot beside it when gnuplot is installed)\n"
          "  --only NAME      run only the configurations whose name contains NAME, e.g. \"<2,6> Simultaneous<4>\"\n");
      return 0;
    } else if (a == "--model" && v) opt.model = argv[++i];
    else if (a == "--text" && v) opt.text_file = argv[++i];
    else if (a == "--positions" && v) opt.positions = std::atoi(argv[++i]);
    else if (a == "--tokens" && v) opt.tokens = std::atoi(argv[++i]);
    else if (a == "--csv" && v) opt.csv = argv[++i];
    else if (a == "--only" && v) opt.only = argv[++i];
    else {
      std::fprintf(stderr, "skippy_config_sweep: unknown or incomplete option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  try {
    const examples::LoadedModel<Q> lm(opt.model);
    const M& m = lm.view;
    const gguf::Vocabulary vocab = gguf::Vocabulary::load(lm.file);
    const std::vector<int> text =
        vocab.encode_bytes(opt.text_file.empty() ? std::string(examples::eval_text) : read_file(opt.text_file));
    const Free ar = generate<host::AutoregressiveDecoder<M>>(m, vocab, opt.tokens);
    std::printf("model %s: %d layers, dim %d, %s, host backend\n"
                "held-out text: %s (%zu bytes), %d draft blocks per configuration; free generation: %d tokens x %zu prompts\n"
                "AR: %.0f tok/s, %.2f ms/step, repeated 8-grams %.0f%%\n\n",
                opt.model.c_str(), m.config.n_layers, m.config.dim, Q::name,
                opt.text_file.empty() ? "built-in paragraph" : opt.text_file.c_str(), text.size(), opt.positions,
                opt.tokens, prompts.size(), ar.stats.tokens_per_second(),
                1e3 * ar.stats.decode_seconds() / static_cast<double>(ar.stats.steps), 100 * ar.repeats);
    const auto rows = sweep(examples::Sweep{}, m, vocab, text, opt, ar.stats);
    require(!rows.empty(), "--only '", opt.only, "' matches no configuration of examples/sweep_configs.hpp");
    std::printf("%-28s %-24s %5s %5s %5s %7s %7s %7s %6s %7s\n", "configuration", "held-out acceptance", "tau",
                "free", "rep8", "ms/step", "meas.", "theory", "error", "GPU-pred");
    std::FILE* csv = std::fopen(opt.csv.c_str(), "w");
    if (csv)
      std::fprintf(csv, "config,skipped,k,mode,acceptance,tau_heldout,tau_free,repeated8,ms_per_step,measured_speedup,"
                        "predicted_speedup_measured_times,predicted_speedup_memory_bound\n");
    std::size_t best_pred = 0, best_meas = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::string acc;
      char buf[16];
      for (int j = 0; j < r.k; ++j) {
        std::snprintf(buf, sizeof buf, "%s%.2f", j ? " " : "", r.acc.a[static_cast<std::size_t>(j)]);
        acc += buf;
      }
      std::printf("%-28s %-24s %5.2f %5.2f %4.0f%% %7.2f %6.2fx %6.2fx %+5.0f%% %7.2fx\n", r.name.c_str(), acc.c_str(),
                  r.tau_held, r.tau_free, 100 * r.repeats, r.ms_per_step, r.measured, r.predicted_time,
                  100.0 * (r.measured - r.predicted_time) / r.predicted_time, r.predicted_bytes);
      if (csv)
        std::fprintf(csv, "\"%s\",%d,%d,%s,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", r.name.c_str(), r.skipped, r.k,
                     r.simultaneous ? "simultaneous" : "sequential", acc.c_str(), r.tau_held, r.tau_free, r.repeats,
                     r.ms_per_step, r.measured, r.predicted_time, r.predicted_bytes);
      if (r.predicted_bytes > rows[best_pred].predicted_bytes) best_pred = i;
      if (r.measured > rows[best_meas].measured) best_meas = i;
    }
    if (csv) std::fclose(csv);
    std::printf("\ncolumns: tau = held-out (true prefixes), free = free greedy generation, rep8 = repeated 8-grams in\n"
                "it, meas. = measured tokens/s over AR here, theory = E[tau] from held-out acceptance x T_AR /\n"
                "(T_draft + T_verify) with this machine's step times, error = (meas. - theory) / theory, GPU-pred =\n"
                "E[tau] / (1 + c) under the weight-byte cost model of a memory-bound device.\n\n"
                "theory picks %s for a memory-bound device (%.2fx); measured best on this machine: %s (%.2fx)\n",
                rows[best_pred].name.c_str(), rows[best_pred].predicted_bytes, rows[best_meas].name.c_str(),
                rows[best_meas].measured);
    if (csv && std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
      const std::string stem = opt.csv.substr(0, opt.csv.rfind('.')), png = stem + ".png";
      const std::string titles = write_plot_data(rows, stem + ".dat");
      const std::string cmd =
          "gnuplot -e \"set terminal png noenhanced size 900,640; set output '" + png + "'; set key below;"
          " set xtics 1; set offsets 0.3, 0.3, 0.1, 0.1; set grid;"
          " set xlabel 'skipped layers'; set ylabel 'speed-up over AR'; titles = '" + titles + "';"
          " plot for [i=1:words(titles)] '" + stem + ".dat' index (i-1) using 1:2 with linespoints lt i"
          " title word(titles, i).' predicted (memory-bound)', for [i=1:words(titles)] '" + stem +
          ".dat' index (i-1) using 1:3 with points lt i pt 6 title word(titles, i).' measured here'\"";
      std::printf(std::system(cmd.c_str()) == 0 ? "wrote %s and %s\n" : "wrote %s (gnuplot failed)\n", opt.csv.c_str(),
                  png.c_str());
    } else {
      std::printf("wrote %s%s\n", opt.csv.c_str(), csv ? " (install gnuplot for a plot)" : " -- FAILED to open");
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "skippy_config_sweep: %s\n", e.what());
    return 1;
  }
}
