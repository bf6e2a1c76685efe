// Compile-time configuration sweep: every (skip range, K, drafting mode) in examples/sweep_configs.hpp
// is its own decoder type. Each runs on the same prompts; the table shows acceptance per position, tau,
// time per step, the measured speed-up over autoregressive decoding, the theory's predicted speed-up
// (weight-byte cost model, from the run's calibrated acceptance) and the prediction's error.
// Writes sweep.csv, and sweep.png when gnuplot is installed.
//
// Until the trained model ships this runs on the demo's stand-in model (random weights, layers 2..5
// damped). On a CPU a model this small is compute-bound, so the measured speed-up is far below the
// memory-bound prediction: the gap is the point of showing both.

#include <skippy/skippy.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "demo_model.hpp"
#include "sweep_configs.hpp"

using namespace skippy;
using Q = quant::Q8_0;
using M = ModelView<Q>;

namespace {

struct Row {
  std::string name;
  int skipped = 0, k = 0;
  bool simultaneous = false;
  theory::Acceptance acc;
  double tau = 0, ms_per_step = 0, measured = 0, predicted = 0;
};

const std::vector<std::vector<int>> prompts = {{1, 17, 42, 99, 256, 7}, {300, 2, 9}, {5, 5, 5, 6, 7, 100, 200, 301}};

template <class Dec>
DecodeStats run(const M& m, int tokens) {
  Dec dec(m, tokens + 16, {});
  GenerateOptions o;
  o.max_new_tokens = tokens;
  DecodeStats total;
  for (const auto& p : prompts) {
    dec.generate(p, o);
    const DecodeStats& s = dec.stats();
    total.steps += s.steps;
    total.emitted += s.emitted;
    total.draft_seconds += s.draft_seconds;
    total.verify_seconds += s.verify_seconds;
    for (std::size_t i = 0; i < total.reached.size(); ++i) {
      total.reached[i] += s.reached[i];
      total.accepted_at[i] += s.accepted_at[i];
    }
  }
  return total;
}

template <class... C>
std::vector<Row> sweep(examples::SweepList<C...>, const M& m, int tokens, double ar_tps) {
  std::vector<Row> rows;
  auto one = [&](auto cfg) {
    using Cfg = decltype(cfg);
    using Skip = typename Cfg::skip;
    using Pred = typename Cfg::predictor;
    const DecodeStats s = run<host::Decoder<M, Skip, Pred, accept::Greedy>>(m, tokens);
    Row r;
    r.skipped = Skip::skipped;
    r.k = Pred::k;
    r.simultaneous = Pred::mode == DraftMode::simultaneous;
    r.name = "SkipRange<" + std::to_string(Skip::begin) + "," + std::to_string(Skip::end) + "> " +
             (r.simultaneous ? "Simultaneous<" : "Sequential<") + std::to_string(Pred::k) + ">";
    r.acc = theory::calibrate(s, Pred::k);
    r.tau = s.tau();
    r.ms_per_step = 1e3 * s.decode_seconds() / static_cast<double>(s.steps);
    r.measured = s.tokens_per_second() / ar_tps;
    r.predicted = theory::predicted_speedup<Skip, Pred>(r.acc, m.config.n_layers);
    rows.push_back(r);
  };
  (one(C{}), ...);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  int tokens = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: skippy_config_sweep [--tokens N]\n"
                  "  runs every configuration of examples/sweep_configs.hpp; writes sweep.csv (and sweep.png\n"
                  "  with gnuplot)\n");
      return 0;
    } else if (a == "--tokens" && i + 1 < argc) {
      tokens = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  try {
    const auto model = HostModel<Q>::from_float(examples::damped_demo_weights(1, 0.05f));
    const M m = model.view();
    const DecodeStats ar = run<host::AutoregressiveDecoder<M>>(m, tokens);
    const double ar_tps = ar.tokens_per_second();
    std::printf("stand-in model: %d layers, host backend, %d tokens x %zu prompts; AR %.0f tok/s, %.2f ms/step\n\n",
                m.config.n_layers, tokens, prompts.size(), ar_tps, 1e3 * ar.decode_seconds() / static_cast<double>(ar.steps));
    const auto rows = sweep(examples::Sweep{}, m, tokens, ar_tps);
    std::printf("%-32s %-30s %6s %9s %9s %9s %7s\n", "configuration", "acceptance by position", "tau", "ms/step",
                "measured", "predicted", "error");
    std::FILE* csv = std::fopen("sweep.csv", "w");
    if (csv) std::fprintf(csv, "config,skipped,k,mode,tau,ms_per_step,measured_speedup,predicted_speedup\n");
    std::size_t best_pred = 0, best_meas = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::string acc;
      char buf[16];
      for (int j = 0; j < r.k; ++j) {
        std::snprintf(buf, sizeof buf, "%.2f ", r.acc.a[static_cast<std::size_t>(j)]);
        acc += buf;
      }
      std::printf("%-32s %-30s %6.2f %9.2f %8.2fx %8.2fx %+6.0f%%\n", r.name.c_str(), acc.c_str(), r.tau,
                  r.ms_per_step, r.measured, r.predicted, 100.0 * (r.measured - r.predicted) / r.predicted);
      if (csv)
        std::fprintf(csv, "\"%s\",%d,%d,%s,%.4f,%.4f,%.4f,%.4f\n", r.name.c_str(), r.skipped, r.k,
                     r.simultaneous ? "simultaneous" : "sequential", r.tau, r.ms_per_step, r.measured, r.predicted);
      if (r.predicted > rows[best_pred].predicted) best_pred = i;
      if (r.measured > rows[best_meas].measured) best_meas = i;
    }
    if (csv) std::fclose(csv);
    std::printf("\ntheory picks %s (predicted %.2fx, memory-bound device); measured best here: %s (%.2fx)\n",
                rows[best_pred].name.c_str(), rows[best_pred].predicted, rows[best_meas].name.c_str(),
                rows[best_meas].measured);
    if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
      const int rc = std::system(
          "gnuplot -e \"set terminal png size 800,500; set output 'sweep.png'; set datafile separator ',';"
          " set key autotitle columnhead; set xlabel 'skipped layers'; set ylabel 'predicted speed-up';"
          " plot for [k in '2 4 6'] 'sweep.csv' using ($3==k+0 ? $2 : 1/0):8 with linespoints title 'K='.k\"");
      std::printf(rc == 0 ? "wrote sweep.csv and sweep.png\n" : "wrote sweep.csv (gnuplot failed)\n");
    } else {
      std::printf("wrote sweep.csv (install gnuplot for sweep.png)\n");
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
