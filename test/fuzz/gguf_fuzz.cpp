// libFuzzer target for the GGUF reader: parse arbitrary bytes, map the configuration, the S3D metadata,
// the vocabulary (and encode bytes with it) and every storage type's zero-copy view, convert to floats,
// run a forward pass when a model loads, quantise it into a HostModel, and re-quantise the file with the
// writer and parse the result. Rejections are skippy::Error; anything else (a crash, a sanitizer report, another
// exception) is a finding. Build and run: test/fuzz/run.sh.

#include <cstddef>
#include <cstdint>
#include <skippy/gguf/gguf.hpp>
#include <skippy/skippy.hpp>

namespace {

template <class Q>
void try_view(const skippy::gguf::File& f) {
  try {
    const auto v = skippy::gguf::view<Q>(f);
    // Keep the forward pass small: fuzz inputs are small, but bound the work anyway.
    const auto& c = v.config;
    if (static_cast<long long>(c.dim) * c.ffn_dim * c.n_layers > (1 << 22) ||
        static_cast<long long>(c.vocab) * c.dim > (1 << 22))
      return;
    skippy::host::Forward<Q> fwd(v);
    auto cache = fwd.make_cache(4);
    const int tokens[2] = {0, c.vocab - 1};
    std::vector<float> logits(2 * static_cast<std::size_t>(c.vocab));
    fwd.run(tokens, 2, 0, cache, skippy::LayerRange{}, logits.data());
  } catch (const skippy::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace skippy;
  try {
    const gguf::File f = gguf::File::from_memory(data, size);
    std::size_t sink = 0;
    for (const auto& kv : f.metadata()) {
      sink += kv.second.type_string().size();
      if (kv.second.is_array() && kv.second.array_type() == gguf::ValueType::STRING)
        sink += kv.second.strings().size();
      else if (!kv.second.is_array() && kv.second.type() != gguf::ValueType::STRING)
        sink += kv.second.as_integer().value_or(0) != 0;
    }
    for (const auto& t : f.tensors()) sink += t.n_bytes > 0 ? t.data[t.n_bytes - 1] : 0;  // in bounds by contract
    try {
      (void)gguf::load_config(f);
    } catch (const Error&) {
    }
    try {
      (void)gguf::load_s3d(f);
    } catch (const Error&) {
    }
    try {
      const auto v = gguf::Vocabulary::load(f);
      for (int i = 0; i < v.size() && i < 300; ++i) sink += v.text(i).size();
      sink += v.encode_bytes(std::string(reinterpret_cast<const char*>(data), size < 64 ? size : 64)).size();
    } catch (const Error&) {
    }
    try_view<quant::F32>(f);
    try_view<quant::F16>(f);
    try_view<quant::BF16>(f);
    try_view<quant::Q8_0>(f);
    try_view<quant::Q4_0>(f);
    try {
      (void)gguf::load_float_weights(f);
    } catch (const Error&) {
    }
    // The conversions that write: bounded, as the forward pass is (fuzz inputs are small anyway).
    std::uint64_t elements = 0;
    for (const auto& t : f.tensors()) elements += t.n_elements;
    if (elements <= (1u << 22)) {
      try {
        sink += gguf::load_host_model<quant::Q8_0>(f).config().vocab;
      } catch (const Error&) {
      }
      try {
        const auto again = gguf::File::from_memory(gguf::requantize<quant::Q8_0>(f).bytes());
        sink += again.tensors().size();
      } catch (const Error&) {
      }
    }
    (void)sink;
  } catch (const Error&) {
  }
  return 0;
}
