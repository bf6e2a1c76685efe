// On the bundled trained model: the configuration the theory picks from acceptance rates calibrated on
// one half of a text is the best one, under the weight-byte cost model, on the other half (held-out
// evaluation from true prefixes; deterministic, no timing).

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../../examples/eval_text.hpp"
#include "../support/models.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

using namespace skippy;

namespace {

using Q = quant::F16;
using M = ModelView<Q>;

struct Result {
  theory::Candidate candidate;  // acceptance calibrated on the first half
  double measured = 0;          // tau on the second half / (1 + c)
};

template <class Skip, class Pred>
Result run(const M& m, const std::vector<int>& calibration, const std::vector<int>& evaluation, int positions) {
  host::HeldOutOptions o;
  o.positions = positions;
  o.window = 256;
  o.per_window = 32;
  host::Decoder<M, Skip, Pred, accept::Greedy> dec(m, o.window + Pred::k + 1);
  Result r;
  r.candidate = theory::Config<Skip, Pred>::candidate(
      theory::calibrate(host::evaluate_held_out(dec, calibration, o), Pred::k));
  const DecodeStats s = host::evaluate_held_out(dec, evaluation, o);
  const double c = theory::draft_fraction(m.config.n_layers, Skip::begin, Skip::end, Pred::k, Pred::mode,
                                          theory::head_fraction(m.config));
  r.measured = s.tau() / (1.0 + c);
  return r;
}

}  // namespace

TEST_CASE("bundled model: the theory's pick from calibrated acceptance is the best on other held-out text") {
  const gguf::File file = gguf::File::open(SKIPPY_BUNDLED_MODEL);
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(file);
  const M m = gguf::view<Q>(file);
  const std::vector<int> text = vocab.encode_bytes(examples::eval_text);
  const auto half = static_cast<long>(text.size() / 2);
  const std::vector<int> first(text.begin(), text.begin() + half), second(text.begin() + half, text.end());
  // Candidates whose byte-model speed-ups differ by more than the sampling noise of the calibration:
  // the trained range at K = 2 and 6, narrower and wider ranges, sequential drafting. (SkipRange<2, 6>
  // Simultaneous<4> measures within 2% of K = 6 here, a tie the calibration cannot be asked to break.)
  const int positions = test::sanitized_build ? 40 : 120;
  const std::array<Result, 5> r = {
      run<SkipRange<2, 6>, Simultaneous<2>>(m, first, second, positions),
      run<SkipRange<2, 6>, Simultaneous<6>>(m, first, second, positions),
      run<SkipRange<3, 5>, Simultaneous<4>>(m, first, second, positions),
      run<SkipRange<1, 7>, Simultaneous<4>>(m, first, second, positions),
      run<SkipRange<2, 6>, Sequential<2>>(m, first, second, positions),
  };
  std::array<theory::Candidate, 5> candidates{};
  for (std::size_t i = 0; i < r.size(); ++i) candidates[i] = r[i].candidate;
  const std::size_t pick = theory::best_index(candidates, m.config.n_layers, theory::head_fraction(m.config));
  std::size_t best = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    MESSAGE("config ", i, ": predicted IF ",
            theory::predicted_speedup(r[i].candidate.acceptance, m.config.n_layers, r[i].candidate.skip_begin,
                                      r[i].candidate.skip_end, r[i].candidate.mode, theory::head_fraction(m.config)),
            ", measured on the other half ", r[i].measured);
    if (r[i].measured > r[best].measured) best = i;
  }
  CHECK(pick == best);
}
