// skippy demo: autoregressive and self-speculative decoding side by side on the bundled S3D-trained
// byte model (examples/models/skippy-byte.gguf; see its model card), streaming the generated text.
// On a GPU (when the build has CUDA and a device exists) the decoders are cuda::Decoder, else host::Decoder.
//
// The policies are template parameters: the options below pick one of the instantiations listed in
// demo_host.hpp (the host) and demo_cuda.cu (CUDA), so every decoder the demo runs is a fully specialised type.

#include "args.hpp"
#include "demo_host.hpp"

#if SKIPPY_DEMO_CUDA
#include "demo_cuda.hpp"
#endif

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace skippy;
using examples::DemoOptions;
using examples::TypeList;

namespace {

// Each storage type here has its translation unit of host decoders in examples/demo_host/.
using Quants = TypeList<quant::F16, quant::Q8_0, quant::Q4_0>;

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: skippy_demo [options]\n"
               "Generates from a prompt with autoregressive decoding, then with S3D, and compares them.\n\n"
               "  --model PATH        GGUF model (default: the bundled examples/models/skippy-byte.gguf)\n"
               "  --prompt TEXT       prompt text (default: a sentence from the style of Python's docs)\n"
               "  --tokens N          new tokens (bytes) to generate (default 200)\n"
               "  --skip B:E          draft skips layers B..E-1: 2:6 3:5 1:7 (default: the model's trained range)\n"
               "  --k K               draft length K: 2 4 6 (default 4)\n"
               "  --draft MODE        simultaneous (mask tokens, one pass; needs S3D training) or sequential\n"
               "                      (K single-token passes; works on any model) (default simultaneous)\n"
               "  --accept RULE       greedy (exactly the AR tokens), sampling (speculative sampling: the exact\n"
               "                      AR distribution) or typical (fast, not lossless) (default greedy)\n"
               "  --temperature T     sampling/typical temperature (default 0.7)\n"
               "  --top-k N           sampling top-k, 0 = off (default 40)\n"
               "  --top-p P           sampling top-p, 1 = off (default 0.95)\n"
               "  --seed S            seed of the sampling streams (default 1)\n"
               "  --quant Q           weight storage: f16 (the file, in place), q8_0 or q4_0 (converted) (default f16)\n"
               "  --no-stream         print the text after generation instead of while it is produced\n"
               "  --backend B         auto (CUDA when the build has it and a GPU exists, else host), cuda or cpu\n"
               "                      (default auto)\n"
               "  --tensor-cores      CUDA, F16: weight products on tensor cores (tensor-core decoding; off by default)\n"
               "  --fused-norms       CUDA: RMSNorms inside the weight launches (5 launches a layer; off by default)\n");
}

bool parse(int argc, char** argv, DemoOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--model" && v) o.model = argv[++i];
    else if (a == "--prompt" && v) o.prompt = argv[++i];
    else if (a == "--tokens" && v) o.tokens = static_cast<int>(examples::int_arg("--tokens", argv[++i], 1, 1 << 20));
    else if (a == "--skip" && v) {
      const std::string range = argv[++i];  // B:E, both whole numbers (sscanf took -1:5 as "not given")
      const auto colon = range.find(':');
      require(colon != std::string::npos, "--skip needs B:E (skip layers B..E-1), got '", range, "'");
      o.skip_begin = static_cast<int>(examples::int_arg("--skip's B", range.substr(0, colon).c_str(), 0, 1 << 20));
      o.skip_end = static_cast<int>(examples::int_arg("--skip's E", range.substr(colon + 1).c_str(), 1, 1 << 20));
      require(o.skip_begin < o.skip_end, "--skip needs B < E, got '", range, "'");
    } else if (a == "--k" && v) o.k = static_cast<int>(examples::int_arg("--k", argv[++i], 1, 64));
    else if (a == "--draft" && v) o.draft = argv[++i];
    else if (a == "--accept" && v) o.accept = argv[++i];
    else if (a == "--temperature" && v) o.temperature = static_cast<float>(examples::real_arg("--temperature", argv[++i], 0, 1e4));
    else if (a == "--top-k" && v) o.top_k = static_cast<int>(examples::int_arg("--top-k", argv[++i], 0, 1 << 30));
    else if (a == "--top-p" && v) {
      o.top_p = static_cast<float>(examples::real_arg("--top-p", argv[++i], 0, 1));
      require(o.top_p > 0, "--top-p needs a number in (0, 1], got 0");
    }
    else if (a == "--seed" && v) o.seed = static_cast<std::uint64_t>(examples::int_arg("--seed", argv[++i], 0, LLONG_MAX));
    else if (a == "--quant" && v) o.quant = argv[++i];
    else if (a == "--backend" && v) o.backend = argv[++i];
    else if (a == "--no-stream") o.stream = false;
    else if (a == "--tensor-cores") o.tensor_cores = true;
    else if (a == "--fused-norms") o.fused_norms = true;
    else {
      std::fprintf(stderr, "skippy_demo: unknown or incomplete option '%s'\n\n", a.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  DemoOptions o;
  try {
    if (!parse(argc, argv, o)) {
      usage(stderr);
      return 2;
    }
    require(o.tokens >= 1, "--tokens must be >= 1, got ", o.tokens);
    require(o.accept != "typical" || o.temperature > 0, "--temperature must be > 0 with --accept typical (greedy "
            "is --accept greedy)");
    require(o.quant == "f16" || o.quant == "q8_0" || o.quant == "q4_0", "--quant must be f16, q8_0 or q4_0, got '",
            o.quant, "'");
    require(o.backend == "auto" || o.backend == "cuda" || o.backend == "cpu",
            "--backend must be auto, cuda or cpu, got '", o.backend, "'");
    if (o.backend != "cpu") {
#if SKIPPY_DEMO_CUDA
      const examples::CudaDemo r = examples::demo_cuda(o);
      if (r.ran) return r.rc;
      require(o.backend == "auto", "--backend cuda: ", r.why);
      std::printf("(%s: running on the host)\n", r.why.c_str());
#else
      require(o.backend == "auto", "--backend cuda: this build has no CUDA (configure with nvcc available)");
#endif
    }
    int rc = -1;
    examples::dispatch(
        Quants{}, [&](auto q) { return o.quant == examples::option_name<typename decltype(q)::type>(); },
        [&](auto q) { rc = examples::demo_host<typename decltype(q)::type>(o); });
    return rc;
  } catch (const std::exception& e) {  // skippy::Error, and std::bad_alloc for a cache too large for memory
    std::fprintf(stderr, "skippy_demo: %s\n", e.what());
    return 1;
  }
}
