#pragma once
// The raw tensor exchange of the training recipe (examples/train/s3d_train.py): `<prefix>.txt` lists
// metadata and tensors, `<prefix>.bin` holds the tensors as little-endian float32, back to back in the
// listed order. The recipe writes no GGUF itself: skippy_import_raw turns this into a GGUF file with the
// project's one writer.
//
//   skippy-raw 1
//   meta <key> <value>            value: the rest of the line
//   tensor <name> <rows> <cols>   row-major [rows][cols] (a vector is 1 x n)

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "float_weights.hpp"

namespace skippy {

struct RawTensor {
  int rows = 0, cols = 0;
  std::vector<float> data;
};

struct RawTensors {
  std::map<std::string, std::string> meta;
  std::map<std::string, RawTensor> tensors;
  std::vector<std::string> order;  // tensor names as listed

  static RawTensors load(const std::string& prefix) {
    std::ifstream txt(prefix + ".txt");
    require(txt.good(), "raw tensors: cannot open ", prefix, ".txt");
    std::ifstream bin(prefix + ".bin", std::ios::binary);
    require(bin.good(), "raw tensors: cannot open ", prefix, ".bin");
    // The size bounds every listed tensor before it is allocated, so a stream without one (a pipe) is refused.
    bin.seekg(0, std::ios::end);
    const std::streamoff size = bin.tellg();
    bin.seekg(0, std::ios::beg);
    require(size >= 0 && bin.good(), "raw tensors: ", prefix, ".bin has no size (is it a regular file?)");
    std::uint64_t bin_left = static_cast<std::uint64_t>(size);
    RawTensors r;
    std::string line;
    require(std::getline(txt, line) && line == "skippy-raw 1", "raw tensors: ", prefix,
            ".txt does not start with 'skippy-raw 1'");
    for (int n = 2; std::getline(txt, line); ++n) {
      if (line.empty()) continue;
      std::istringstream in(line);
      std::string kind, name;
      in >> kind >> name;
      if (kind == "meta") {
        std::string value;
        std::getline(in >> std::ws, value);
        require(!name.empty(), "raw tensors: ", prefix, ".txt line ", n, ": meta without a key");
        require(r.meta.count(name) == 0, "raw tensors: ", prefix, ".txt line ", n, ": meta key '", name,
                "' is listed twice");
        r.meta[name] = value;
      } else if (kind == "tensor") {
        RawTensor t;
        in >> t.rows >> t.cols;
        require(!in.fail() && t.rows > 0 && t.cols > 0 && t.rows <= (1 << 24) && t.cols <= (1 << 24),
                "raw tensors: ", prefix, ".txt line ", n, ": tensor '", name, "' needs positive rows and cols");
        require(r.tensors.count(name) == 0, "raw tensors: tensor '", name, "' is listed twice");
        // Checked before allocating: a listed size is not trusted beyond the bytes that back it.
        const std::uint64_t need = static_cast<std::uint64_t>(t.rows) * static_cast<std::uint64_t>(t.cols) * sizeof(float);
        require(need <= bin_left, "raw tensors: ", prefix, ".bin ends inside tensor '", name, "' (", need,
                " bytes needed, ", bin_left, " remain)");
        bin_left -= need;
        t.data.resize(static_cast<std::size_t>(t.rows) * static_cast<std::size_t>(t.cols));
        bin.read(reinterpret_cast<char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * sizeof(float)));
        require(bin.gcount() == static_cast<std::streamsize>(t.data.size() * sizeof(float)), "raw tensors: ", prefix,
                ".bin ends inside tensor '", name, "'");
        r.order.push_back(name);
        r.tensors.emplace(name, std::move(t));
      } else {
        require(false, "raw tensors: ", prefix, ".txt line ", n, ": expected 'meta' or 'tensor', got '", kind, "'");
      }
    }
    bin.peek();
    require(bin.eof(), "raw tensors: ", prefix, ".bin is longer than the tensors listed in ", prefix, ".txt");
    return r;
  }

  bool has_meta(const std::string& key) const { return meta.count(key) != 0; }
  const std::string& meta_string(const std::string& key) const {
    const auto it = meta.find(key);
    require(it != meta.end(), "raw tensors: metadata key '", key, "' is missing");
    return it->second;
  }
  int meta_int(const std::string& key) const { return to_int(key, meta_string(key)); }
  double meta_float(const std::string& key) const {
    const std::string& s = meta_string(key);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    require(!s.empty() && *end == '\0', "raw tensors: metadata key '", key, "' = '", s, "' is not a number");
    return v;
  }
  std::vector<int> meta_ints(const std::string& key) const {  // comma-separated
    std::vector<int> v;
    std::istringstream in(meta_string(key));
    std::string item;
    while (std::getline(in, item, ',')) {
      v.push_back(to_int(key, item));
    }
    return v;
  }
  // A whole decimal int: no trailing characters, nothing out of range.
  static int to_int(const std::string& key, const std::string& s) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s.c_str(), &end, 10);
    require(!s.empty() && *end == '\0', "raw tensors: metadata key '", key, "' holds '", s, "', not an integer");
    require(errno != ERANGE && v >= INT_MIN && v <= INT_MAX, "raw tensors: metadata key '", key, "' holds '", s,
            "', outside the range of int");
    return static_cast<int>(v);
  }

  const RawTensor& tensor(const std::string& name, int rows, int cols) const {
    const auto it = tensors.find(name);
    require(it != tensors.end(), "raw tensors: tensor '", name, "' is missing");
    require(it->second.rows == rows && it->second.cols == cols, "raw tensors: tensor '", name, "' is ",
            it->second.rows, " x ", it->second.cols, ", expected ", rows, " x ", cols);
    return it->second;
  }

  // The model config from the meta keys n_layers, dim, n_heads, n_kv_heads, ffn_dim, vocab, rope_theta,
  // rms_eps, mask_token_id, and its weights under llama.cpp's tensor names. A listed tensor the model does
  // not use is an error (a misnamed LM head would otherwise be tied silently, extra layers dropped).
  FloatWeights float_weights() const {
    ModelConfig c;
    c.n_layers = meta_int("n_layers");
    c.dim = meta_int("dim");
    c.n_heads = meta_int("n_heads");
    c.n_kv_heads = meta_int("n_kv_heads");
    c.ffn_dim = meta_int("ffn_dim");
    c.vocab = meta_int("vocab");
    c.rope_theta = to_float(meta_float("rope_theta"), "raw tensors: metadata key 'rope_theta'");
    c.rms_eps = to_float(meta_float("rms_eps"), "raw tensors: metadata key 'rms_eps'");
    c.mask_token_id = has_meta("mask_token_id") ? meta_int("mask_token_id") : -1;
    c.validate();
    FloatWeights w;
    w.config = c;
    const int d = c.dim, kv = c.kv_dim(), f = c.ffn_dim;
    std::map<std::string, bool> used;
    auto get = [&](const std::string& name, int rows, int cols) {
      used[name] = true;
      return tensor(name, rows, cols).data;
    };
    w.token_embd = get("token_embd.weight", c.vocab, d);
    for (int l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      FloatLayer L;
      L.attn_norm = get(p + "attn_norm.weight", 1, d);
      L.wq = get(p + "attn_q.weight", d, d);
      L.wk = get(p + "attn_k.weight", kv, d);
      L.wv = get(p + "attn_v.weight", kv, d);
      L.wo = get(p + "attn_output.weight", d, d);
      L.ffn_norm = get(p + "ffn_norm.weight", 1, d);
      L.w_gate = get(p + "ffn_gate.weight", f, d);
      L.w_up = get(p + "ffn_up.weight", f, d);
      L.w_down = get(p + "ffn_down.weight", d, f);
      w.layers.push_back(std::move(L));
    }
    w.output_norm = get("output_norm.weight", 1, d);
    w.output = tensors.count("output.weight") ? get("output.weight", c.vocab, d) : w.token_embd;
    for (const std::string& name : order)
      require(used.count(name) != 0, "raw tensors: tensor '", name, "' is not a tensor of a ", c.n_layers,
              "-layer model (llama.cpp's names: token_embd, blk.<l>.attn_q, ..., output_norm, output)");
    return w;
  }
};

}  // namespace skippy
