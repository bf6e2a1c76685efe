// The forward pass: a token's row is bit-identical whether it is processed alone or inside a block
// (the property greedy S3D's exactness rests on), for every storage type; skipping layers changes the
// result only through the skipped layers; bad input is rejected.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../support/models.hpp"
#include "../support/row_error.hpp"

using namespace skippy;

namespace {

template <class Q, class A = FloatActivations>
void check_block_equals_single() {
  const auto hm = HostModel<Q>::from_float(test::random_weights(21));
  host::Forward<Q, A> fwd(hm.view());
  const int V = hm.config().vocab;
  const std::vector<int> tokens = {5, 9, 2, 61, 33, 7, 7, 40};
  const int n = static_cast<int>(tokens.size());
  for (LayerRange skip : {LayerRange{}, LayerRange{1, 3}}) {
    // Reference: one token at a time.
    auto c1 = fwd.make_cache(16);
    std::vector<float> single(static_cast<std::size_t>(n * V));
    for (int i = 0; i < n; ++i) fwd.run(&tokens[static_cast<std::size_t>(i)], 1, i, c1, skip, single.data() + i * V);
    // Blocks of 3, 1 and 4 tokens.
    auto c2 = fwd.make_cache(16);
    std::vector<float> blocked(static_cast<std::size_t>(n * V));
    fwd.run(tokens.data(), 3, 0, c2, skip, blocked.data());
    fwd.run(tokens.data() + 3, 1, 3, c2, skip, blocked.data() + 3 * V);
    fwd.run(tokens.data() + 4, 4, 4, c2, skip, blocked.data() + 4 * V);
    INFO(std::string(Q::name), " ", std::string(A::name), " activations, skip [", skip.begin, ", ", skip.end, ")");
    CHECK(std::memcmp(single.data(), blocked.data(), single.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("a row's logits do not depend on the block it is computed in") {
  check_block_equals_single<quant::F32>();
  check_block_equals_single<quant::F16>();
  check_block_equals_single<quant::BF16>();
  check_block_equals_single<quant::Q8_0>();
  check_block_equals_single<quant::Q4_0>();
  check_block_equals_single<quant::Q8_0, Int8Activations>();
  check_block_equals_single<quant::Q4_0, Int8Activations>();
}

namespace {

template <class Q>
double int8_error(const FloatWeights& w) {
  const auto hm = HostModel<Q>::from_float(w);
  host::Forward<Q> f(hm.view());
  host::Forward<Q, Int8Activations> g(hm.view());
  const std::vector<int> tokens = {5, 17, 3, 3, 40, 22, 9, 61, 0};
  const int V = hm.config().vocab, n = static_cast<int>(tokens.size());
  std::vector<float> a(static_cast<std::size_t>(n) * V), b(a.size());
  auto ca = f.make_cache(16), cb = g.make_cache(16);
  f.run(tokens.data(), n, 0, ca, LayerRange{}, a.data());
  g.run(tokens.data(), n, 0, cb, LayerRange{}, b.data());
  return test::row_error(b, a, V);
}

}  // namespace

TEST_CASE("Int8Activations: logits within the 8-bit activations' rounding of the float activations'") {
  // The test models' figure, also the CUDA test's bound for its Forward<Q, Int8Activations> against the
  // host's float path (test/cuda/forward_test.cu).
  for (std::uint64_t seed : {21, 22}) {
    const FloatWeights w = seed == 21 ? test::damped_weights(seed) : test::random_weights(seed);
    const double e8 = int8_error<quant::Q8_0>(w), e4 = int8_error<quant::Q4_0>(w);
    MESSAGE("8-bit activations, relative logit error against float activations: Q8_0 ", e8, ", Q4_0 ", e4);
    CHECK(e8 > 0.0);
    CHECK(e8 <= 3e-2);
    CHECK(e4 > 0.0);
    CHECK(e4 <= 3e-2);
  }
}

TEST_CASE("skipping layers equals running a model without them") {
  // A model whose skipped layers are removed gives the same logits as the full model with the range
  // skipped, so the draft pass is exactly "the kept layers".
  const FloatWeights w = test::random_weights(22);
  FloatWeights kept = w;
  kept.layers.erase(kept.layers.begin() + 1, kept.layers.begin() + 3);
  kept.config.n_layers = 2;
  const auto full = HostModel<quant::F32>::from_float(w);
  const auto small = HostModel<quant::F32>::from_float(kept);
  host::Forward<quant::F32> f1(full.view()), f2(small.view());
  auto c1 = f1.make_cache(8);
  auto c2 = f2.make_cache(8);
  const std::vector<int> tokens = {1, 2, 3, 4};
  const int V = w.config.vocab;
  std::vector<float> a(static_cast<std::size_t>(4 * V)), b(a.size()), full_logits(a.size());
  f1.run(tokens.data(), 4, 0, c1, LayerRange{1, 3}, a.data());
  f2.run(tokens.data(), 4, 0, c2, LayerRange{}, b.data());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  f1.run(tokens.data(), 4, 0, c1, LayerRange{}, full_logits.data());
  CHECK(std::memcmp(a.data(), full_logits.data(), a.size() * sizeof(float)) != 0);
}

TEST_CASE("forward rejects bad input with a clear error") {
  const auto hm = HostModel<quant::F32>::from_float(test::random_weights(23));
  host::Forward<quant::F32> fwd(hm.view());
  auto cache = fwd.make_cache(4);
  const int tok[5] = {1, 2, 3, 4, 5};
  std::vector<float> logits(5 * 64);
  CHECK_THROWS_WITH_AS(fwd.run(tok, 5, 0, cache, LayerRange{}, logits.data()),
                       doctest::Contains("KV cache overflow"), Error);
  CHECK_THROWS_WITH_AS(fwd.run(tok, 2, 1, cache, LayerRange{}, logits.data()), doctest::Contains("gap"), Error);
  const int bad[1] = {64};
  CHECK_THROWS_WITH_AS(fwd.run(bad, 1, 0, cache, LayerRange{}, logits.data()), doctest::Contains("token id 64"),
                       Error);
  CHECK_THROWS_WITH_AS(fwd.run(tok, 1, 0, cache, LayerRange{2, 5}, logits.data()),
                       doctest::Contains("skip range [2, 5)"), Error);
  host::KvCache wrong(3, 4, 32);
  CHECK_THROWS_WITH_AS(fwd.run(tok, 1, 0, wrong, LayerRange{}, logits.data()),
                       doctest::Contains("does not match the model"), Error);
}
