// Compile-time configuration sweep: every (skip range, K, drafting mode) in examples/sweep_configs.hpp
// is its own decoder type. Each runs on the bundled S3D-trained model (or --model) and reports:
//   held-out acceptance per draft position and tau (drafts from true prefixes of --text, compared with
//   the full model's greedy continuation: README §1), tau and the repeated 8-gram share in free greedy
//   generation, time per step and the measured speed-up over AR on this machine, the theory's speed-up
//   from the held-out acceptance with this machine's measured step times (and its error against the
//   measurement), and the speed-up the weight-byte cost model predicts for a memory-bound device.
// Writes sweep.csv, and sweep.png when gnuplot is installed; then the same on the GPU (cuda::Decoder,
// examples/config_sweep_cuda.cu) into sweep_cuda.csv when the build has CUDA and a GPU exists.

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

#include "args.hpp"
#include "eval_text.hpp"
#include "plot.hpp"
#include "sweep_run.hpp"

using namespace skippy;
using namespace skippy::examples;
using Q = SweepQuant;

namespace {

// The plot's data: one gnuplot data block per (drafting mode, K), points ordered by skipped layers so
// each block draws as one line; columns skipped, predicted (memory-bound), measured. Returns the
// blocks' titles, space-separated, in block order.
std::string write_plot_data(std::vector<SweepRow> rows, const std::string& path) {
  std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) {
    return std::make_tuple(!a.simultaneous, a.k, a.skipped) < std::make_tuple(!b.simultaneous, b.k, b.skipped);
  });
  std::FILE* f = std::fopen(path.c_str(), "w");
  require(f != nullptr, "cannot write ", path);
  std::string titles;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SweepRow& r = rows[i];
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

// Checked before the sweep (minutes): the CSV can be written and the plot beside it will not overwrite it.
void require_csv(const std::string& csv) {
  const std::string stem = examples::path_stem(csv);
  for (const char* ext : {".png", ".dat", ".gp"})
    require(csv != stem + ext, "--csv ", csv, " would be overwritten by the plot files ", stem,
            ".{dat,gp,png}: name it .csv");
  examples::require_writable("--csv", csv);
}

// Prints one backend's table, writes its CSV (and plot where gnuplot is installed).
void report(const SweepResult& res, const SweepOptions& opt, const ModelConfig& c, std::size_t text_bytes,
            const std::string& csv_path) {
  const FreeRun& ar = res.ar;
  const std::vector<SweepRow>& rows = res.rows;
  std::printf("model %s: %d layers, dim %d, %s, backend: %s\n"
              "held-out text: %s (%zu bytes), %d draft blocks per configuration; free generation: %d tokens x %zu prompts\n"
              "AR: %.0f tok/s, %.2f ms/step, repeated 8-grams %.0f%%\n\n",
              opt.model.c_str(), c.n_layers, c.dim, Q::name, res.backend.c_str(),
              opt.text_file.empty() ? "built-in paragraph" : opt.text_file.c_str(), text_bytes, opt.positions,
              opt.tokens, sweep_prompts.size(), ar.stats.tokens_per_second(),
              1e3 * ar.stats.decode_seconds() / static_cast<double>(ar.stats.steps), 100 * ar.repeats);
  std::printf("%-28s %-24s %5s %5s %5s %5s %7s %7s %7s %6s %7s\n", "configuration", "held-out acceptance", "tau",
              "SE", "free", "rep8", "ms/step", "meas.", "theory", "error", "GPU-pred");
  std::FILE* csv = std::fopen(csv_path.c_str(), "w");
  require(csv != nullptr, "cannot write --csv file ", csv_path);
  std::fprintf(csv, "config,skipped,k,mode,acceptance,tau_heldout,tau_heldout_se,tau_free,repeated8,ms_per_step,"
               "measured_speedup,predicted_speedup_measured_times,predicted_speedup_memory_bound\n");
  std::size_t best_pred = 0, best_meas = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SweepRow& r = rows[i];
    std::string acc;
    char buf[16];
    for (int j = 0; j < r.k; ++j) {
      std::snprintf(buf, sizeof buf, "%s%.2f", j ? " " : "", r.acc.a[static_cast<std::size_t>(j)]);
      acc += buf;
    }
    std::printf("%-28s %-24s %5.2f %5.2f %5.2f %4.0f%% %7.2f %6.2fx %6.2fx %+5.0f%% %7.2fx\n", r.name.c_str(),
                acc.c_str(), r.tau_held, r.tau_se, r.tau_free, 100 * r.repeats, r.ms_per_step, r.measured,
                r.predicted_time, 100.0 * (r.measured - r.predicted_time) / r.predicted_time, r.predicted_bytes);
    if (csv)
      std::fprintf(csv, "\"%s\",%d,%d,%s,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", r.name.c_str(), r.skipped,
                   r.k, r.simultaneous ? "simultaneous" : "sequential", acc.c_str(), r.tau_held, r.tau_se, r.tau_free,
                   r.repeats, r.ms_per_step, r.measured, r.predicted_time, r.predicted_bytes);
    if (r.predicted_bytes > rows[best_pred].predicted_bytes) best_pred = i;
    if (r.measured > rows[best_meas].measured) best_meas = i;
  }
  std::fclose(csv);
  std::printf("\ncolumns: tau = held-out (true prefixes), SE = its standard error with the text windows as\n"
              "samples, free = free greedy generation, rep8 = repeated 8-grams in it, meas. = measured tokens/s\n"
              "over AR here, theory = E[tau] from held-out acceptance x T_AR / (T_draft + T_verify) with this\n"
              "machine's step times, error = (meas. - theory) / theory, GPU-pred = E[tau] / (1 + c) under the\n"
              "weight-byte cost model of a memory-bound device.\n\n"
              "theory picks %s for a memory-bound device (%.2fx); measured best on this machine: %s (%.2fx)\n",
              rows[best_pred].name.c_str(), rows[best_pred].predicted_bytes, rows[best_meas].name.c_str(),
              rows[best_meas].measured);
  if (examples::have_gnuplot()) {
    const std::string stem = examples::path_stem(csv_path), png = stem + ".png", data = stem + ".dat",
                      script = stem + ".gp";
    const std::string titles = write_plot_data(rows, data);
    std::FILE* gp = std::fopen(script.c_str(), "w");
    require(gp != nullptr, "cannot write ", script);
    std::fprintf(gp,
                 "set terminal png noenhanced size 900,640\nset output %s\nset key below\nset xtics 1\n"
                 "set offsets 0.3, 0.3, 0.1, 0.1\nset grid\nset title %s\nset xlabel 'skipped layers'\n"
                 "set ylabel 'speed-up over AR'\ntitles = %s\n"
                 "plot for [i=1:words(titles)] %s index (i-1) using 1:2 with linespoints lt i"
                 " title word(titles, i).' predicted (memory-bound)', for [i=1:words(titles)] %s index (i-1)"
                 " using 1:3 with points lt i pt 6 title word(titles, i).' measured here'\n",
                 examples::gnuplot_string(png).c_str(), examples::gnuplot_string(res.backend).c_str(),
                 examples::gnuplot_string(titles).c_str(), examples::gnuplot_string(data).c_str(),
                 examples::gnuplot_string(data).c_str());
    std::fclose(gp);
    if (examples::run_gnuplot(script))
      std::printf("wrote %s and %s\n", csv_path.c_str(), png.c_str());
    else
      std::printf("wrote %s (gnuplot failed on %s)\n", csv_path.c_str(), script.c_str());
  } else {
    std::printf("wrote %s (install gnuplot for a plot)\n", csv_path.c_str());
  }
}

}  // namespace

#if !defined(SKIPPY_SWEEP_CUDA)
// Built without CUDA: the CUDA sweep is not compiled in.
skippy::examples::CudaSweep skippy::examples::sweep_cuda(const ModelView<SweepQuant>&, const gguf::Vocabulary&,
                                                         const std::vector<int>&, const SweepOptions&) {
  return {false, "this build has no CUDA", {}};
}
#endif

static int run_main(int argc, char** argv) {
  SweepOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: skippy_config_sweep [--model PATH] [--text FILE] [--positions N] [--tokens N] [--csv PATH]\n"
          "                           [--only NAME] [--backend host|cuda|all]\n"
          "  Runs every configuration of examples/sweep_configs.hpp (greedy, F16 weights).\n"
          "  --model PATH     GGUF model (default: the bundled examples/models/skippy-byte.gguf)\n"
          "  --text FILE      held-out text for the acceptance measurement (default: a built-in paragraph;\n"
          "                   the training recipe writes its held-out split to build/train/heldout.txt)\n"
          "  --positions N    draft blocks measured from true prefixes per configuration (default 1000)\n"
          "  --tokens N       tokens per prompt in free generation, which is timed (default 128)\n"
          "  --csv PATH       table as CSV (default sweep.csv; the CUDA table goes to <stem>_cuda.csv; a plot\n"
          "                   beside each when gnuplot is installed)\n"
          "  --only NAME      run only the configurations whose name contains NAME, e.g. \"<2,6> Simultaneous<4>\"\n"
          "  --backend B      host, cuda, or all (default: the host, then CUDA where the build has it and a GPU\n"
          "                   exists)\n");
      return 0;
    } else if (a == "--model" && v) opt.model = argv[++i];
    else if (a == "--text" && v) opt.text_file = argv[++i];
    else if (a == "--positions" && v) opt.positions = static_cast<int>(int_arg("--positions", argv[++i], 1, 1 << 24));
    else if (a == "--tokens" && v) opt.tokens = static_cast<int>(int_arg("--tokens", argv[++i], 1, 1 << 20));
    else if (a == "--csv" && v) opt.csv = argv[++i];
    else if (a == "--only" && v) opt.only = argv[++i];
    else if (a == "--backend" && v) opt.backend = argv[++i];
    else {
      std::fprintf(stderr, "skippy_config_sweep: unknown or incomplete option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (opt.backend != "host" && opt.backend != "cuda" && opt.backend != "all") {
    std::fprintf(stderr, "skippy_config_sweep: --backend must be host, cuda or all, got '%s'\n", opt.backend.c_str());
    return 2;
  }
  try {
    const LoadedModel<Q> lm(opt.model);
    const gguf::Vocabulary vocab = gguf::Vocabulary::load(lm.file);
    const std::vector<int> text = vocab.encode_bytes(
        opt.text_file.empty() ? std::string(eval_text) : examples::read_text_file("--text", opt.text_file));
    // The free generations' prompts plus --tokens, and the held-out windows with the longest K's last block,
    // within the trained context (examples/bundled_model.hpp).
    std::size_t longest = 0;
    for (const auto& p : sweep_prompts) longest = std::max(longest, bos_prompt(vocab, p).size());
    require_within_context(lm.context_length, static_cast<long>(longest) + opt.tokens,
                           "the longest sweep prompt's " + std::to_string(longest) + " tokens plus --tokens " +
                               std::to_string(opt.tokens),
                           "lower --tokens");
    const int window = host::HeldOutOptions{}.window;
    require_within_context(lm.context_length, window + Sweep::max_k - 1,
                           "the held-out windows of " + std::to_string(window) + " tokens plus K - 1 = " +
                               std::to_string(Sweep::max_k - 1) + " draft positions",
                           "the sweep needs a model trained for more positions");
    if (opt.backend != "cuda") require_csv(opt.csv);
    if (opt.backend != "host") require_csv(examples::path_stem(opt.csv) + "_cuda.csv");
    const ModelConfig& c = lm.view.config;
    const auto check_rows = [&](const SweepResult& r) {
      require(!r.rows.empty(), "--only '", opt.only, "' matches no configuration of examples/sweep_configs.hpp");
    };
    if (opt.backend != "cuda") {
      const SweepResult host = run_sweep<host::Decoder>(lm.view, vocab, text, opt, "host");
      check_rows(host);
      report(host, opt, c, text.size(), opt.csv);
    }
    if (opt.backend != "host") {
      const CudaSweep gpu = sweep_cuda(lm.view, vocab, text, opt);
      if (!gpu.ran) {
        std::fprintf(opt.backend == "cuda" ? stderr : stdout, "\nCUDA sweep not run: %s\n", gpu.why.c_str());
        return opt.backend == "cuda" ? 1 : 0;
      }
      check_rows(gpu.result);
      std::printf("\n");
      report(gpu.result, opt, c, text.size(), examples::path_stem(opt.csv) + "_cuda.csv");
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "skippy_config_sweep: %s\n", e.what());
    return 1;
  }
}

int main(int argc, char** argv) {
  return skippy::examples::guarded_main("skippy_config_sweep", [&] { return run_main(argc, argv); });
}
