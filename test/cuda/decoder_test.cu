// The CUDA decoder: greedy S3D emits exactly the greedy AR tokens on CUDA over a grid of policies (8-bit
// activations, the grouped attention and tensor-core decoding included); CUDA greedy output equals host
// greedy output up to the first step whose top-2 margin is below 1e-3; the bundled trained model
// (losslessness, tau against the host); speculative sampling's distribution; errors.

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../../examples/eval_text.hpp"
#include "../support/chi_square.hpp"
#include "../support/error_message.hpp"
#include "../support/token_distribution.hpp"
#include "../support/gpu.hpp"
#include "../support/models.hpp"
#include "../support/user_rule.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace skippy;

namespace {

template <class... T>
struct List {};

const std::vector<std::vector<int>> prompts = {{1, 2, 3, 4, 5}, {40}, {7, 7, 9, 11, 30, 2, 8, 50}};
constexpr int new_tokens = 32;
constexpr int capacity = 64;

template <class Q>
struct Case {
  HostModel<Q> host;
  skippy::cuda::DeviceModel<Q> device;
  std::vector<std::vector<int>> reference;  // greedy AR tokens on CUDA, per prompt
};

// A: the activation policy of the decoders (the reference AR decoder's too); layout: the weights' device
// layout (tiled: the tensor-core kernel, 8-bit activations).
template <class Q, class A = FloatActivations>
Case<Q> make_case(const FloatWeights& w, skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  HostModel<Q> hm = HostModel<Q>::from_float(w);
  skippy::cuda::DeviceModel<Q> dm(hm.view(), layout);
  Case<Q> c{std::move(hm), std::move(dm), {}};
  skippy::cuda::AutoregressiveDecoder<ModelView<Q>, accept::Greedy, A> ar(c.device.view(), capacity);
  GenerateOptions o;
  o.max_new_tokens = new_tokens;
  for (const auto& p : prompts) c.reference.push_back(ar.generate(p, o));
  return c;
}

using Seen = std::map<std::pair<int, DraftMode>, std::set<int>>;

template <class Q, class Skip, class Pred, class A = FloatActivations>
void check_combination(const std::vector<Case<Q>>& cases, Seen& seen) {
  for (const auto& c : cases) {
    skippy::cuda::Decoder<ModelView<Q>, Skip, Pred, accept::Greedy, A> dec(c.device.view(), capacity);
    GenerateOptions o;
    o.max_new_tokens = new_tokens;
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      INFO(std::string(Q::name), " ", std::string(A::name), " activations SkipRange<", Skip::begin, ",", Skip::end,
           "> K=", Pred::k, Pred::mode == DraftMode::simultaneous ? " simultaneous" : " sequential", " prompt ", p);
      REQUIRE(dec.generate(prompts[p], o) == c.reference[p]);
      const DecodeStats& s = dec.stats();
      CHECK(s.emitted == new_tokens);
      for (int n = 0; n <= Pred::k; ++n)
        if (s.accept_count[static_cast<std::size_t>(n)] > 0) seen[{Pred::k, Pred::mode}].insert(n);
    }
  }
}

template <class Q, class A = FloatActivations, class... P>
void run_quant(List<P...>, Seen& seen, skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  std::vector<Case<Q>> cases;
  cases.push_back(make_case<Q, A>(test::random_weights(11), layout));
  cases.push_back(make_case<Q, A>(test::damped_weights(12), layout));
  (check_combination<Q, SkipRange<1, 3>, P, A>(cases, seen), ...);
  check_combination<Q, SkipRange<2, 4>, Simultaneous<4>, A>(cases, seen);
}

// Index of the first difference of a and b (their common length if none).
std::size_t first_difference(const std::vector<int>& a, const std::vector<int>& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

// Top-2 logit margin of the full model when predicting token i of `generated` after `prompt`.
template <class Q>
float margin_at(const HostModel<Q>& hm, const std::vector<int>& prompt, const std::vector<int>& generated,
                std::size_t i) {
  std::vector<int> seq = prompt;
  seq.insert(seq.end(), generated.begin(), generated.begin() + static_cast<long>(i));
  host::Forward<Q> f(hm.view());
  auto cache = f.make_cache(static_cast<int>(seq.size()));
  const int V = hm.config().vocab;
  std::vector<float> logits(seq.size() * static_cast<std::size_t>(V));
  f.run(seq.data(), static_cast<int>(seq.size()), 0, cache, LayerRange{}, logits.data());
  const float* row = logits.data() + (seq.size() - 1) * static_cast<std::size_t>(V);
  float a = -INFINITY, b = -INFINITY;
  for (int v = 0; v < V; ++v) {
    if (row[v] > a) {
      b = a;
      a = row[v];
    } else if (row[v] > b) {
      b = row[v];
    }
  }
  return a - b;
}

}  // namespace

TEST_CASE("cuda: greedy S3D emits exactly the greedy AR tokens over a grid of policies") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda greedy grid");
  using Preds = List<Simultaneous<1>, Simultaneous<4>, Sequential<2>, Sequential<4>>;
  Seen seen;
  run_quant<quant::F32>(Preds{}, seen);
  run_quant<quant::F16>(Preds{}, seen);
  run_quant<quant::BF16>(Preds{}, seen);
  run_quant<quant::F8_E4M3>(Preds{}, seen);
  run_quant<quant::Q8_0>(Preds{}, seen);
  run_quant<quant::Q4_0>(Preds{}, seen);
  // 8-bit activations (Int8Activations): the same property, against AR under the same policy.
  using Some = List<Simultaneous<4>, Sequential<2>>;
  run_quant<quant::Q8_0, Int8Activations>(Some{}, seen);
  run_quant<quant::Q4_0, Int8Activations>(Some{}, seen);
  // ... and over tiled weights (the tensor-core kernel for every weight launch, prefill included).
  run_quant<quant::Q8_0, Int8Activations>(Some{}, seen, skippy::cuda::Upload::tiled);
  run_quant<quant::Q4_0, Int8Activations>(Some{}, seen, skippy::cuda::Upload::tiled);
  // The damped models accept some drafts and reject others, so rollback after partial acceptance ran.
  for (const auto& entry : seen) {
    const auto& key = entry.first;
    const auto& ns = entry.second;
    INFO("K=", key.first);
    CHECK(ns.count(0) == 1);
    CHECK(ns.size() >= 2);
  }
}

TEST_CASE("cuda greedy output equals host greedy output up to a top-2 margin below 1e-3") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda vs host greedy");
  using Q = quant::F32;
  constexpr float tolerance = 1e-3f;  // the stated cross-backend tolerance (README §1)
  GenerateOptions o;
  o.max_new_tokens = 40;
  int agreed = 0;
  for (std::uint64_t seed : {31, 32, 33}) {
    const auto hm = HostModel<Q>::from_float(test::damped_weights(seed));
    skippy::cuda::DeviceModel<Q> dm(hm.view());
    for (const auto& p : prompts) {
      host::AutoregressiveDecoder<ModelView<Q>> har(hm.view(), capacity);
      skippy::cuda::AutoregressiveDecoder<ModelView<Q>> car(dm.view(), capacity);
      skippy::cuda::Decoder<ModelView<Q>, SkipRange<1, 3>, Simultaneous<4>, accept::Greedy> cs3d(dm.view(), capacity);
      const auto want = har.generate(p, o);
      for (const auto& got : {car.generate(p, o), cs3d.generate(p, o)}) {
        const std::size_t i = first_difference(got, want);
        agreed += static_cast<int>(i);
        if (i < want.size()) {
          INFO("seed ", seed, ": first difference at token ", i);
          CHECK(margin_at(hm, p, want, i) < tolerance);
        }
      }
    }
  }
  MESSAGE("tokens agreeing with the host before any difference: ", agreed, " of ", 3 * 3 * 2 * 40);
}

TEST_CASE("cuda: speculative sampling at temperature 0 is greedy, and at temperature > 0 draws the model's "
          "next-token distribution") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda speculative sampling");
  using Q = quant::F32;
  using Model = ModelView<Q>;
  const std::vector<int> prompt = {3, 14, 15, 9, 26};
  // Random weights: the draft q is far from p (a damped model's was so close that a decoder accepting every
  // draft passed the counts below), and the first draft's acceptance is checked against sum min(p, q).
  const auto hm = HostModel<Q>::from_float(test::random_weights(10));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  const int V = hm.config().vocab;
  GenerateOptions o;
  o.max_new_tokens = 24;
  const auto check_acceptance = [&](const DecodeStats& first, long runs, const sampling::WarpParams& warp) {
    const double a = test::overlap(test::warped_next_token(hm.view(), prompt, warp),
                                   test::warped_first_draft(hm.view(), prompt, LayerRange{1, 3}, warp));
    const auto reached = static_cast<double>(first.reached[0]);
    MESSAGE("cuda first-draft acceptance ", first.acceptance(0), ", sum min(p, q) = ", a);
    CHECK(first.reached[0] == runs);
    CHECK(a < 0.9);  // power: q far from p
    CHECK(std::fabs(static_cast<double>(first.accepted_at[0]) - a * reached) <
          5.0 * std::sqrt(reached * a * (1 - a)));
  };
  skippy::cuda::AutoregressiveDecoder<Model> ar(dm.view(), 32);
  skippy::cuda::Decoder<Model, SkipRange<1, 3>, Sequential<2>, accept::SpeculativeSampling> cold(
      dm.view(), 32, {sampling::WarpParams{0.0f, 0, 1.0f}});
  CHECK(cold.generate(prompt, o) == ar.generate(prompt, o));

  const sampling::WarpParams w{1.5f, 0, 1.0f};
  const std::vector<float> p = test::warped_next_token(hm.view(), prompt, w);
  skippy::cuda::Decoder<Model, SkipRange<1, 3>, Sequential<2>, accept::SpeculativeSampling> dec(dm.view(), 16, {w});
  const long runs = 8000;
  DecodeStats first{};
  const std::vector<long> counts = test::first_token_counts(dec, prompt, V, runs, 5000, &first);
  check_acceptance(first, runs, w);
  const test::ChiSquare fit = test::chi_square(counts, p, runs);
  MESSAGE("cuda first-token chi-square ", fit.chi2, " on ", fit.df, " df (standardised ", fit.z(), ")");
  CHECK(fit.df >= 10);
  CHECK(fit.z() < 5.0);
  const std::vector<float> p2 = test::warped_second_token(hm.view(), prompt, w);
  const test::ChiSquare fit2 = test::chi_square(test::second_token_counts(dec, prompt, V, runs, 700000), p2, runs);
  MESSAGE("cuda second-token chi-square ", fit2.chi2, " on ", fit2.df, " df (standardised ", fit2.z(), ")");
  CHECK(fit2.df >= 10);
  CHECK(fit2.z() < 5.0);

  // Simultaneous drafts with top-k and top-p: the device warp's cut, draws and residuals.
  const sampling::WarpParams cut{1.2f, 24, 0.9f};
  const std::vector<float> pc = test::warped_next_token(hm.view(), prompt, cut);
  skippy::cuda::Decoder<Model, SkipRange<1, 3>, Simultaneous<4>, accept::SpeculativeSampling> sim(dm.view(), 16, {cut});
  DecodeStats first_cut{};  // a simultaneous block's first draft sees only x_t: the same q
  const test::ChiSquare fit_cut =
      test::chi_square(test::first_token_counts(sim, prompt, V, runs, 9000, &first_cut), pc, runs);
  check_acceptance(first_cut, runs, cut);
  MESSAGE("cuda first-token chi-square with top-k 24, top-p 0.9: ", fit_cut.chi2, " on ", fit_cut.df, " df");
  CHECK(fit_cut.df >= 10);
  CHECK(fit_cut.z() < 5.0);
  long outside = 0;  // tokens top-k/top-p removed are never drawn
  const std::vector<long> counts_cut = test::first_token_counts(sim, prompt, V, 2000, 20000);
  for (int v = 0; v < V; ++v)
    if (pc[static_cast<std::size_t>(v)] == 0.0f) outside += counts_cut[static_cast<std::size_t>(v)];
  CHECK(outside == 0);
}

TEST_CASE("cuda: speculative sampling at a tiny temperature (logit / T overflows) emits greedy AR's tokens") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda speculative sampling at a tiny temperature");
  using Q = quant::F32;
  using Model = ModelView<Q>;
  const std::vector<int> prompt = {3, 14, 15, 9, 26};
  const auto hm = HostModel<Q>::from_float(test::damped_weights(10));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  GenerateOptions o;
  o.max_new_tokens = 16;
  skippy::cuda::AutoregressiveDecoder<Model> ar(dm.view(), 32);
  // p and q are one-hot on their argmaxes: a draft is accepted iff it is the target's, the residual is
  // the target's argmax.
  skippy::cuda::Decoder<Model, SkipRange<1, 3>, Simultaneous<3>, accept::SpeculativeSampling> tiny(
      dm.view(), 32, {sampling::WarpParams{1e-37f, 0, 1.0f}});
  const std::vector<int> want = ar.generate(prompt, o);
  CHECK(tiny.generate(prompt, o) == want);
  CHECK(tiny.stats().accepted > 0);
}

TEST_CASE("cuda: speculative sampling over a vocabulary of many chunks draws the model's next-token distribution") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda speculative sampling, chunked rows");
  // 9000 tokens: the warps and the acceptance go over 3 chunks a row (kernels/warp_chunks.cuh).
  using Q = quant::F32;
  using Model = ModelView<Q>;
  ModelConfig c = test::tiny_config();
  c.vocab = 9000;
  c.mask_token_id = 8999;
  const std::vector<int> prompt = {3, 14, 15, 9, 26};
  const auto hm = HostModel<Q>::from_float(test::damped_weights(10, c));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  const sampling::WarpParams cut{1.2f, 24, 0.9f};
  const std::vector<float> pc = test::warped_next_token(hm.view(), prompt, cut);
  skippy::cuda::Decoder<Model, SkipRange<1, 3>, Simultaneous<4>, accept::SpeculativeSampling> sim(dm.view(), 16, {cut});
  const long runs = skippy::test::sanitizer_run() ? 200 : 8000;
  const std::vector<long> counts = test::first_token_counts(sim, prompt, c.vocab, runs, 9000);
  long outside = 0;  // tokens top-k/top-p removed are never drawn
  for (int v = 0; v < c.vocab; ++v)
    if (pc[static_cast<std::size_t>(v)] == 0.0f) outside += counts[static_cast<std::size_t>(v)];
  CHECK(outside == 0);
  if (skippy::test::sanitizer_run()) return;
  const test::ChiSquare fit = test::chi_square(counts, pc, runs);
  MESSAGE("cuda first-token chi-square over 9000 tokens, top-k 24, top-p 0.9: ", fit.chi2, " on ", fit.df, " df");
  CHECK(fit.df >= 10);
  CHECK(fit.z() < 5.0);
}

TEST_CASE("cuda: typical acceptance runs on the device: a threshold of 1 rejects every draft, a tiny one "
          "accepts them all") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda typical acceptance");
  using Q = quant::F32;
  using Model = ModelView<Q>;
  const auto hm = HostModel<Q>::from_float(test::damped_weights(14));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  GenerateOptions o;
  o.max_new_tokens = 24;
  skippy::cuda::AutoregressiveDecoder<Model> ar(dm.view(), capacity);
  using Typical = skippy::cuda::Decoder<Model, SkipRange<1, 3>, Simultaneous<4>, accept::Typical>;
  for (const auto& p : prompts) {
    // eps = 1: p(d) > 1 never holds, so each step emits the target argmax of row 0: greedy AR.
    Typical never(dm.view(), capacity, {1.0f, 1.0f, 1e30f});
    CHECK(never.generate(p, o) == ar.generate(p, o));
    CHECK(never.stats().accept_count[0] == never.stats().steps);
    Typical always(dm.view(), capacity, {1.0f, 1e-30f, 1e-30f});
    always.generate(p, o);
    CHECK(always.stats().accept_count[4] >= always.stats().steps - 1);
    // Steps whose draft counts vary share the device's test scratch (its counter has a slot of its own):
    // each accepts all its drafts.
    std::vector<int> out;
    for (const int budget : {5, 2, 4, 1, 3}) CHECK(always.step(out, budget) == budget);
  }
}

TEST_CASE("cuda: the bundled model decodes losslessly and drafts as well as on the host") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda bundled model");
  using Q = quant::F16;
  using Trained = SkipRange<2, 6>;
  const gguf::File file = gguf::File::open(SKIPPY_BUNDLED_MODEL);
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(file);
  const ModelView<Q> hv = gguf::view<Q>(file);
  skippy::cuda::DeviceModel<Q> dm(hv);
  const std::string text = examples::eval_text;
  GenerateOptions o;
  o.max_new_tokens = 96;
  long steps = 0, emitted = 0;
  for (const std::string& p : {std::string("The for statement"), text.substr(0, 300)}) {
    std::vector<int> ids = {vocab.bos};
    const auto bytes = vocab.encode_bytes(p);
    ids.insert(ids.end(), bytes.begin(), bytes.end());
    const int cap = static_cast<int>(ids.size()) + o.max_new_tokens + 8;
    skippy::cuda::AutoregressiveDecoder<ModelView<Q>> ar(dm.view(), cap);
    skippy::cuda::Decoder<ModelView<Q>, Trained, Simultaneous<4>, accept::Greedy> s3d(dm.view(), cap);
    CHECK(s3d.generate(ids, o) == ar.generate(ids, o));
    steps += s3d.stats().steps;
    emitted += s3d.stats().emitted;
  }
  CHECK(emitted > steps * 3 / 2);

  host::HeldOutOptions h;
  h.positions = 400;
  h.window = 256;
  h.per_window = 32;
  const std::vector<int> ids = vocab.encode_bytes(text);
  skippy::cuda::Decoder<ModelView<Q>, Trained, Simultaneous<4>, accept::Greedy> cdec(dm.view(), h.window + 4);
  host::Decoder<ModelView<Q>, Trained, Simultaneous<4>, accept::Greedy> hdec(hv, h.window + 4);
  const DecodeStats cs = host::evaluate_held_out(cdec, ids, h), hs = host::evaluate_held_out(hdec, ids, h);
  MESSAGE("tau on the eval text: CUDA ", cs.tau(), ", host ", hs.tau());
  // Tokens differ between backends only where the top-2 margin is tiny: the same blocks, the same tau
  // up to a few near-ties.
  CHECK(std::fabs(cs.tau() - hs.tau()) <= 0.05);
  CHECK(cs.tau() >= 2.3);
}

namespace {

// A prompt that ends just before the second attention chunk: decoding from it crosses a chunk boundary
// and an attention bucket.
std::vector<int> long_prompt() {
  std::vector<int> p(static_cast<std::size_t>(2 * skippy::cuda::kernels::attention_chunk - 12));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int>((i * 13 + 5) % 63);
  return p;
}

// Decoders a and b emit the same tokens, with the same acceptance counts, from the short prompts and from
// long_prompt().
template <class A, class B>
void check_same_tokens(A& a, B& b, const GenerateOptions& o) {
  std::vector<std::vector<int>> all = prompts;
  all.push_back(long_prompt());
  for (const auto& p : all) {
    const int length = static_cast<int>(p.size());
    INFO("prompt of ", length);
    CHECK(a.generate(p, o) == b.generate(p, o));
    CHECK(a.stats().accept_count == b.stats().accept_count);
  }
}

// A decoder replaying CUDA Graphs and one launching directly emit the same tokens and acceptance counts,
// on the short prompts and on one that crosses an attention chunk and bucket.
template <class Pred, class Rule>
void check_graphs(const skippy::cuda::DeviceModel<quant::F32>& dm, const typename Rule::Params& params) {
  using Dec = skippy::cuda::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Pred, Rule>;
  const int cap = 2 * skippy::cuda::kernels::attention_chunk + 64;
  Dec graphs(dm.view(), cap, params, 5), direct(dm.view(), cap, params, 5);
  direct.use_graphs(false);
  CHECK(graphs.uses_graphs());
  GenerateOptions o;
  o.max_new_tokens = 27;  // not a multiple of K + 1: the last step drafts fewer, a second graph
  INFO(std::string(Rule::name), " K=", Pred::k);
  check_same_tokens(graphs, direct, o);
}

}  // namespace

TEST_CASE("cuda decoder: steps replayed from CUDA Graphs equal steps launched directly, for every rule") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda graphs");
  const auto hm = HostModel<quant::F32>::from_float(test::damped_weights(15));
  skippy::cuda::DeviceModel<quant::F32> dm(hm.view());
  check_graphs<Simultaneous<4>, accept::Greedy>(dm, {});
  check_graphs<Sequential<3>, accept::Greedy>(dm, {});
  check_graphs<Simultaneous<4>, accept::SpeculativeSampling>(dm, {sampling::WarpParams{1.0f, 0, 1.0f}});
  check_graphs<Sequential<2>, accept::SpeculativeSampling>(dm, {sampling::WarpParams{0.9f, 10, 0.8f}});
  check_graphs<Simultaneous<4>, accept::Typical>(dm, {});

  // Past two attention chunks, replayed S3D steps (position on the device, bucketed splits) against AR
  // launched directly.
  const int cap = 2 * skippy::cuda::kernels::attention_chunk + 64;
  const std::vector<int> prompt = long_prompt();
  GenerateOptions o;
  o.max_new_tokens = 40;  // crosses position 2 * chunk
  skippy::cuda::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Simultaneous<4>, accept::Greedy> graphs(dm.view(), cap);
  skippy::cuda::AutoregressiveDecoder<ModelView<quant::F32>> ar(dm.view(), cap);
  ar.use_graphs(false);
  CHECK(graphs.generate(prompt, o) == ar.generate(prompt, o));
}

TEST_CASE("cuda decoder: set_params takes effect in steps replayed from CUDA Graphs") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda set_params");
  const auto hm = HostModel<quant::F32>::from_float(test::damped_weights(15));
  skippy::cuda::DeviceModel<quant::F32> dm(hm.view());
  using Dec = skippy::cuda::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Simultaneous<2>, accept::SpeculativeSampling>;
  const std::vector<int> prompt{1, 5, 9};
  GenerateOptions o;
  o.max_new_tokens = 12;
  const sampling::WarpParams greedy{0.0f, 0, 1.0f}, hot{1.0f, 0, 1.0f};
  Dec changed(dm.view(), 32, {greedy}, 5), fresh_greedy(dm.view(), 32, {greedy}, 5), fresh_hot(dm.view(), 32, {hot}, 5);
  const std::vector<int> first = changed.generate(prompt, o);  // captures the greedy kind's graphs
  CHECK(first == fresh_greedy.generate(prompt, o));
  changed.set_params({hot});
  CHECK(changed.rule().params().warp.temperature == 1.0f);
  const std::vector<int> sampled = fresh_hot.generate(prompt, o);
  CHECK(sampled != first);  // else the next check could not tell the two kinds apart
  CHECK(changed.generate(prompt, o) == sampled);
  changed.set_params({greedy});  // and back: the sampling graphs are dropped too
  CHECK(changed.generate(prompt, o) == first);
  CHECK_THROWS_WITH_AS(changed.set_params({sampling::WarpParams{-1.0f, 0, 1.0f}}), doctest::Contains("temperature"), Error);
}

namespace {

// The same decoder with its passes' kernels launched early (replayed from graphs, and launched directly)
// and plain: the same tokens and acceptance counts.
template <class Q, class A, class Pred, class Rule>
void check_early(const skippy::cuda::DeviceModel<Q>& dm, const typename Rule::Params& params) {
  using Dec = skippy::cuda::Decoder<ModelView<Q>, SkipRange<1, 3>, Pred, Rule, A>;
  const int cap = 2 * skippy::cuda::kernels::attention_chunk + 64;
  Dec plain(dm.view(), cap, params, 9), early(dm.view(), cap, params, 9);
  early.launch_early(true);
  CHECK(early.launches_early() == skippy::cuda::early_launch_supported());
  CHECK_FALSE(plain.launches_early());
  GenerateOptions o;
  o.max_new_tokens = 23;
  for (const bool graphs : {true, false}) {
    early.use_graphs(graphs);
    INFO(std::string(Q::name), " ", std::string(A::name), " activations, ", std::string(Rule::name), " K=", Pred::k,
         graphs ? ", graphs" : ", direct");
    check_same_tokens(early, plain, o);
  }
}

}  // namespace

TEST_CASE("cuda decoder: steps whose kernels launch early emit the plain launches' tokens, for every rule") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda early launch");
  const auto hf = HostModel<quant::F32>::from_float(test::damped_weights(15));
  skippy::cuda::DeviceModel<quant::F32> df(hf.view());
  check_early<quant::F32, FloatActivations, Simultaneous<4>, accept::Greedy>(df, {});
  check_early<quant::F32, FloatActivations, Sequential<3>, accept::Greedy>(df, {});
  check_early<quant::F32, FloatActivations, Simultaneous<4>, accept::SpeculativeSampling>(
      df, {sampling::WarpParams{0.9f, 10, 0.8f}});
  check_early<quant::F32, FloatActivations, Simultaneous<4>, accept::Typical>(df, {});
  const auto hq = HostModel<quant::Q4_0>::from_float(test::damped_weights(15));
  skippy::cuda::DeviceModel<quant::Q4_0> dq(hq.view(), true);
  check_early<quant::Q4_0, Int8Activations, Simultaneous<4>, accept::Greedy>(dq, {});
  check_early<quant::Q4_0, Int8Activations, Sequential<2>, accept::SpeculativeSampling>(
      dq, {sampling::WarpParams{1.0f, 0, 1.0f}});
}

namespace {

// With the grouped attention on (heads of 32 values), greedy S3D, replayed from graphs and launched directly,
// emits exactly the tokens of greedy AR with the grouped attention, on the short prompts and past two
// attention chunks; for F32, those tokens equal the host's up to a top-2 margin below 1e-3.
template <class Q, class A, class Pred>
void check_grouped(const HostModel<Q>& hm) {
  skippy::cuda::DeviceModel<Q> dm(hm.view(), !std::is_same_v<Q, quant::F32>);
  const int cap = 2 * skippy::cuda::kernels::attention_chunk + 64;
  skippy::cuda::Decoder<ModelView<Q>, SkipRange<1, 3>, Pred, accept::Greedy, A> s3d(dm.view(), cap);
  skippy::cuda::AutoregressiveDecoder<ModelView<Q>, accept::Greedy, A> ar(dm.view(), cap);
  s3d.grouped_attention(true);
  ar.grouped_attention(true);
  REQUIRE(s3d.uses_grouped_attention());
  REQUIRE(ar.uses_grouped_attention());
  GenerateOptions o;
  o.max_new_tokens = 40;
  std::vector<std::vector<int>> all = prompts;
  all.push_back(long_prompt());
  for (const auto& p : all) {
    const std::vector<int> want = ar.generate(p, o);
    for (const bool graphs : {true, false}) {
      s3d.use_graphs(graphs);
      INFO(std::string(Q::name), " ", std::string(A::name), " activations K=", Pred::k, ", prompt of ", p.size(),
           graphs ? ", graphs" : ", direct");
      CHECK(s3d.generate(p, o) == want);
    }
    if constexpr (std::is_same_v<Q, quant::F32>) {
      host::AutoregressiveDecoder<ModelView<Q>> host_ar(hm.view(), cap);
      const std::vector<int> host_tokens = host_ar.generate(p, o);
      const std::size_t i = first_difference(want, host_tokens);
      if (i < host_tokens.size()) {
        INFO("first difference from the host at token ", i);
        CHECK(margin_at(hm, p, host_tokens, i) < 1e-3f);
      }
    }
  }
}

}  // namespace

TEST_CASE("cuda decoder with the grouped attention: greedy S3D emits greedy AR's tokens, the host's up to a near tie") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda grouped attention decoder");
  const auto hf = HostModel<quant::F32>::from_float(test::damped_weights(16, test::head32_config()));
  check_grouped<quant::F32, FloatActivations, Simultaneous<4>>(hf);
  check_grouped<quant::F32, FloatActivations, Sequential<3>>(hf);
  const auto hq = HostModel<quant::Q4_0>::from_float(test::damped_weights(16, test::head32_config()));
  check_grouped<quant::Q4_0, Int8Activations, Simultaneous<4>>(hq);
}

namespace {

// Greedy S3D emits greedy AR's tokens with a decoder setting switched on in both (set(decoder), which
// returns whether it took), with and without graphs; the host's tokens up to a near tie.
template <class Q, class Pred, class Set>
void check_setting(const HostModel<Q>& hm, const char* what, Set&& set, const std::vector<std::vector<int>>& all,
                   skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  skippy::cuda::DeviceModel<Q> dm(hm.view(), layout);
  skippy::cuda::Decoder<ModelView<Q>, SkipRange<1, 3>, Pred, accept::Greedy> s3d(dm.view(), capacity);
  skippy::cuda::AutoregressiveDecoder<ModelView<Q>> ar(dm.view(), capacity);
  REQUIRE(set(s3d));
  REQUIRE(set(ar));
  GenerateOptions o;
  o.max_new_tokens = new_tokens;
  for (const auto& p : all) {
    const std::vector<int> want = ar.generate(p, o);
    for (const bool graphs : {true, false}) {
      s3d.use_graphs(graphs);
      INFO(std::string(Q::name), " ", what, " K=", Pred::k, ", prompt of ", p.size(), graphs ? ", graphs" : ", direct",
           layout == skippy::cuda::Upload::packed ? ", packed" : "");
      CHECK(s3d.generate(p, o) == want);
    }
    host::AutoregressiveDecoder<ModelView<Q>> host_ar(hm.view(), capacity);
    const std::vector<int> host_tokens = host_ar.generate(p, o);
    const std::size_t i = first_difference(want, host_tokens);
    if (i < host_tokens.size()) {
      INFO(std::string(Q::name), " ", what, ": first difference from the host at token ", i);
      CHECK(margin_at(hm, p, host_tokens, i) < 1e-3f);
    }
  }
}

// An F16 / BF16 model's weight products on tensor cores (tensor_core_decoding, prefill included), over the
// prompts and one whose prefill block takes the 64-row form.
template <class Q, class Pred>
void check_tensor_core_decoding(const HostModel<Q>& hm) {
  std::vector<std::vector<int>> all = prompts;
  all.emplace_back();
  for (int i = 0; i < 20; ++i) all.back().push_back((5 * i + 1) % 50);
  check_setting<Q, Pred>(hm, "tensor-core decoding", [](auto& dec) {
    dec.tensor_core_decoding(true);
    return dec.uses_tensor_core_decoding();
  }, all);
}

}  // namespace

TEST_CASE("cuda decoder with tensor-core decoding: greedy S3D emits greedy AR's tokens, the host's up to a near tie") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda tensor-core decoding decoder");
  for (const std::uint64_t seed : {11u, 12u}) {
    const FloatWeights w = seed == 11u ? test::random_weights(seed) : test::damped_weights(seed);
    const auto h16 = HostModel<quant::F16>::from_float(w);
    check_tensor_core_decoding<quant::F16, Simultaneous<4>>(h16);
    check_tensor_core_decoding<quant::F16, Sequential<3>>(h16);
    const auto hb = HostModel<quant::BF16>::from_float(w);
    check_tensor_core_decoding<quant::BF16, Simultaneous<4>>(hb);
  }
}

namespace {

// The norms fused into the weight launches (fused_norms; decoding blocks, float activations).
template <class Q, class Pred>
void check_fused_norms(const HostModel<Q>& hm, skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  check_setting<Q, Pred>(hm, "fused norms", [](auto& dec) {
    dec.fused_norms(true);
    return dec.uses_fused_norms();
  }, prompts, layout);
}

}  // namespace

TEST_CASE("cuda decoder with fused norms: greedy S3D emits greedy AR's tokens, the host's up to a near tie") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda fused-norm decoder");
  for (const std::uint64_t seed : {14u, 15u}) {
    const FloatWeights w = seed == 14u ? test::random_weights(seed) : test::damped_weights(seed);
    check_fused_norms<quant::F32, Simultaneous<4>>(HostModel<quant::F32>::from_float(w));
    check_fused_norms<quant::F16, Sequential<3>>(HostModel<quant::F16>::from_float(w));
    const auto h4 = HostModel<quant::Q4_0>::from_float(w);
    check_fused_norms<quant::Q4_0, Simultaneous<7>>(h4);
    check_fused_norms<quant::Q4_0, Simultaneous<4>>(h4, skippy::cuda::Upload::packed);
  }
}

TEST_CASE("cuda decoder: a stop inside an accepted block leaves the device where the last handed-out token left it") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda decoder stop inside a block");
  using Q = quant::F32;
  const auto hm = HostModel<Q>::from_float(test::damped_weights(7));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  const std::vector<int> prompt = {3, 14, 15, 9, 26};
  GenerateOptions o;
  o.max_new_tokens = 20;
  skippy::cuda::AutoregressiveDecoder<ModelView<Q>> ar(dm.view(), capacity);
  const auto ref = ar.generate(prompt, o);
  // A varied text, so that continuing from the wrong place shows (a run of one token would hide it).
  REQUIRE(std::set<int>(ref.begin(), ref.end()).size() >= 10);
  // Every draft is accepted: steps emit blocks of 5, and a cut inside one drops tokens the device holds.
  skippy::cuda::Decoder<ModelView<Q>, NoSkip, Sequential<4>, accept::Greedy> dec(dm.view(), capacity);
  struct Thrown {};
  for (const bool throws : {false, true}) {
    for (const int cut : {1, 2, 3, 4, 7}) {
      CAPTURE(throws);
      CAPTURE(cut);
      int seen = 0;
      const auto cb = [&](int) {
        if (++seen == cut && throws) throw Thrown{};
        return seen < cut;
      };
      if (throws)
        CHECK_THROWS_AS(dec.generate(prompt, o, cb), Thrown);
      else
        CHECK(dec.generate(prompt, o, cb) == std::vector<int>(ref.begin(), ref.begin() + cut));
      CHECK(dec.stats().emitted == cut);
      CHECK(dec.cache().length() == static_cast<int>(prompt.size()) - 1 + cut);
      CHECK(dec.pending_token() == ref[static_cast<std::size_t>(cut - 1)]);
      std::vector<int> next;
      while (next.size() < 6) dec.step(next);
      CHECK(std::equal(next.begin(), next.begin() + 6, ref.begin() + cut));
    }
  }
}

TEST_CASE("cuda decoder: errors name what is wrong") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda decoder errors");
  using Q = quant::F32;
  using S3d = skippy::cuda::Decoder<ModelView<Q>, SkipRange<1, 3>, Simultaneous<4>, accept::Greedy>;
  const auto hm = HostModel<Q>::from_float(test::random_weights(13));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  S3d dec(dm.view(), 16);
  const auto has = [&](const auto& f, const std::string& needle) {
    const std::string what = test::error_message(f);
    INFO("message: ", what);
    return what.find(needle) != std::string::npos;
  };
  std::vector<int> out;
  CHECK(has([&] { dec.step(out); }, "before start()"));
  CHECK(has([&] { dec.start({}); }, "at least one token"));
  CHECK(has([&] { dec.start({1, 2, 99}); }, "token id 99"));
  CHECK(has([&] { dec.start(std::vector<int>(17, 1)); }, "does not fit the KV cache of 16"));
  GenerateOptions o;
  o.max_new_tokens = 20;
  CHECK(has([&] { dec.generate({1, 2}, o); }, "KV cache positions"));
  CHECK(has([&] {
    skippy::cuda::Decoder<ModelView<Q>, SkipRange<2, 6>, Sequential<2>, accept::Greedy> d(dm.view(), 16);
  }, "SkipRange<2, 6>"));

  // The legacy default stream cannot be captured: the decoder launches directly there, the same tokens.
  S3d legacy(dm.view(), 16, {}, 0, cudaStreamLegacy);
  CHECK_FALSE(legacy.uses_graphs());
  CHECK(has([&] { legacy.use_graphs(true); }, "cannot capture the legacy default stream"));
  o.max_new_tokens = 8;
  CHECK(legacy.generate({1, 2}, o) == dec.generate({1, 2}, o));
  CHECK(dec.uses_graphs());

  // A caught CUDA error is not reported again by the next launch: a failed allocation left CUDA's last error
  // set, and every launch after it returned that error as its own.
  CHECK(has([&] { skippy::cuda::DeviceBuffer<float> huge(std::size_t{1} << 50); }, "CUDA error in cudaMalloc"));
  o.max_new_tokens = 8;
  S3d after(dm.view(), 16);
  CHECK(after.generate({1, 2}, o).size() == 8);

  dec.start({1, 2, 3});
  CHECK(has([&] { dec.step(out, 0); }, "budget"));
  CHECK(has([&] { dec.rewind(3, 1); }, "rewind to 3 outside [0, 2]"));
  CHECK(has([&] { dec.rewind(1, 64); }, "pending token id 64"));
  dec.start(std::vector<int>(16, 1));  // 15 committed, one slot left: one step fits, then none
  CHECK(dec.step(out) == 1);
  CHECK(has([&] { dec.step(out); }, "KV cache is full"));
  CHECK(out.size() == 1);

  auto no_mask = test::random_weights(13);
  no_mask.config.mask_token_id = -1;
  skippy::cuda::DeviceModel<Q> dm_no_mask(HostModel<Q>::from_float(no_mask).view());
  CHECK(has([&] { S3d d(dm_no_mask.view(), 16); }, "mask"));

  // A NaN embedding row for token 9: any pass holding it has NaN logits. The failed step leaves the
  // decoder as it was (the device's pending token too), so stepping again fails the same way.
  auto nan = test::random_weights(13);
  nan.token_embd[9 * static_cast<std::size_t>(nan.config.dim)] = std::numeric_limits<float>::quiet_NaN();
  skippy::cuda::DeviceModel<Q> dm_nan(HostModel<Q>::from_float(nan).view());
  S3d bad(dm_nan.view(), 16);
  bad.start({1, 9});
  for (int attempt = 0; attempt < 2; ++attempt) {
    CHECK(has([&] { bad.step(out); }, "NaN or infinite logit"));
    CHECK(bad.pending_token() == 9);
    CHECK(bad.cache().length() == 1);
  }
  bad.rewind(1, 4);  // away from token 9 the model decodes
  CHECK(bad.step(out) >= 1);
}

namespace {

// The user-defined rule (run on the host) against the library's greedy rule (on the device) with the
// same policies, then each fault of the rule.
template <class Predictor>
void check_user_rule(const ModelView<quant::F32>& m) {
  using Rule = test::UserGreedy;
  using Skip = SkipRange<1, 3>;
  GenerateOptions o;
  o.max_new_tokens = 16;
  skippy::cuda::Decoder<ModelView<quant::F32>, Skip, Predictor, accept::Greedy> library(m, 32);
  skippy::cuda::Decoder<ModelView<quant::F32>, Skip, Predictor, Rule> user(m, 32);
  for (const auto& p : prompts) {
    CHECK(user.generate(p, o) == library.generate(p, o));
    CHECK(user.stats().accepted == library.stats().accepted);
    CHECK(library.stats().accepted > 0);  // drafts were tested, not only the bonus token
  }
  const std::pair<Rule::Fault, std::string> faults[] = {
      {Rule::Fault::draft_id, "proposed token id 64 for draft 1"},
      {Rule::Fault::accepted, "accepted " + std::to_string(Predictor::k + 1) + " of " + std::to_string(Predictor::k)},
      {Rule::Fault::next_id, "next token id -1"}};
  for (const auto& [fault, needle] : faults) {
    skippy::cuda::Decoder<ModelView<quant::F32>, Skip, Predictor, Rule> d(m, 32, {fault});
    const std::string what = test::error_message([&] { d.generate(prompts[0], o); });
    INFO("message: ", what);
    CHECK(what.find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("cuda decoder: a user-defined rule runs on the host, decodes as the library's; its faults are errors") {
  SKIPPY_SKIP_WITHOUT_GPU("cuda decoder with a user-defined rule");
  using Q = quant::F32;
  const auto hm = HostModel<Q>::from_float(test::damped_weights(15));
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  check_user_rule<Simultaneous<3>>(dm.view());
  check_user_rule<Sequential<2>>(dm.view());
}
