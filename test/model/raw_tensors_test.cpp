#include <doctest/doctest.h>

#include <skippy/model/raw_tensors.hpp>

#include "../support/models.hpp"

#include <cstdio>
#include <fstream>
#include <string>

using namespace skippy;

namespace {

// Writes `w` the way examples/train/s3d_train.py exports: manifest + float32 data. extra_line goes after
// the metadata; a "meta <key> ..." there replaces the key's usual line.
void write_raw(const std::string& prefix, const FloatWeights& w, const std::string& extra_line = "",
               std::size_t drop_floats = 0, std::size_t add_floats = 0) {
  std::ofstream m(prefix + ".txt"), b(prefix + ".bin", std::ios::binary);
  const ModelConfig& c = w.config;
  const std::pair<std::string, std::string> meta[] = {
      {"n_layers", std::to_string(c.n_layers)}, {"dim", std::to_string(c.dim)},
      {"n_heads", std::to_string(c.n_heads)},   {"n_kv_heads", std::to_string(c.n_kv_heads)},
      {"ffn_dim", std::to_string(c.ffn_dim)},   {"vocab", std::to_string(c.vocab)},
      {"rope_theta", "10000.0"},                {"rms_eps", "1e-05"},
      {"mask_token_id", std::to_string(c.mask_token_id)}, {"prompt.0", "1,2,3"}};
  m << "skippy-raw 1\n";
  for (const auto& [key, value] : meta)
    if (extra_line.rfind("meta " + key + " ", 0) != 0) m << "meta " << key << " " << value << "\n";
  m << extra_line;
  std::vector<float> all;
  auto t = [&](const std::string& name, int rows, int cols, const std::vector<float>& v) {
    m << "tensor " << name << " " << rows << " " << cols << "\n";
    all.insert(all.end(), v.begin(), v.end());
  };
  const int d = c.dim, kv = c.kv_dim(), f = c.ffn_dim;
  t("token_embd.weight", c.vocab, d, w.token_embd);
  for (int l = 0; l < c.n_layers; ++l) {
    const FloatLayer& L = w.layers[static_cast<std::size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    t(p + "attn_norm.weight", 1, d, L.attn_norm);
    t(p + "attn_q.weight", d, d, L.wq);
    t(p + "attn_k.weight", kv, d, L.wk);
    t(p + "attn_v.weight", kv, d, L.wv);
    t(p + "attn_output.weight", d, d, L.wo);
    t(p + "ffn_norm.weight", 1, d, L.ffn_norm);
    t(p + "ffn_gate.weight", f, d, L.w_gate);
    t(p + "ffn_up.weight", f, d, L.w_up);
    t(p + "ffn_down.weight", d, f, L.w_down);
  }
  t("output_norm.weight", 1, d, w.output_norm);
  t("output.weight", c.vocab, d, w.output);
  all.resize(all.size() - drop_floats);
  all.resize(all.size() + add_floats, 0.0f);
  b.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size() * sizeof(float)));
}

}  // namespace

TEST_CASE("raw tensors: the recipe's export loads back to the same weights and metadata") {
  const FloatWeights w = test::random_weights(5);
  const std::string p = "raw_tensors_test_ok";
  write_raw(p, w);
  const RawTensors r = RawTensors::load(p);
  const FloatWeights back = r.float_weights();
  CHECK(back.config.n_layers == w.config.n_layers);
  CHECK(back.config.mask_token_id == w.config.mask_token_id);
  CHECK(back.token_embd == w.token_embd);
  CHECK(back.layers[3].w_down == w.layers[3].w_down);
  CHECK(back.output == w.output);
  CHECK(r.meta_ints("prompt.0") == std::vector<int>{1, 2, 3});
  CHECK(r.meta_float("rms_eps") == doctest::Approx(1e-5));
  std::remove((p + ".txt").c_str());
  std::remove((p + ".bin").c_str());
}

TEST_CASE("raw tensors: malformed exports are rejected with the reason") {
  const FloatWeights w = test::random_weights(5);
  const std::string p = "raw_tensors_test_bad";
  write_raw(p, w, "", 1);
  CHECK_THROWS_WITH(RawTensors::load(p), doctest::Contains("ends inside tensor 'output.weight'"));
  write_raw(p, w, "", 0, 3);
  CHECK_THROWS_WITH(RawTensors::load(p), doctest::Contains("is longer than the tensors listed"));
  write_raw(p, w, "bogus line\n");
  CHECK_THROWS_WITH(RawTensors::load(p), doctest::Contains("expected 'meta' or 'tensor', got 'bogus'"));
  write_raw(p, w, "meta n_layers x\n");
  CHECK_THROWS_WITH(RawTensors::load(p).float_weights(), doctest::Contains("'n_layers' holds 'x', not an integer"));
  write_raw(p, w, "meta rope_theta 1e300\n");  // beyond float: converting it would be undefined behaviour
  CHECK_THROWS_WITH(RawTensors::load(p).float_weights(), doctest::Contains("'rope_theta' = 1e+300 is outside float's range"));
  write_raw(p, w, "meta n_layers 4294967300\n");  // would truncate to 4
  CHECK_THROWS_WITH(RawTensors::load(p).float_weights(), doctest::Contains("'n_layers' holds '4294967300', outside the range of int"));
  // A listed size is checked against the .bin before anything is allocated for it.
  write_raw(p, w, "tensor huge 16777216 16777216\n");
  CHECK_THROWS_WITH_AS(RawTensors::load(p), doctest::Contains("ends inside tensor 'huge' (1125899906842624 bytes needed"), Error);
  write_raw(p, w, "meta dim 32\n");
  CHECK_THROWS_WITH(RawTensors::load(p).float_weights(), doctest::Contains("tensor 'token_embd.weight' is 64 x 64, expected 64 x 32"));
  // A key given twice is ambiguous; a tensor the model does not use (a misnamed LM head, or the layers past
  // n_layers) is not dropped silently.
  write_raw(p, w, "meta foo 1\nmeta foo 2\n");
  CHECK_THROWS_WITH(RawTensors::load(p), doctest::Contains("meta key 'foo' is listed twice"));
  const std::string layers = std::to_string(w.config.n_layers), last = std::to_string(w.config.n_layers - 1);
  write_raw(p, w, "tensor lm_head.weight 1 2\n", 0, 2);
  const std::string misnamed = "tensor 'lm_head.weight' is not a tensor of a " + layers + "-layer model";
  CHECK_THROWS_WITH(RawTensors::load(p).float_weights(), doctest::Contains(misnamed.c_str()));
  write_raw(p, w, "meta n_layers " + last + "\n");
  const std::string dropped = "tensor 'blk." + last + ".attn_norm.weight' is not a tensor of a " + last + "-layer";
  CHECK_THROWS_WITH(RawTensors::load(p).float_weights(), doctest::Contains(dropped.c_str()));
  CHECK_THROWS_WITH(RawTensors::load("raw_tensors_test_missing"), doctest::Contains("cannot open raw_tensors_test_missing.txt"));
  std::remove((p + ".txt").c_str());
  std::remove((p + ".bin").c_str());
}
