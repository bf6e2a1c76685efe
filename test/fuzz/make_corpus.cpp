// Writes the seed corpus for the GGUF fuzzer with the writer: small llama models in every supported
// storage type (tied and untied, with S3D metadata), a file with every metadata value type, and files
// with other alignments and tensor types. Usage: make_corpus DIR
#include <cstdio>
#include <skippy/gguf/gguf.hpp>

using namespace skippy;

namespace {

ModelConfig small_config() {
  ModelConfig c;
  c.n_layers = 2;
  c.dim = 32;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.ffn_dim = 32;
  c.vocab = 6;
  c.mask_token_id = 5;
  return c;
}

template <class Q>
void models(const std::string& dir) {
  const auto hm = HostModel<Q>::from_float(FloatWeights::random(small_config(), 1));
  gguf::WriteOptions o;
  o.s3d = gguf::S3dMetadata{5, 0, 1, 2};
  gguf::write_model(dir + "/model_" + Q::name + ".gguf", hm, o);
  auto tied = hm.view();
  tied.output = tied.token_embd;
  o.s3d.reset();
  o.alignment = 8;
  gguf::write_model(dir + "/model_" + Q::name + "_tied.gguf", tied, o);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    models<quant::F32>(dir);
    models<quant::F16>(dir);
    models<quant::BF16>(dir);
    models<quant::Q8_0>(dir);
    models<quant::Q4_0>(dir);

    gguf::Writer w(16);
    w.set("u8", std::uint8_t{1});
    w.set("i8", std::int8_t{-1});
    w.set("u16", std::uint16_t{2});
    w.set("i16", std::int16_t{-2});
    w.set("u32", std::uint32_t{3});
    w.set("i32", std::int32_t{-3});
    w.set("f32", 0.5f);
    w.set("bool", true);
    w.set("str", "text");
    w.set("u64", std::uint64_t{4});
    w.set("i64", std::int64_t{-4});
    w.set("f64", 0.25);
    w.set_array("a_u32", std::vector<std::uint32_t>{1, 2});
    w.set_array("a_str", std::vector<std::string>{"a", "bc"});
    w.set_array("a_f64", std::vector<double>{1.0});
    static const float f[4] = {1, 2, 3, 4};
    static std::uint8_t q[144] = {};
    w.add_tensor("f", quant::GgmlType::F32, {4}, f);
    w.add_tensor("k", 12u, {256}, q);  // Q4_K: known but unsupported
    w.write_file(dir + "/metadata.gguf");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
