// Model configuration and weight-view validation: every inconsistency is named.

#include <doctest/doctest.h>

#include <cstring>

#include "../support/models.hpp"

using namespace skippy;

TEST_CASE("model config validation names the bad field") {
  const auto bad = [](auto edit, const char* needle) {
    ModelConfig c = test::tiny_config();
    edit(c);
    CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains(needle), Error);
  };
  bad([](ModelConfig& c) { c.n_layers = 0; }, "n_layers");
  bad([](ModelConfig& c) { c.n_heads = 3; }, "not divisible by n_heads");
  bad([](ModelConfig& c) { c.n_kv_heads = 3; }, "not divisible by n_kv_heads");
  bad([](ModelConfig& c) { c.dim = 48, c.n_heads = 4, c.n_kv_heads = 2; }, "multiple of 32");
  bad([](ModelConfig& c) { c.ffn_dim = 100; }, "ffn_dim");
  bad([](ModelConfig& c) { c.mask_token_id = 64; }, "mask_token_id");
  bad([](ModelConfig& c) { c.rms_eps = 0; }, "rms_eps");
  CHECK_NOTHROW(test::tiny_config().validate());
}

TEST_CASE("a weight view with a wrong pointer or shape is rejected, naming the tensor") {
  const auto hm = HostModel<quant::Q8_0>::from_float(test::random_weights(1));
  auto v = hm.view();
  CHECK_NOTHROW(v.validate());
  auto null_q = v;
  null_q.layers[2].wq.data = nullptr;
  CHECK_THROWS_WITH_AS(null_q.validate(), doctest::Contains("blk.2.attn_q.weight is null"), Error);
  auto bad_shape = v;
  bad_shape.layers[1].w_down.cols = 64;
  CHECK_THROWS_WITH_AS(bad_shape.validate(), doctest::Contains("blk.1.ffn_down.weight has shape [64][64]"), Error);
  auto missing_layer = v;
  missing_layer.layers.pop_back();
  CHECK_THROWS_WITH_AS(missing_layer.validate(), doctest::Contains("n_layers"), Error);
  CHECK_THROWS_AS(host::Forward<quant::Q8_0>{null_q}, Error);
}

TEST_CASE("the owning container checks tensor sizes and quantises deterministically") {
  auto w = test::random_weights(2);
  w.layers[0].wk.pop_back();
  CHECK_THROWS_WITH_AS(HostModel<quant::F16>::from_float(w), doctest::Contains("blk.0.attn_k.weight has"), Error);
  const auto a = HostModel<quant::Q4_0>::random(test::tiny_config(), 5);
  const auto b = HostModel<quant::Q4_0>::random(test::tiny_config(), 5);
  const auto c = HostModel<quant::Q4_0>::random(test::tiny_config(), 6);
  const auto bytes = a.view().layers[0].wq.bytes();
  CHECK(bytes == 64 * 2 * 18);
  CHECK(std::memcmp(a.view().layers[0].wq.data, b.view().layers[0].wq.data, bytes) == 0);
  CHECK(std::memcmp(a.view().layers[0].wq.data, c.view().layers[0].wq.data, bytes) != 0);
}

TEST_CASE("a caller-owned view over external memory decodes like the owning model") {
  // A custom runtime hands in its own pointers: copy every tensor into separate buffers it owns.
  const auto hm = HostModel<quant::BF16>::from_float(test::damped_weights(3));
  const auto src = hm.view();
  std::vector<std::vector<unsigned char>> arena;
  auto copy = [&](const void* p, std::size_t n) {
    arena.emplace_back(static_cast<const unsigned char*>(p), static_cast<const unsigned char*>(p) + n);
    return static_cast<const void*>(arena.back().data());
  };
  arena.reserve(128);
  ModelView<quant::BF16> v;
  v.config = src.config;
  auto mat = [&](const MatrixView<quant::BF16>& m) {
    return MatrixView<quant::BF16>{static_cast<const bf16_t*>(copy(m.data, m.bytes())), m.rows, m.cols};
  };
  auto norm = [&](const float* p) { return static_cast<const float*>(copy(p, 64 * sizeof(float))); };
  v.token_embd = mat(src.token_embd);
  v.output = mat(src.output);
  v.output_norm = norm(src.output_norm);
  for (const auto& L : src.layers)
    v.layers.push_back({norm(L.attn_norm), mat(L.wq), mat(L.wk), mat(L.wv), mat(L.wo), norm(L.ffn_norm),
                        mat(L.w_gate), mat(L.w_up), mat(L.w_down)});
  host::AutoregressiveDecoder<ModelView<quant::BF16>> a(src, 64, {}), b(v, 64, {});
  GenerateOptions o;
  o.max_new_tokens = 20;
  CHECK(a.generate({1, 2, 3}, o) == b.generate({1, 2, 3}, o));
}
