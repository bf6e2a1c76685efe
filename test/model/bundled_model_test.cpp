// The bundled S3D-trained model (examples/models/skippy-byte.gguf): fidelity to the training recipe's
// PyTorch logits, greedy losslessness on it, and a floor under its drafting quality.

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../../examples/bundled_model.hpp"
#include "../../examples/eval_text.hpp"
#include "../support/models.hpp"

#include <cmath>

using namespace skippy;

namespace {

const gguf::File& bundled_file() {
  static const gguf::File f = gguf::File::open(SKIPPY_BUNDLED_MODEL);
  return f;
}

// Relative L2 error of our logits against the fixture's, ||ours - torch|| / ||torch||: the largest over
// the rows (positions), and over all rows of all prompts together.
struct FixtureError {
  double worst_row = 0;
  double overall = 0;
};

template <class Q>
FixtureError fixture_error(const ModelView<Q>& m) {
  const RawTensors fx = RawTensors::load(SKIPPY_BUNDLED_FIXTURE);
  const int prompts = fx.meta_int("prompts");
  REQUIRE(prompts >= 3);
  host::Forward<Q> fwd(m);
  const int vocab = m.config.vocab;
  FixtureError e;
  double num_all = 0, den_all = 0;
  for (int i = 0; i < prompts; ++i) {
    const std::vector<int> ids = fx.meta_ints("prompt." + std::to_string(i));
    const RawTensor& want = fx.tensor("logits." + std::to_string(i), static_cast<int>(ids.size()), vocab);
    auto cache = fwd.make_cache(static_cast<int>(ids.size()));
    std::vector<float> got(want.data.size());
    fwd.run(ids.data(), static_cast<int>(ids.size()), 0, cache, LayerRange{}, got.data());
    for (std::size_t r = 0; r < ids.size(); ++r) {
      double num = 0, den = 0;
      for (int v = 0; v < vocab; ++v) {
        const double a = got[r * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(v)];
        const double b = want.data[r * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(v)];
        num += (a - b) * (a - b);
        den += b * b;
      }
      e.worst_row = std::max(e.worst_row, std::sqrt(num / den));
      num_all += num;
      den_all += den;
    }
  }
  e.overall = std::sqrt(num_all / den_all);
  return e;
}

std::vector<int> encode(const gguf::Vocabulary& v, const std::string& text) {
  std::vector<int> ids = {v.bos};
  const auto b = v.encode_bytes(text);
  ids.insert(ids.end(), b.begin(), b.end());
  return ids;
}

using Trained = SkipRange<2, 6>;  // the range examples/train/s3d_train.py trained (checked against the file)

}  // namespace

TEST_CASE("bundled model: the file carries the S3D metadata the tests assume") {
  const auto s3d = gguf::load_s3d(bundled_file());
  REQUIRE(s3d.has_value());
  CHECK(s3d->skip_begin == Trained::begin);
  CHECK(s3d->skip_end == Trained::end);
  CHECK(s3d->predictors == 4);
  CHECK(s3d->mask_token_id == gguf::load_config(bundled_file()).mask_token_id);
}

TEST_CASE("bundled model: host forward matches the recipe's PyTorch logits") {
  // F16 weights read in place and the same weights widened to F32 compute the recipe's function; the
  // remaining difference is float summation order, far below 1e-3.
  const double f16 = fixture_error(gguf::view<quant::F16>(bundled_file())).worst_row;
  const auto f32_model = gguf::load_host_model<quant::F32>(bundled_file());
  const double f32 = fixture_error(f32_model.view()).worst_row;
  MESSAGE("relative logit error vs PyTorch, worst row: F32 ", f32, ", F16 in place ", f16);
  CHECK(f32 <= 1e-3);
  CHECK(f16 <= 1e-3);
  // Quantised variants (made from the F16 file as skippy_gguf_convert does): a per-block scale with 8
  // (4) bits per weight gives a relative weight error of ~0.4% (~8%), and the error grows through 8
  // layers. They are bounded over all rows together: a single row's relative error has that row's norm
  // as denominator, and inside a multi-byte UTF-8 character the logits are nearly flat (norm ~20 against
  // ~100 elsewhere), so the worst row measures the row more than the kernel. Measured on the shipped
  // model: Q8_0 0.263% overall (1.6% worst row), Q4_0 3.96% (32%). The bounds leave ~1.6x room for other
  // compilers' float contraction and the next retraining, not for a broken kernel (swapping the nibble
  // halves of every Q4_0 block gave 85% on the previous file, computed with the recipe's PyTorch model).
  const auto q8 = gguf::load_host_model<quant::Q8_0>(bundled_file());
  const auto q4 = gguf::load_host_model<quant::Q4_0>(bundled_file());
  const FixtureError e8 = fixture_error(q8.view()), e4 = fixture_error(q4.view());
  MESSAGE("relative logit error vs PyTorch, all rows (worst row): Q8_0 ", e8.overall, " (", e8.worst_row,
          "), Q4_0 ", e4.overall, " (", e4.worst_row, ")");
  CHECK(e8.overall <= 0.0042);
  CHECK(e4.overall <= 0.063);
}

TEST_CASE_TEMPLATE("bundled model: greedy S3D emits exactly the greedy AR tokens", Pred, Simultaneous<4>,
                   Sequential<4>, Simultaneous<2>, Simultaneous<6>) {
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(bundled_file());
  const auto m = gguf::view<quant::F16>(bundled_file());
  const std::string text = examples::eval_text;
  const std::vector<std::string> prompts = {"The for statement", "   >>> x = [1, 2, 3]\n   >>> ",
                                            text.substr(0, 300), text.substr(1200, 200)};
  const int n = test::sanitized_build ? 24 : 96;
  GenerateOptions o;
  o.max_new_tokens = n;
  long steps = 0, emitted = 0;
  for (const auto& p : prompts) {
    const std::vector<int> ids = encode(vocab, p);
    host::AutoregressiveDecoder<ModelView<quant::F16>> ar(m, static_cast<int>(ids.size()) + n + 8);
    host::Decoder<ModelView<quant::F16>, Trained, Pred, accept::Greedy> s3d(m, static_cast<int>(ids.size()) + n + 8);
    CHECK(s3d.generate(ids, o) == ar.generate(ids, o));
    steps += s3d.stats().steps;
    emitted += s3d.stats().emitted;
  }
  // Drafts were accepted, so the equality covered rollback after partial acceptance, not only AR steps.
  CHECK(emitted > steps * 3 / 2);
}

TEST_CASE("bundled model: tau at K = 4 on text it never saw stays above the measured floor") {
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(bundled_file());
  const auto m = gguf::view<quant::F16>(bundled_file());
  std::vector<int> text = vocab.encode_bytes(examples::eval_text);
  host::HeldOutOptions o;
  o.positions = test::sanitized_build ? 64 : 400;
  o.window = 256;
  o.per_window = 32;
  host::Decoder<ModelView<quant::F16>, Trained, Simultaneous<4>, accept::Greedy> dec(m, o.window + 4);
  const DecodeStats s = host::evaluate_held_out(dec, text, o);
  MESSAGE("tau ", s.tau(), ", acceptance ", s.acceptance(0), " ", s.acceptance(1), " ", s.acceptance(2), " ",
          s.acceptance(3));
  // Measured 3.17 over the 400 blocks (acceptance .84/.74/.69/.67); the sample is fixed by the seed, so
  // the floor guards against regressions in the decoder or the file, not against sampling noise (the
  // first 64 of those blocks, the sanitizer build's sample, measure 2.92; for the previous file an
  // optimised build and the sanitizer build both measured 2.84 there).
  CHECK(s.tau() >= 2.6);
  CHECK(s.acceptance(0) > 0.5);
}
