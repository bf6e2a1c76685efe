// Decoder behaviour around the central property: stopping rules, streaming, K shrinking at the end of
// the cache, cache contents after rollback, statistics, sampling reproducibility and runtime errors.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <string>

#include "../support/chi_square.hpp"
#include "../support/token_distribution.hpp"
#include "../support/models.hpp"
#include "../support/user_rule.hpp"

using namespace skippy;
using Q = quant::F32;
using Model = ModelView<Q>;
using Ar = host::AutoregressiveDecoder<Model>;

namespace {

const std::vector<int> prompt = {3, 14, 15, 9, 26};

std::vector<int> ar_tokens(const Model& m, int n, int capacity = 96) {
  Ar ar(m, capacity, {});
  GenerateOptions o;
  o.max_new_tokens = n;
  return ar.generate(prompt, o);
}

bool message_has(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO("message: ", what);
    CHECK(what.find(needle) != std::string::npos);
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("generation stops exactly at max_new_tokens, even inside an accepted block") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(3));
  // No skipping + sequential drafts: every draft is accepted, so steps emit K+1 = 5 tokens.
  host::Decoder<Model, NoSkip, Sequential<4>, accept::Greedy> dec(hm.view(), 96, {});
  for (int n : {1, 2, 3, 4, 5, 6, 7, 13, 40}) {
    GenerateOptions o;
    o.max_new_tokens = n;
    const auto got = dec.generate(prompt, o);
    CHECK(got == ar_tokens(hm.view(), n));
    CHECK(dec.stats().emitted == n);
    CHECK(dec.stats().steps == (n + 4) / 5);  // K shrinks for the last step, never overshoots
  }
}

TEST_CASE("generation stops right after an end token inside an accepted block") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(4));
  const auto ref = ar_tokens(hm.view(), 40);
  host::Decoder<Model, NoSkip, Sequential<4>, accept::Greedy> dec(hm.view(), 96, {});
  int inside = 0;
  for (std::size_t j = 0; j < ref.size(); ++j) {
    if (std::find(ref.begin(), ref.begin() + static_cast<long>(j), ref[j]) != ref.begin() + static_cast<long>(j))
      continue;  // only first occurrences make a clean end token
    GenerateOptions o;
    o.max_new_tokens = 40;
    o.end_tokens = {ref[j]};
    const auto got = dec.generate(prompt, o);
    CHECK(got == std::vector<int>(ref.begin(), ref.begin() + static_cast<long>(j) + 1));
    if (j % 5 != 4) ++inside;  // not the step's last token: it stopped inside an accepted block
  }
  CHECK(inside >= 3);
}

TEST_CASE("tokens stream through the callback in order, and the callback can stop generation") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(5));
  host::Decoder<Model, SkipRange<1, 3>, Simultaneous<4>, accept::Greedy> dec(hm.view(), 96, {});
  GenerateOptions o;
  o.max_new_tokens = 30;
  std::vector<int> streamed;
  const auto got = dec.generate(prompt, o, [&](int t) {
    streamed.push_back(t);
    return true;
  });
  CHECK(streamed == got);
  streamed.clear();
  const auto cut = dec.generate(prompt, o, [&](int t) {
    streamed.push_back(t);
    return streamed.size() < 7;
  });
  CHECK(cut.size() == 7);
  CHECK(cut == std::vector<int>(got.begin(), got.begin() + 7));
}

TEST_CASE("a stop inside an accepted block leaves the decoder where the last handed-out token left it") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(7));
  const auto ref = ar_tokens(hm.view(), 30);
  // A varied text, so that continuing from the wrong place shows (a run of one token would hide it).
  REQUIRE(std::set<int>(ref.begin(), ref.begin() + 20).size() >= 10);
  // Every draft is accepted: each step emits a block of 5, so most cuts drop tokens the step produced.
  host::Decoder<Model, NoSkip, Sequential<4>, accept::Greedy> dec(hm.view(), 96, {});
  const int P = static_cast<int>(prompt.size());
  struct Thrown {};
  for (int how = 0; how < 3; ++how) {  // the callback returns false, an end token, the callback throws
    for (int cut = 1; cut <= 12; ++cut) {
      CAPTURE(how);
      CAPTURE(cut);
      GenerateOptions o;
      o.max_new_tokens = 30;
      if (how == 1) {
        if (std::find(ref.begin(), ref.begin() + cut - 1, ref[static_cast<std::size_t>(cut - 1)]) != ref.begin() + cut - 1)
          continue;  // an earlier occurrence would end sooner
        o.end_tokens = {ref[static_cast<std::size_t>(cut - 1)]};
      }
      int seen = 0;
      const auto cb = [&](int) {
        ++seen;
        if (how == 2 && seen == cut) throw Thrown{};
        return how != 0 || seen < cut;
      };
      std::vector<int> got;
      if (how == 2)
        CHECK_THROWS_AS(dec.generate(prompt, o, cb), Thrown);
      else
        got = dec.generate(prompt, o, cb);
      if (how != 2) CHECK(got == std::vector<int>(ref.begin(), ref.begin() + cut));
      CHECK(dec.stats().emitted == cut);
      CHECK(dec.cache().length() == P - 1 + cut);
      CHECK(dec.pending_token() == ref[static_cast<std::size_t>(cut - 1)]);
      std::vector<int> next;  // stepping on continues the text, not the dropped part of the block
      while (next.size() < 8) dec.step(next);
      CHECK(std::equal(next.begin(), next.begin() + 8, ref.begin() + cut));
    }
  }
}

TEST_CASE("rewind checks its length and token") {
  const auto hm = HostModel<Q>::from_float(test::random_weights(13));
  Ar ar(hm.view(), 32, {});
  ar.start({1, 2, 3});
  CHECK(message_has([&] { ar.rewind(3, 1); }, "rewind to 3 outside [0, 2]"));
  CHECK(message_has([&] { ar.rewind(-1, 1); }, "rewind to -1"));
  CHECK(message_has([&] { ar.rewind(1, 64); }, "pending token id 64"));
  CHECK(message_has([&] { ar.rewind(1, -1); }, "pending token id -1"));
  ar.rewind(1, 2);  // back to the state start({1, 2}) leaves
  std::vector<int> a, b;
  ar.step(a);
  ar.start({1, 2});
  ar.step(b);
  CHECK(a == b);
}

TEST_CASE("K shrinks near the end of the cache so equality holds to the last token") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(6));
  const int n = 20;
  const int capacity = static_cast<int>(prompt.size()) + n - 1;  // exactly enough for AR
  const auto ref = ar_tokens(hm.view(), n, capacity);
  host::Decoder<Model, SkipRange<1, 3>, Sequential<7>, accept::Greedy> seq(hm.view(), capacity, {});
  host::Decoder<Model, SkipRange<1, 2>, Simultaneous<7>, accept::Greedy> sim(hm.view(), capacity, {});
  GenerateOptions o;
  o.max_new_tokens = n;
  CHECK(seq.generate(prompt, o) == ref);
  CHECK(seq.stats().drafted < 7 * seq.stats().steps);  // some step drafted fewer than K
  CHECK(sim.generate(prompt, o) == ref);
  CHECK(seq.cache().length() <= capacity);

  // One token more than fits: a clear error before any work, naming the cache.
  o.max_new_tokens = n + 1;
  CHECK(message_has([&] { seq.generate(prompt, o); }, "KV cache"));
  // And step() on a full cache is an error, not corruption.
  host::Decoder<Model, NoSkip, Sequential<2>, accept::Greedy> small(hm.view(), 6, {});
  small.start(prompt);  // 4 prompt positions cached, the fifth pending
  std::vector<int> out;
  CHECK(message_has(
      [&] {
        for (int i = 0; i < 10; ++i) small.step(out);
      },
      "KV cache is full"));
  CHECK(out.size() == 2);  // positions 4 and 5 fit, each yielding one token
  CHECK(small.stats().emitted == 2);  // step() alone keeps the statistics too
  CHECK(small.cache().length() == 6);
}

TEST_CASE("after rollback the cache holds exactly the autoregressive K/V") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(7));
  Ar ar(hm.view(), 96, {});
  host::Decoder<Model, SkipRange<1, 3>, Sequential<4>, accept::Greedy> s3d(hm.view(), 96, {});
  GenerateOptions o;
  o.max_new_tokens = 33;
  REQUIRE(ar.generate(prompt, o) == s3d.generate(prompt, o));
  CHECK(s3d.stats().accepted < s3d.stats().drafted);  // rejections happened, so rollbacks too
  const auto& a = ar.cache();
  const auto& b = s3d.cache();
  // S3D may end a few positions further (its last block); compare the common committed prefix.
  const int len = std::min(a.length(), b.length());
  CHECK(len >= static_cast<int>(prompt.size()) + 30);
  const std::size_t bytes = static_cast<std::size_t>(a.kv_dim()) * sizeof(float);
  int mismatches = 0;
  for (int l = 0; l < a.n_layers(); ++l)
    for (int p = 0; p < len; ++p)
      mismatches += std::memcmp(a.k(l, p), b.k(l, p), bytes) != 0 || std::memcmp(a.v(l, p), b.v(l, p), bytes) != 0;
  CHECK(mismatches == 0);
}

TEST_CASE("statistics are consistent") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(8));
  host::Decoder<Model, SkipRange<1, 3>, Sequential<4>, accept::Greedy> dec(hm.view(), 128, {});
  GenerateOptions o;
  o.max_new_tokens = 64;
  dec.generate(prompt, o);
  const DecodeStats& s = dec.stats();
  long steps = 0, accepted = 0;
  for (int n = 0; n <= 4; ++n) {
    steps += s.accept_count[static_cast<std::size_t>(n)];
    accepted += n * s.accept_count[static_cast<std::size_t>(n)];
  }
  CHECK(steps == s.steps);
  CHECK(accepted == s.accepted);
  CHECK(s.emitted == 64);
  CHECK(s.tau() == doctest::Approx(64.0 / static_cast<double>(s.steps)));
  CHECK(s.reached[0] == s.steps);
  for (int i = 0; i < 4; ++i) {
    CHECK(s.accepted_at[static_cast<std::size_t>(i)] <= s.reached[static_cast<std::size_t>(i)]);
    if (i == 0) continue;
    // Position i is reached exactly when position i-1 was accepted, except in a last step whose K shrank.
    const long prev = s.accepted_at[static_cast<std::size_t>(i - 1)];
    CHECK(s.reached[static_cast<std::size_t>(i)] <= prev);
    CHECK(s.reached[static_cast<std::size_t>(i)] >= prev - 1);
  }
  CHECK(s.draft_seconds > 0);
  CHECK(s.verify_seconds > 0);
  CHECK(s.acceptance(0) == doctest::Approx(static_cast<double>(s.accepted_at[0]) / static_cast<double>(s.steps)));
  CHECK(s.acceptance(max_predictors - 1) == 0.0);  // never reached
  CHECK(message_has([&] { (void)s.acceptance(max_predictors); }, "draft position 32 outside [0, 32)"));
  CHECK(message_has([&] { (void)s.acceptance(-1); }, "draft position -1"));
}

TEST_CASE("speculative sampling decoding is reproducible per seed and greedy at temperature 0") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(9));
  using Dec = host::Decoder<Model, SkipRange<1, 3>, Simultaneous<3>, accept::SpeculativeSampling>;
  GenerateOptions o;
  o.max_new_tokens = 24;
  Dec a(hm.view(), 96, {sampling::WarpParams{0.8f, 0, 0.95f}}, 42), b(hm.view(), 96, {sampling::WarpParams{0.8f, 0, 0.95f}}, 42);
  const auto x = a.generate(prompt, o);
  CHECK(x == b.generate(prompt, o));
  int differs = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    b.set_seed(seed);
    differs += b.generate(prompt, o) != x;
  }
  CHECK(differs >= 6);  // other seeds give other samples
  Dec greedy(hm.view(), 96, {sampling::WarpParams{0.0f, 0, 1.0f}}, 42);
  CHECK(greedy.generate(prompt, o) == ar_tokens(hm.view(), 24));
  // A temperature so small that logit / T overflows float: p and q are one-hot on their argmaxes, so a
  // draft is accepted iff it is the target's argmax and the residual is that argmax: greedy's tokens.
  Dec tiny(hm.view(), 96, {sampling::WarpParams{1e-37f, 0, 1.0f}}, 42);
  CHECK(tiny.generate(prompt, o) == ar_tokens(hm.view(), 24));
  greedy.set_params({sampling::WarpParams{0.8f, 0, 0.95f}});  // now decodes as `a` does
  CHECK(greedy.generate(prompt, o) == x);
  CHECK_THROWS_WITH_AS(greedy.set_params({sampling::WarpParams{1.0f, 0, 0.0f}}), doctest::Contains("top_p"), Error);
}

TEST_CASE("end-to-end: S3D speculative sampling draws the model's own next-token distribution") {
  // Exact p(first token | prompt) from a full forward pass, against the first tokens of 20000 seeded S3D
  // first steps, which draft with skipped layers and accept or resample (test::first_token_counts). Random
  // weights, so the draft q is far from p (a damped model's q was so close that a decoder accepting every
  // draft passed): wrong wiring (the wrong q, no verification, the wrong residual) moves the counts.
  const auto hm = HostModel<Q>::from_float(test::random_weights(10));
  const sampling::WarpParams w{1.5f, 0, 1.0f};  // flattened so many tokens carry mass
  const std::vector<float> p = test::warped_next_token(hm.view(), prompt, w);
  host::Decoder<Model, SkipRange<1, 3>, Sequential<2>, accept::SpeculativeSampling> dec(hm.view(), 16, {w});
  const int runs = test::sanitized_build ? 4000 : 20000;
  DecodeStats first{};
  const std::vector<long> counts = test::first_token_counts(dec, prompt, hm.config().vocab, runs, 1000, &first);
  const test::ChiSquare fit = test::chi_square(counts, p, runs);
  MESSAGE("end-to-end first-token chi-square ", fit.chi2, " on ", fit.df, " df (standardised ", fit.z(), ")");
  CHECK(fit.df >= 10);
  CHECK(fit.z() < 5.0);
  // The first draft is accepted with probability sum_v min(p, q): a binomial count within 5 sigma.
  const double a = test::overlap(p, test::warped_first_draft(hm.view(), prompt, LayerRange{1, 3}, w));
  const auto reached = static_cast<double>(first.reached[0]);
  MESSAGE("first-draft acceptance ", first.acceptance(0), ", sum min(p, q) = ", a);
  CHECK(first.reached[0] == runs);
  CHECK(a < 0.9);  // the test has power only if q is far from p
  CHECK(std::fabs(static_cast<double>(first.accepted_at[0]) - a * reached) < 5.0 * std::sqrt(reached * a * (1 - a)));

  // The second token's marginal: a first step that accepted draft 1 either accepts draft 2 (its test
  // conditioned on draft 1) or draws from the residual; either way the marginal must be the model's.
  const std::vector<float> p2 = test::warped_second_token(hm.view(), prompt, w);
  const std::vector<long> counts2 = test::second_token_counts(dec, prompt, hm.config().vocab, runs, 500000);
  const test::ChiSquare fit2 = test::chi_square(counts2, p2, runs);
  MESSAGE("end-to-end second-token chi-square ", fit2.chi2, " on ", fit2.df, " df (standardised ", fit2.z(), ")");
  CHECK(fit2.df >= 10);
  CHECK(fit2.z() < 5.0);
}

TEST_CASE("typical acceptance: a threshold of 1 rejects every draft (greedy AR), a tiny one accepts them all") {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(14));
  GenerateOptions o;
  o.max_new_tokens = 24;
  using Typical = host::Decoder<Model, SkipRange<1, 3>, Simultaneous<4>, accept::Typical>;
  // eps = 1: p(d) > 1 never holds, so each step emits the target argmax of row 0: greedy AR.
  Typical never(hm.view(), 96, {1.0f, 1.0f, 1e30f});
  CHECK(never.generate(prompt, o) == ar_tokens(hm.view(), 24));
  CHECK(never.stats().accept_count[0] == never.stats().steps);
  // A tiny threshold accepts every draft: 5 tokens a step, the drafts being the draft pass's argmaxes, so
  // the tokens differ from greedy AR's where the skipped layers mattered.
  Typical always(hm.view(), 96, {1.0f, 1e-30f, 1e-30f});
  const std::vector<int> got = always.generate(prompt, o);
  CHECK(always.stats().accept_count[4] >= always.stats().steps - 1);
  CHECK(got.size() == 24);
  std::vector<int> out;
  for (const int budget : {5, 2, 4, 1, 3}) CHECK(always.step(out, budget) == budget);
  // The default thresholds sit in between: some drafts accepted, some rejected.
  Typical mid(hm.view(), 96, {});
  mid.generate(prompt, o);
  CHECK(mid.stats().accepted > 0);
  CHECK(mid.stats().accepted < mid.stats().drafted);
}

TEST_CASE("runtime errors name what is wrong") {
  const auto hm = HostModel<Q>::from_float(test::random_weights(13));
  CHECK(message_has([&] { host::Decoder<Model, SkipRange<2, 6>, Sequential<2>, accept::Greedy> d(hm.view(), 32, {}); },
                    "SkipRange<2, 6>"));
  auto no_mask = test::random_weights(13);
  no_mask.config.mask_token_id = -1;
  const auto hm2 = HostModel<Q>::from_float(no_mask);
  CHECK(message_has([&] { host::Decoder<Model, SkipRange<1, 2>, Simultaneous<2>, accept::Greedy> d(hm2.view(), 32, {}); },
                    "mask"));
  Ar ar(hm.view(), 32, {});
  GenerateOptions o;
  o.max_new_tokens = 4;
  std::vector<int> out;
  CHECK(message_has([&] { ar.step(out); }, "before start()"));
  CHECK(message_has([&] { ar.generate({}, o); }, "prompt"));
  CHECK(message_has([&] { ar.generate({1, 64}, o); }, "token id 64"));
  CHECK(message_has([&] { ar.start({64}); }, "token id 64"));  // the pending token, not prefilled
  CHECK(message_has([&] { ar.start(std::vector<int>(33, 1)); }, "does not fit the KV cache of 32"));
  ar.start({1, 2});
  CHECK(message_has([&] { ar.step(out, 0); }, "budget"));
  CHECK(out.empty());
  o.max_new_tokens = -1;
  CHECK(message_has([&] { ar.generate({1}, o); }, "max_new_tokens"));

  auto nan = test::random_weights(14);
  nan.output[5] = std::numeric_limits<float>::quiet_NaN();
  const auto hm3 = HostModel<Q>::from_float(nan);
  Ar ar3(hm3.view(), 32, {});
  o.max_new_tokens = 2;
  CHECK(message_has([&] { ar3.generate({1, 2}, o); }, "NaN or infinite logit"));

  // Finite but huge activations (embeddings near 1e20): the norm's sum of squares overflows. An error, not
  // a row normalised to zeros whose logits all tie at 0 (token 0 forever).
  auto huge = test::random_weights(14);
  for (float& v : huge.token_embd) v *= 1e21f;
  const auto hm4 = HostModel<Q>::from_float(huge);
  Ar ar4(hm4.view(), 32, {});
  CHECK(message_has([&] { ar4.generate({1, 2}, o); }, "NaN or infinite logit"));
}

TEST_CASE("a user-defined acceptance rule decodes as the library's, and its faults are errors") {
  using Rule = test::UserGreedy;
  const auto hm = HostModel<Q>::from_float(test::damped_weights(15));
  GenerateOptions o;
  o.max_new_tokens = 24;
  host::Decoder<Model, SkipRange<1, 3>, Simultaneous<3>, accept::Greedy> library(hm.view(), 64, {});
  host::Decoder<Model, SkipRange<1, 3>, Simultaneous<3>, Rule> user(hm.view(), 64, {});
  CHECK(user.generate(prompt, o) == library.generate(prompt, o));
  CHECK(user.stats().accepted == library.stats().accepted);
  CHECK(library.stats().accepted > 0);  // drafts were tested, not only the bonus token

  const auto faulty = [&hm, &o](Rule::Fault f) {
    return [&hm, &o, f] {
      host::Decoder<Model, SkipRange<1, 3>, Sequential<2>, Rule> dec(hm.view(), 64, {f});
      dec.generate(prompt, o);
    };
  };
  CHECK(message_has(faulty(Rule::Fault::draft_id), "proposed token id 64 for draft 1"));
  CHECK(message_has(faulty(Rule::Fault::accepted), "accepted 3 of 2 drafts"));
  CHECK(message_has(faulty(Rule::Fault::next_id), "next token id -1"));
}
