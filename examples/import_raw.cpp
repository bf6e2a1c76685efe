// skippy_import_raw: turns the training recipe's raw tensors (examples/train/s3d_train.py export) into a
// GGUF file in llama.cpp's conventions with the skippy.* S3D keys, through the project's one GGUF writer.

#include <skippy/skippy.hpp>
#include <skippy/model/raw_tensors.hpp>

#include "args.hpp"

#include <cstdio>
#include <string>

using namespace skippy;

namespace {

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: skippy_import_raw RAW_PREFIX OUTPUT.gguf [--type f16|f32|bf16|q8_0|q4_0] [--name NAME]\n"
               "  RAW_PREFIX  the recipe's export without extension (reads RAW_PREFIX.txt and RAW_PREFIX.bin)\n"
               "  --type T    storage type of the weight matrices (default f16, the shipped model's type)\n"
               "  --name N    general.name (default skippy-byte)\n");
}

template <class Q>
void import(const RawTensors& raw, const std::string& out, const std::string& name) {
  const FloatWeights w = raw.float_weights();
  gguf::WriteOptions o;
  o.name = name;
  o.s3d = gguf::S3dMetadata{w.config.mask_token_id, raw.meta_int("skip_begin"),
                            raw.meta_int("skip_end"), raw.meta_int("predictors")};
  const auto model = HostModel<Q>::from_float(w);
  gguf::write_model(out, model, o);
  const ModelConfig& c = w.config;
  std::printf("wrote %s: %d layers, dim %d, %d/%d heads, ffn %d, vocab %d, %s; S3D skip [%d, %d), K = %d\n",
              out.c_str(), c.n_layers, c.dim, c.n_heads, c.n_kv_heads, c.ffn_dim, c.vocab, Q::name,
              o.s3d->skip_begin, o.s3d->skip_end, o.s3d->predictors);
}

}  // namespace

static int run_main(int argc, char** argv) {
  std::string in, out, type = "f16", name = "skippy-byte";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--type" && i + 1 < argc) {
      type = argv[++i];
    } else if (a == "--name" && i + 1 < argc) {
      name = argv[++i];
    } else if (!a.empty() && a[0] != '-' && in.empty()) {
      in = a;
    } else if (!a.empty() && a[0] != '-' && out.empty()) {
      out = a;
    } else {
      std::fprintf(stderr, "skippy_import_raw: unknown or incomplete argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (in.empty() || out.empty()) {
    std::fprintf(stderr, "skippy_import_raw: %s\n", in.empty() ? "RAW_PREFIX and OUTPUT.gguf are both needed"
                                                               : "OUTPUT.gguf is needed");
    usage(stderr);
    return 2;
  }
  if (type != "f16" && type != "f32" && type != "bf16" && type != "q8_0" && type != "q4_0") {
    std::fprintf(stderr, "skippy_import_raw: unknown --type '%s'\n", type.c_str());
    usage(stderr);
    return 2;
  }
  try {
    const RawTensors raw = RawTensors::load(in);
    if (type == "f16") import<quant::F16>(raw, out, name);
    else if (type == "f32") import<quant::F32>(raw, out, name);
    else if (type == "bf16") import<quant::BF16>(raw, out, name);
    else if (type == "q8_0") import<quant::Q8_0>(raw, out, name);
    else import<quant::Q4_0>(raw, out, name);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "skippy_import_raw: %s\n", e.what());
    return 1;
  }
}

int main(int argc, char** argv) {
  return skippy::examples::guarded_main("skippy_import_raw", [&] { return run_main(argc, argv); });
}
