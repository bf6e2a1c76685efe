// Write -> read round trips: identical weights (byte for byte) and metadata for every supported type,
// tied embeddings, S3D metadata and the vocabulary.

#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <skippy/gguf/gguf.hpp>

#include "../support/models.hpp"

using namespace skippy;

namespace {

template <class Q>
bool same(const MatrixView<Q>& a, const MatrixView<Q>& b) {
  return a.rows == b.rows && a.cols == b.cols && std::memcmp(a.data, b.data, a.bytes()) == 0;
}
bool same(const float* a, const float* b, int n) { return std::memcmp(a, b, sizeof(float) * static_cast<std::size_t>(n)) == 0; }

template <class Q>
void check_same_weights(const ModelView<Q>& a, const ModelView<Q>& b) {
  const int d = a.config.dim;
  CHECK(same(a.token_embd, b.token_embd));
  CHECK(same(a.output, b.output));
  CHECK(same(a.output_norm, b.output_norm, d));
  REQUIRE(a.layers.size() == b.layers.size());
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    const auto &x = a.layers[l], &y = b.layers[l];
    CHECK(same(x.attn_norm, y.attn_norm, d));
    CHECK(same(x.ffn_norm, y.ffn_norm, d));
    CHECK(same(x.wq, y.wq));
    CHECK(same(x.wk, y.wk));
    CHECK(same(x.wv, y.wv));
    CHECK(same(x.wo, y.wo));
    CHECK(same(x.w_gate, y.w_gate));
    CHECK(same(x.w_up, y.w_up));
    CHECK(same(x.w_down, y.w_down));
  }
}

bool same_config(const ModelConfig& a, const ModelConfig& b) {
  return a.n_layers == b.n_layers && a.dim == b.dim && a.n_heads == b.n_heads && a.n_kv_heads == b.n_kv_heads &&
         a.ffn_dim == b.ffn_dim && a.vocab == b.vocab && a.rope_theta == b.rope_theta && a.rms_eps == b.rms_eps &&
         a.mask_token_id == b.mask_token_id;
}

template <class Q>
void roundtrip() {
  INFO(std::string(Q::name));
  ModelConfig c = test::tiny_config();
  c.rope_theta = 500000.0f;
  c.rms_eps = 1e-6f;
  const auto hm = HostModel<Q>::from_float(FloatWeights::random(c, 3));
  gguf::WriteOptions o;
  o.name = "tiny";
  o.s3d = gguf::S3dMetadata{63, 1, 3, 4};
  const gguf::File f = gguf::File::from_memory(gguf::model_bytes(hm.view(), o));
  CHECK(f.get<std::string>("general.architecture") == "llama");
  CHECK(f.get<std::string>("general.name") == "tiny");
  CHECK(f.find_tensor("output.weight") != nullptr);
  CHECK(f.tensor("blk.0.attn_q.weight").dims == std::vector<std::uint64_t>{64, 64});
  CHECK(f.tensor("blk.0.attn_k.weight").dims == std::vector<std::uint64_t>{64, 32});  // (in, out)
  CHECK(f.tensor("blk.0.ffn_down.weight").dims == std::vector<std::uint64_t>{128, 64});
  CHECK(f.tensor("blk.0.attn_norm.weight").type == 0);
  CHECK(f.tensor("blk.0.attn_q.weight").type == static_cast<std::uint32_t>(Q::ggml_type));
  CHECK(same_config(gguf::load_config(f), c));
  CHECK(gguf::load_s3d(f) == o.s3d);
  const auto v = gguf::view<Q>(f);
  check_same_weights(hm.view(), v);
  // Zero copy: the view points into the file's bytes.
  CHECK(reinterpret_cast<const std::uint8_t*>(v.token_embd.data) == f.tensor("token_embd.weight").data);
}

}  // namespace

TEST_CASE("gguf round trip: identical weights and metadata for every supported type") {
  roundtrip<quant::F32>();
  roundtrip<quant::F16>();
  roundtrip<quant::BF16>();
  roundtrip<quant::Q8_0>();
  roundtrip<quant::Q4_0>();
}

TEST_CASE("gguf round trip: tied embeddings write no output.weight and read back tied") {
  const auto hm = HostModel<quant::Q8_0>::from_float(test::random_weights(4));
  auto mv = hm.view();
  mv.output = mv.token_embd;
  const auto f = gguf::File::from_memory(gguf::model_bytes(mv));
  CHECK(f.find_tensor("output.weight") == nullptr);
  const auto v = gguf::view<quant::Q8_0>(f);
  CHECK(v.output.data == v.token_embd.data);
  check_same_weights(mv, v);
  // The float loader duplicates the tied matrix.
  const auto w = gguf::load_float_weights(f);
  CHECK(w.output == w.token_embd);
}

TEST_CASE("gguf round trip: through a file on disk, with a byte vocabulary") {
  ModelConfig c = test::tiny_config();
  c.vocab = 288;
  c.mask_token_id = 259;
  const auto hm = HostModel<quant::F16>::from_float(FloatWeights::random(c, 5));
  const std::string path = "/tmp/skippy_gguf_roundtrip_" + std::to_string(::getpid()) + ".gguf";
  std::uint64_t last = 0, total = 0;
  gguf::write_model(path, hm, {}, [&](std::uint64_t done, std::uint64_t all, const std::string&) {
    CHECK(done >= last);
    last = done;
    total = all;
  });
  CHECK(last == total);
  {
    const auto f = gguf::File::open(path);
    check_same_weights(hm.view(), gguf::view<quant::F16>(f));
    CHECK_FALSE(gguf::load_s3d(f).has_value());
    const auto voc = gguf::Vocabulary::load(f);
    CHECK(voc.size() == 288);
    CHECK(voc.model == "llama");
    CHECK(voc.bos == 1);
    CHECK(voc.eos == 2);
    CHECK(voc.unk == 0);
    CHECK(voc.tokens[3] == "<0x00>");
    CHECK(voc.tokens[3 + 0xAB] == "<0xAB>");
    CHECK(voc.types[3] == gguf::token_byte);
    CHECK(voc.tokens[259] == "<mask>");
    CHECK(voc.types[259] == gguf::token_user_defined);
    CHECK(voc.text({1, 3 + 'h', 3 + 'i', 3 + 0xC3, 3 + 0xA9, 259, 2}) == "hi\xc3\xa9<mask>");
    CHECK(f.get<std::uint32_t>("skippy.mask_token_id") == 259);
  }
  std::remove(path.c_str());
}

TEST_CASE("gguf writer: re-quantising a memory-mapped file onto itself keeps the input intact until the rename") {
  const auto hm = HostModel<quant::F32>::from_float(test::random_weights(7));
  const std::string path = "/tmp/skippy_gguf_inplace_" + std::to_string(::getpid()) + ".gguf";
  gguf::write_model(path, hm);
  {
    const auto src = gguf::File::open(path);
    const std::vector<std::uint8_t> before(src.bytes(), src.bytes() + src.size());
    gguf::requantize<quant::Q8_0>(src).write_file(path);  // the fills read the mapping of `path`
    CHECK(std::equal(before.begin(), before.end(), src.bytes()));
    const auto out = gguf::File::open(path);
    check_same_weights(HostModel<quant::Q8_0>::from_float(test::random_weights(7)).view(), gguf::view<quant::Q8_0>(out));
  }
  CHECK(std::fopen((path + ".partial").c_str(), "rb") == nullptr);
  // A failed write leaves neither the target nor the partial file.
  gguf::Writer w;
  w.add_tensor_fill("t", static_cast<std::uint32_t>(quant::GgmlType::F32), {8}, [](std::uint8_t*) { skippy::detail::fail("fill failed"); });
  const std::string bad = path + ".bad";
  CHECK_THROWS_WITH_AS(w.write_file(bad), doctest::Contains("fill failed"), Error);
  CHECK(std::fopen(bad.c_str(), "rb") == nullptr);
  CHECK(std::fopen((bad + ".partial").c_str(), "rb") == nullptr);
  std::remove(path.c_str());
}

TEST_CASE("gguf round trip: the vocabulary maps SentencePiece spaces") {
  gguf::Vocabulary v;
  v.tokens = {"\xe2\x96\x81the", "cat", "<0x0A>"};
  gguf::Writer w;
  v.write(w);
  const auto f = gguf::File::from_memory(w.bytes());
  const auto r = gguf::Vocabulary::load(f);
  CHECK(r.tokens == v.tokens);
  CHECK(r.text({0, 1, 2}) == " thecat\n");
  CHECK_THROWS_AS(r.text(3), Error);
}

TEST_CASE("gguf round trip: re-quantising keeps metadata and norms, converts matrices") {
  const auto hm = HostModel<quant::F32>::from_float(test::random_weights(6));
  const auto src = gguf::File::from_memory(gguf::model_bytes(hm.view()));
  const auto q = gguf::File::from_memory(gguf::requantize<quant::Q4_0>(src).bytes());
  CHECK(q.get<std::uint32_t>("general.file_type") == 2);
  CHECK(q.metadata().size() == src.metadata().size());
  for (const auto& kv : src.metadata())
    if (kv.first != "general.file_type") CHECK(*q.find(kv.first) == kv.second);
  const auto v = gguf::view<quant::Q4_0>(q);
  // Matrices equal a direct quantisation of the F32 weights; norms are untouched.
  const auto direct = HostModel<quant::Q4_0>::from_float(test::random_weights(6));
  check_same_weights(direct.view(), v);
}

TEST_CASE("gguf writer: keys are replaced in place; invalid tensors are refused") {
  gguf::Writer w;
  w.set("a", std::uint32_t{1});
  w.set("b", std::uint32_t{2});
  w.set("a", "now a string");
  const auto f = gguf::File::from_memory(w.bytes());
  REQUIRE(f.metadata().size() == 2);
  CHECK(f.metadata()[0].first == "a");
  CHECK(f.get<std::string>("a") == "now a string");
  const float x[32] = {};
  w.add_tensor("t", quant::GgmlType::F32, {32}, x);
  CHECK_THROWS_WITH_AS(w.add_tensor("t", quant::GgmlType::F32, {32}, x), doctest::Contains("duplicate tensor 't'"), Error);
  CHECK_THROWS_WITH_AS(w.add_tensor("q", quant::GgmlType::Q8_0, {16}, x), doctest::Contains("not a multiple of the Q8_0 block size 32"), Error);
  CHECK_THROWS_WITH_AS(w.add_tensor("u", 4u, {32}, x), doctest::Contains("unknown type 4"), Error);
  CHECK_THROWS_WITH_AS(w.set("general.alignment", std::uint32_t{64}), doctest::Contains("fixed by the Writer's constructor"), Error);
  CHECK_THROWS_WITH_AS(w.add_tensor("z", quant::GgmlType::F32, {0, 4}, x), doctest::Contains("tensor 'z' has an empty dimension"), Error);
  gguf::Writer w64(64);
  CHECK_THROWS_WITH_AS(w64.erase("general.alignment"), doctest::Contains("fixed by the Writer's constructor"), Error);
  CHECK(gguf::File::from_memory(w64.bytes()).alignment() == 64);
  CHECK_THROWS_AS(gguf::Writer(24), Error);
}
