#include <doctest/doctest.h>

#include <skippy/host/evaluate.hpp>

#include "../support/models.hpp"

#include <algorithm>
#include <cmath>

using namespace skippy;

TEST_CASE("held-out evaluation: every block equals a fresh start from its true prefix") {
  const auto model = HostModel<quant::F32>::from_float(test::damped_weights(3));
  const auto view = model.view();
  using Dec = host::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Sequential<3>, accept::Greedy>;
  std::vector<int> text;
  for (std::uint32_t i = 0; i < 300; ++i)
    text.push_back(static_cast<int>(rng::uniform(11, {i, 0, rng::Purpose::evaluation, 9}) * 63.0f));
  host::HeldOutOptions o;
  o.positions = 45;
  o.window = 40;
  o.per_window = 10;
  o.min_context = 4;
  Dec dec(view, o.window + Dec::K, {});
  std::vector<host::HeldOutBlock> blocks;
  const DecodeStats s = host::evaluate_held_out(dec, text, o, &blocks);
  REQUIRE(blocks.size() == 45);
  CHECK(s.steps == 45);
  long accepted = 0;
  std::vector<int> seen(Dec::K + 1, 0);
  for (const auto& b : blocks) {
    CHECK(b.position >= o.min_context);
    CHECK(b.position < o.window - 1);
    const std::vector<int> prompt(text.begin() + static_cast<long>(b.offset),
                                  text.begin() + static_cast<long>(b.offset) + b.position + 1);
    Dec fresh(view, o.window + Dec::K, {});
    fresh.start(prompt);
    std::vector<int> out;
    CHECK(fresh.step(out) - 1 == b.accepted);
    accepted += b.accepted;
    seen[static_cast<std::size_t>(b.accepted)] += 1;
  }
  CHECK(s.accepted == accepted);
  CHECK(s.tau() == doctest::Approx(1.0 + static_cast<double>(accepted) / 45.0));
  // Windows hold per_window blocks in order (the last one the remainder).
  for (std::size_t i = 0; i < blocks.size(); ++i) CHECK(blocks[i].window == static_cast<int>(i) / o.per_window);
  // The standard error over windows, against its formula computed here from per-window sums.
  std::vector<double> t(5, 0.0), n(5, 0.0);
  for (const auto& b : blocks) {
    t[static_cast<std::size_t>(b.window)] += 1 + b.accepted;
    n[static_cast<std::size_t>(b.window)] += 1;
  }
  double ss = 0;
  for (std::size_t w = 0; w < 5; ++w) ss += std::pow(t[w] - s.tau() * n[w], 2);
  CHECK(host::held_out_tau_standard_error(blocks) == doctest::Approx(std::sqrt(5.0 / 4.0 * ss) / 45.0));
  CHECK(host::held_out_tau_standard_error(blocks) > 0);
  // The damped model makes both outcomes occur, so the comparison above has something to compare.
  CHECK(seen[0] > 0);
  CHECK(seen[Dec::K] > 0);
}

TEST_CASE("held-out evaluation: the standard error of tau treats windows as the samples") {
  using B = host::HeldOutBlock;
  // One window: no spread to estimate.
  CHECK(std::isnan(host::held_out_tau_standard_error({B{0, 5, 2, 0}, B{0, 9, 0, 0}})));
  // Equal windows: no spread however different their blocks are.
  CHECK(host::held_out_tau_standard_error({B{0, 5, 3, 0}, B{0, 9, 0, 0}, B{7, 5, 0, 1}, B{7, 9, 3, 1}}) == 0.0);
  // Two windows of means 1 and 3 (tau 2): sqrt(2/1 * ((2 - 4)^2 + (6 - 4)^2)) / 4 = 1.
  CHECK(host::held_out_tau_standard_error({B{0, 5, 0, 0}, B{0, 9, 0, 0}, B{7, 5, 2, 1}, B{7, 9, 2, 1}}) ==
        doctest::Approx(1.0));
}

TEST_CASE("held-out evaluation: bad options and a short text are rejected") {
  const auto model = HostModel<quant::F32>::from_float(test::damped_weights(3));
  host::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Sequential<3>, accept::Greedy> dec(model.view(), 20, {});
  const std::vector<int> text(100, 5);
  host::HeldOutOptions o;
  o.window = 40;
  CHECK_THROWS_WITH(host::evaluate_held_out(dec, text, o), doctest::Contains("needs 42"));
  o.window = 10;
  o.min_context = 9;
  CHECK_THROWS_WITH(host::evaluate_held_out(dec, text, o), doctest::Contains("must exceed min_context"));
  o.window = 200;
  o.min_context = 4;
  CHECK_THROWS_WITH(host::evaluate_held_out(dec, text, o), doctest::Contains("fewer than one window"));
  // The bounds themselves are fine: a text of exactly one window, a cache of window + K - 1 = 20 (every
  // block still drafts all K = 3 tokens).
  o.window = 18;
  o.positions = 8;
  const std::vector<int> one_window(18, 5);
  std::vector<host::HeldOutBlock> blocks;
  const DecodeStats s = host::evaluate_held_out(dec, one_window, o, &blocks);
  CHECK(blocks.size() == 8);
  CHECK(s.steps == 8);
  CHECK(s.drafted == 8 * 3);
}

TEST_CASE("held-out evaluation with a sampling rule: windows do not share random draws") {
  // A text of exactly one window: every window is the same text, so blocks at the same position in two
  // windows are the same computation and differ only in their random draws. Under one seed for all
  // windows (a block's counters hold its position) their accepted counts were always equal.
  const auto model = HostModel<quant::F32>::from_float(test::random_weights(3));
  using Dec = host::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Sequential<3>, accept::SpeculativeSampling>;
  Dec dec(model.view(), 32, {sampling::WarpParams{1.5f, 0, 1.0f}});
  host::HeldOutOptions o;
  o.window = 24;
  o.min_context = 4;
  o.per_window = 6;
  o.positions = 600;
  std::vector<int> text;
  for (std::uint32_t i = 0; i < 24; ++i)
    text.push_back(static_cast<int>(rng::uniform(5, {i, 0, rng::Purpose::evaluation, 9}) * 63.0f));
  std::vector<host::HeldOutBlock> blocks;
  (void)host::evaluate_held_out(dec, text, o, &blocks);
  std::vector<std::vector<int>> by_position(24);
  for (const auto& b : blocks) by_position[static_cast<std::size_t>(b.position)].push_back(b.accepted);
  int positions_compared = 0, differing = 0;
  for (const auto& a : by_position) {
    if (a.size() < 2) continue;
    ++positions_compared;
    differing += std::any_of(a.begin(), a.end(), [&](int x) { return x != a[0]; });
  }
  CHECK(positions_compared >= 10);
  CHECK(differing >= positions_compared / 2);
}
