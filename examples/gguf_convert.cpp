// skippy gguf_convert: re-quantises a llama GGUF model to Q8_0 or Q4_0 (matrices converted, norms and all
// metadata kept), streaming one tensor at a time with a progress display, then checks that the output
// loads as a zero-copy skippy model.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <skippy/gguf/gguf.hpp>
#include <string>

#include "args.hpp"

using namespace skippy;

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: skippy_gguf_convert INPUT.gguf OUTPUT.gguf --type q8_0|q4_0 [--quiet]\n"
               "  Re-quantises every matrix of a llama-architecture GGUF file (F32, F16, BF16, Q8_0 or Q4_0)\n"
               "  to Q8_0 or Q4_0, bit-compatible with llama.cpp. One-dimensional tensors (norms) and all\n"
               "  metadata are copied; general.file_type is updated.\n"
               "  --type T   target type: q8_0 or q4_0\n"
               "  --quiet    no progress display\n"
               "  --help     this text\n");
}

std::string mib(std::uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
  return s;
}

// Whether two paths name the same existing file.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

template <class Q>
int convert(const std::string& in, const std::string& out, bool quiet) {
  const auto t0 = std::chrono::steady_clock::now();
  // The writer truncates OUTPUT.partial and renames it over OUTPUT (so OUTPUT may be INPUT): as the input it
  // would be emptied under its own mapping.
  require(!same_file(in, out + ".partial"), "INPUT ", in, " is OUTPUT.partial, the file the conversion writes first: "
          "choose another OUTPUT");
  const gguf::File src = gguf::File::open(in);
  const ModelConfig c = gguf::load_config(src);  // reject non-llama files before writing anything
  std::printf("%s: %d layers, dim %d, %d heads (%d KV), ffn %d, vocab %d, %zu tensors, %s\n", in.c_str(), c.n_layers,
              c.dim, c.n_heads, c.n_kv_heads, c.ffn_dim, c.vocab, src.tensors().size(), mib(src.size()).c_str());
  const gguf::Writer w = gguf::requantize<Q>(src);
  const bool tty = isatty(fileno(stderr)) != 0;
  std::size_t done_tensors = 0;
  w.write_file(out, [&](std::uint64_t done, std::uint64_t total, const std::string& name) {
    ++done_tensors;
    if (quiet) return;
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    static int last_decile = -1;  // without a terminal, print a line per 10% only
    if (!tty && static_cast<int>(frac * 10) == last_decile) return;
    last_decile = static_cast<int>(frac * 10);
    const int width = 30, filled = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] %5.1f%%  %4zu/%zu  %-28s%s", tty ? "\r" : "", bar.c_str(), 100.0 * frac, done_tensors,
                 src.tensors().size(), name.c_str(), tty ? "" : "\n");
    std::fflush(stderr);
  });
  if (!quiet && tty) std::fprintf(stderr, "\n");
  const gguf::File check = gguf::File::open(out);
  (void)gguf::view<Q>(check);  // every matrix is Q, norms F32: loads zero-copy
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %s, %s (%.2fx smaller) in %.2f s; loads as ModelView<%s>\n", out.c_str(), Q::name,
              mib(check.size()).c_str(), static_cast<double>(src.size()) / static_cast<double>(check.size()), s,
              Q::name);
  return 0;
}

}  // namespace

static int run_main(int argc, char** argv) {
  std::string in, out, type;
  bool quiet = false;
  // A usage error: what is wrong, then the usage, on stderr; exit status 2.
  const auto bad = [](const std::string& what) {
    std::fprintf(stderr, "skippy_gguf_convert: %s\n", what.c_str());
    usage(stderr);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--type") {
      if (i + 1 >= argc) return bad("--type needs a value (q8_0 or q4_0)");
      type = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      return bad("unknown option " + a);
    } else if (in.empty()) {
      in = a;
    } else if (out.empty()) {
      out = a;
    } else {
      return bad("unexpected argument '" + a + "' (INPUT and OUTPUT are given)");
    }
  }
  if (in.empty() || out.empty()) return bad("INPUT.gguf and OUTPUT.gguf are both needed");
  if (type.empty()) return bad("--type is needed (q8_0 or q4_0)");
  if (type != "q8_0" && type != "q4_0" && type != "Q8_0" && type != "Q4_0")
    return bad("--type needs q8_0 or q4_0, got '" + type + "'");
  try {
    return (type == "q8_0" || type == "Q8_0") ? convert<quant::Q8_0>(in, out, quiet) : convert<quant::Q4_0>(in, out, quiet);
  } catch (const Error& e) {
    std::fprintf(stderr, "skippy_gguf_convert: %s\n", e.what());
    return 1;
  }
}

int main(int argc, char** argv) {
  return skippy::examples::guarded_main("skippy_gguf_convert", [&] { return run_main(argc, argv); });
}
