#pragma once
// Mapping between GGUF files in llama.cpp's `llama` conventions and skippy's models:
//   load_config(file)          -> ModelConfig from the llama.* keys (and skippy.mask_token_id)
//   load_s3d(file)             -> the S3D metadata (skippy.* keys), when present
//   context_length(file)       -> the trained context length (llama.context_length), 0 when absent
//   view<Q>(file)              -> zero-copy ModelView<Q> into the mapped file (every matrix must be Q)
//   load_float_weights(file)   -> FloatWeights (copies; dequantises any supported type)
//   load_host_model<Q>(file)   -> owning HostModel<Q> (copies; converts via float, so types may differ)
//   model_writer / write_model -> a GGUF file llama.cpp loads, from a ModelView<Q> or HostModel<Q>
//
// Conventions (checked against llama.cpp, README §3): tensor names token_embd, blk.N.attn_norm,
// attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down, output_norm, output (all
// ".weight"); GGUF dims are innermost first, so a row-major [rows][cols] matrix has dims (cols, rows);
// no output.weight means tied embeddings (the LM head is token_embd.weight).
// Q/K layout: llama.cpp's Hugging Face converter permutes the rows of attn_q and attn_k so that RoPE on
// *adjacent* pairs (x[2i], x[2i+1]) - what llama.cpp's llama architecture and skippy (math/rope.hpp) apply -
// is correct on the stored weights. So skippy reads attn_q / attn_k exactly as stored, with no permutation,
// and writes its own weights the same way.

#include <climits>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../model/host_model.hpp"
#include "../policy/predictor.hpp"
#include "../quant/dequantize.hpp"
#include "reader.hpp"
#include "vocab.hpp"
#include "writer.hpp"

namespace skippy::gguf {

// S3D metadata stored under skippy.* (all uint32): the mask token, the trained skip range [begin, end)
// and the number of predictors K.
struct S3dMetadata {
  int mask_token_id = -1;
  int skip_begin = 0;
  int skip_end = 0;
  int predictors = 0;
  bool operator==(const S3dMetadata& o) const {
    return mask_token_id == o.mask_token_id && skip_begin == o.skip_begin && skip_end == o.skip_end &&
           predictors == o.predictors;
  }
};

namespace detail {

// An integer key in [lo, INT_MAX]; `fallback` when absent (or an error when required).
inline int int_key(const File& f, const std::string& key, std::optional<int> fallback, std::int64_t lo = 1) {
  const Value* v = f.find(key);
  if (v == nullptr) {
    require(fallback.has_value(), "gguf: missing metadata key '", key, "'");
    return *fallback;
  }
  require(!v->is_array(), "gguf: metadata key '", key, "' is an ", v->type_string(),
          " (per-layer values are not supported)");
  const auto i = v->as_integer();
  if (!i.has_value() && v->type() == ValueType::UINT64)  // past INT64_MAX: an integer, out of range
    skippy::detail::fail("gguf: metadata key '", key, "' is ", v->as<std::uint64_t>(), ", expected an integer in [",
                         lo, ", ", INT_MAX, "]");
  require(i.has_value(), "gguf: metadata key '", key, "' has type ", v->type_string(), ", expected an integer");
  require(*i >= lo && *i <= INT_MAX, "gguf: metadata key '", key, "' is ", *i, ", expected an integer in [", lo, ", ",
          INT_MAX, "]");
  return static_cast<int>(*i);
}

inline float real_key(const File& f, const std::string& key, std::optional<float> fallback) {
  const Value* v = f.find(key);
  if (v == nullptr) {
    require(fallback.has_value(), "gguf: missing metadata key '", key, "'");
    return *fallback;
  }
  const auto r = v->as_real();
  require(r.has_value(), "gguf: metadata key '", key, "' has type ", v->type_string(), ", expected float32");
  return to_float(*r, "gguf: metadata key '", key, "'");
}

inline std::string layer_name(int l, const char* what) { return "blk." + std::to_string(l) + "." + what + ".weight"; }

// Whether `name` belongs to a llama model with n_layers layers (parsed, not looked up in a set built
// from the untrusted layer count).
inline bool is_model_tensor(const std::string& name, int n_layers) {
  if (name == "token_embd.weight" || name == "output_norm.weight" || name == "output.weight") return true;
  if (name.compare(0, 4, "blk.") != 0) return false;
  std::size_t i = 4;
  long long l = 0;
  while (i < name.size() && i < 14 && name[i] >= '0' && name[i] <= '9') l = l * 10 + (name[i++] - '0');
  if (i == 4 || i >= name.size() || name[i] != '.' || (name[4] == '0' && i > 5) || l >= n_layers) return false;
  static const char* parts[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
  const std::string rest = name.substr(i + 1);
  for (const char* part : parts)
    if (rest == std::string(part) + ".weight") return true;
  return false;
}

inline void check_tensor_set(const File& f, const ModelConfig& c) {
  // 9 tensors per layer plus token_embd and output_norm: checked first, so a huge llama.block_count is
  // rejected before any per-layer work.
  const std::uint64_t need = 9 * static_cast<std::uint64_t>(c.n_layers) + 2;
  require(f.tensors().size() >= need, "gguf: metadata key 'llama.block_count' is ", c.n_layers, ", which needs at least ",
          need, " tensors, the file has ", f.tensors().size());
  for (const TensorInfo& t : f.tensors()) {
    require(t.name != "rope_freqs.weight",
            "gguf: tensor 'rope_freqs.weight' (RoPE frequency scaling) is not supported");
    require(is_model_tensor(t.name, c.n_layers), "gguf: unexpected tensor '", t.name,
            "' (not part of a llama model with ", c.n_layers, " layers)");
  }
}

// attn_norm, ffn_norm and output_norm, whatever their stored dimensions.
inline bool is_norm(const std::string& name) {
  static const std::string suffix = "_norm.weight";
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The tensor `name` with shape [rows][cols] (dims (cols, rows)); rows == 0 means a vector of cols values.
inline const TensorInfo& shaped(const File& f, const std::string& name, int rows, int cols) {
  const TensorInfo& t = f.tensor(name);
  std::vector<std::uint64_t> want = {static_cast<std::uint64_t>(cols)};
  if (rows > 0) want.push_back(static_cast<std::uint64_t>(rows));
  std::vector<std::uint64_t> got = t.dims;
  while (got.size() > want.size() && got.back() == 1) got.pop_back();  // trailing 1s do not change the shape
  std::string ws = "(";
  for (std::size_t i = 0; i < want.size(); ++i) ws += (i ? ", " : "") + std::to_string(want[i]);
  ws += ")";
  require(got == want, "gguf: tensor '", name, "' has shape ", t.shape(), ", the configuration needs ", ws);
  return t;
}

inline void supported(const TensorInfo& t) {
  const TypeTraits* tr = type_traits(t.type);
  require(tr != nullptr && tr->supported, "gguf: tensor '", t.name, "' has unsupported type ", t.type_name(),
          " (supported: F32, F16, BF16, Q8_0, Q4_0)");
}

// Q's ggml type id; a type without one (quant::F8_E4M3) is a compile-time error naming the conversion.
template <class Q>
constexpr std::uint32_t ggml_type_id() {
  static_assert(quant::has_ggml_type_v<Q>,
                "gguf: this weight type has no ggml type id, so a GGUF file cannot hold it: view<Q>, the writer "
                "and requantize<Q> take F32, F16, BF16, Q8_0 or Q4_0 (load_host_model<Q> converts a file to it)");
  if constexpr (quant::has_ggml_type_v<Q>) return static_cast<std::uint32_t>(Q::ggml_type);
  else return 0;
}

template <class Q>
MatrixView<Q> matrix(const File& f, const std::string& name, int rows, int cols) {
  const TensorInfo& t = shaped(f, name, rows, cols);
  supported(t);
  require(t.type == ggml_type_id<Q>(), "gguf: tensor '", name, "' has type ", t.type_name(),
          ", but view<", Q::name, "> needs every matrix in ", Q::name,
          " (load_host_model<", Q::name, "> converts, with a copy)");
  require(reinterpret_cast<std::uintptr_t>(t.data) % alignof(typename Q::block) == 0, "gguf: tensor '", name,
          "' data is misaligned for ", Q::name);
  return {reinterpret_cast<const typename Q::block*>(t.data), rows, cols};
}

inline const float* norm(const File& f, const std::string& name, int n) {
  const TensorInfo& t = shaped(f, name, 0, n);
  require(t.type == static_cast<std::uint32_t>(quant::GgmlType::F32), "gguf: tensor '", name, "' has type ",
          t.type_name(), ", norm weights must be F32 for a zero-copy view (load_host_model converts)");
  require(reinterpret_cast<std::uintptr_t>(t.data) % alignof(float) == 0, "gguf: tensor '", name,
          "' data is misaligned for F32");
  return reinterpret_cast<const float*>(t.data);
}

template <class Q>
void dequantize_blocks(const std::uint8_t* p, std::uint64_t n, float* out) {
  using B = typename Q::block;
  for (std::uint64_t b = 0; b < n / Q::block_size; ++b) {
    B blk;
    std::memcpy(&blk, p + b * sizeof(B), sizeof(B));  // the mapping need not be aligned for B
    for (int i = 0; i < Q::block_size; ++i) out[b * Q::block_size + static_cast<std::uint64_t>(i)] = quant::dequantize(blk, i);
  }
}

// All values of a supported tensor as floats.
inline std::vector<float> to_float(const TensorInfo& t) {
  supported(t);
  std::vector<float> out(static_cast<std::size_t>(t.n_elements));
  switch (static_cast<quant::GgmlType>(t.type)) {
    case quant::GgmlType::F32: dequantize_blocks<quant::F32>(t.data, t.n_elements, out.data()); break;
    case quant::GgmlType::F16: dequantize_blocks<quant::F16>(t.data, t.n_elements, out.data()); break;
    case quant::GgmlType::BF16: dequantize_blocks<quant::BF16>(t.data, t.n_elements, out.data()); break;
    case quant::GgmlType::Q8_0: dequantize_blocks<quant::Q8_0>(t.data, t.n_elements, out.data()); break;
    case quant::GgmlType::Q4_0: dequantize_blocks<quant::Q4_0>(t.data, t.n_elements, out.data()); break;
  }
  return out;
}

template <class Q>
constexpr std::uint32_t file_type() {
  ggml_type_id<Q>();
  if constexpr (std::is_same_v<Q, quant::F32>) return 0;
  else if constexpr (std::is_same_v<Q, quant::F16>) return 1;
  else if constexpr (std::is_same_v<Q, quant::Q4_0>) return 2;
  else if constexpr (std::is_same_v<Q, quant::Q8_0>) return 7;
  else return 32;  // BF16
}

}  // namespace detail

// The model configuration from the llama.* keys. Requires general.architecture = "llama"; rejects what
// would change the logits but is not implemented (RoPE scaling, experts, a partial RoPE dimension).
inline ModelConfig load_config(const File& f) {
  const std::string arch = f.get<std::string>("general.architecture");
  require(arch == "llama", "gguf: metadata key 'general.architecture' is '", arch, "', only 'llama' is supported");
  ModelConfig c;
  c.n_layers = detail::int_key(f, "llama.block_count", std::nullopt);
  c.dim = detail::int_key(f, "llama.embedding_length", std::nullopt);
  c.n_heads = detail::int_key(f, "llama.attention.head_count", std::nullopt);
  c.n_kv_heads = detail::int_key(f, "llama.attention.head_count_kv", c.n_heads);
  c.ffn_dim = detail::int_key(f, "llama.feed_forward_length", std::nullopt);
  if (const Value* t = f.find("tokenizer.ggml.tokens")) {
    const auto& toks = t->strings("metadata key 'tokenizer.ggml.tokens'");
    require(!toks.empty() && toks.size() <= static_cast<std::size_t>(INT_MAX),
            "gguf: metadata key 'tokenizer.ggml.tokens' has ", toks.size(), " tokens");
    c.vocab = static_cast<int>(toks.size());
    if (f.has("llama.vocab_size")) {
      const int stated = detail::int_key(f, "llama.vocab_size", std::nullopt);
      require(stated == c.vocab, "gguf: metadata key 'llama.vocab_size' is ", stated,
              ", but 'tokenizer.ggml.tokens' has ", c.vocab, " tokens");
    }
  } else if (f.has("llama.vocab_size")) {
    c.vocab = detail::int_key(f, "llama.vocab_size", std::nullopt);
  } else {
    const TensorInfo& e = f.tensor("token_embd.weight");
    require(e.dims.size() >= 2 && e.dims[1] >= 1 && e.dims[1] <= static_cast<std::uint64_t>(INT_MAX),
            "gguf: tensor 'token_embd.weight' has shape ", e.shape(), ", which gives no vocabulary size");
    c.vocab = static_cast<int>(e.dims[1]);
  }
  c.rope_theta = detail::real_key(f, "llama.rope.freq_base", 10000.0f);
  c.rms_eps = detail::real_key(f, "llama.attention.layer_norm_rms_epsilon", std::nullopt);
  c.mask_token_id = detail::int_key(f, "skippy.mask_token_id", -1, 0);
  require(c.n_heads > 0 && c.dim % c.n_heads == 0, "gguf: llama.embedding_length ", c.dim,
          " is not divisible by llama.attention.head_count ", c.n_heads);
  const int rope_dims = detail::int_key(f, "llama.rope.dimension_count", c.dim / c.n_heads);
  require(rope_dims == c.dim / c.n_heads, "gguf: metadata key 'llama.rope.dimension_count' is ", rope_dims,
          ", but skippy rotates the whole head (", c.dim / c.n_heads, ")");
  // llama.cpp's convention: the scaling type defaults to linear and a factor of 0 or 1 means none, so a
  // factor alone (or the older rope.scale_linear) already changes the logits.
  std::string scaling = "linear";
  if (const Value* s = f.find("llama.rope.scaling.type")) scaling = s->as<std::string>("metadata key 'llama.rope.scaling.type'");
  require(scaling == "none" || scaling == "linear", "gguf: metadata key 'llama.rope.scaling.type' is '", scaling,
          "', RoPE scaling is not supported");
  if (scaling != "none") {
    for (const char* key : {"llama.rope.scaling.factor", "llama.rope.scale_linear"}) {
      const float factor = detail::real_key(f, key, 1.0f);
      require(factor == 0.0f || factor == 1.0f, "gguf: metadata key '", key, "' is ", factor,
              ", RoPE scaling is not supported");
    }
  }
  require(detail::int_key(f, "llama.expert_count", 0, 0) == 0,
          "gguf: metadata key 'llama.expert_count' is non-zero, mixture-of-experts models are not supported");
  c.validate();
  return c;
}

// The S3D metadata, or nullopt when the file has no skippy.skip_begin / skip_end / predictors.
inline std::optional<S3dMetadata> load_s3d(const File& f) {
  const bool any = f.has("skippy.skip_begin") || f.has("skippy.skip_end") || f.has("skippy.predictors");
  if (!any) return std::nullopt;
  const ModelConfig c = load_config(f);  // checks the mask id against the vocabulary, and the layer count
  S3dMetadata s;
  s.mask_token_id = c.mask_token_id;
  s.skip_begin = detail::int_key(f, "skippy.skip_begin", std::nullopt, 0);
  s.skip_end = detail::int_key(f, "skippy.skip_end", std::nullopt, 0);
  s.predictors = detail::int_key(f, "skippy.predictors", std::nullopt, 1);
  const int layers = c.n_layers;
  require(s.skip_begin <= s.skip_end && s.skip_end <= layers, "gguf: skippy.skip_begin ", s.skip_begin,
          " / skippy.skip_end ", s.skip_end, " is not a range inside the ", layers, " layers");
  require(s.predictors <= max_predictors, "gguf: metadata key 'skippy.predictors' is ", s.predictors,
          ", more than max_predictors (", max_predictors, ")");
  return s;
}

// The number of positions the model was trained for (llama.context_length), 0 when the file does not
// say; a malformed value is an error. RoPE past it is extrapolation: a runtime may refuse longer texts.
inline int context_length(const File& f) { return detail::int_key(f, "llama.context_length", 0); }

// A zero-copy view of the weights (valid while `f` lives). Every matrix must be stored as Q and every
// norm as F32; otherwise the error names the tensor and its type.
template <class Q>
ModelView<Q> view(const File& f) {
  ModelView<Q> m;
  m.config = load_config(f);
  const ModelConfig& c = m.config;
  detail::check_tensor_set(f, c);
  const int d = c.dim, kv = c.kv_dim(), ff = c.ffn_dim, v = c.vocab;
  m.token_embd = detail::matrix<Q>(f, "token_embd.weight", v, d);
  m.output = f.find_tensor("output.weight") ? detail::matrix<Q>(f, "output.weight", v, d) : m.token_embd;
  m.output_norm = detail::norm(f, "output_norm.weight", d);
  for (int l = 0; l < c.n_layers; ++l) {
    using detail::layer_name;
    LayerView<Q> L;
    L.attn_norm = detail::norm(f, layer_name(l, "attn_norm"), d);
    L.wq = detail::matrix<Q>(f, layer_name(l, "attn_q"), d, d);
    L.wk = detail::matrix<Q>(f, layer_name(l, "attn_k"), kv, d);
    L.wv = detail::matrix<Q>(f, layer_name(l, "attn_v"), kv, d);
    L.wo = detail::matrix<Q>(f, layer_name(l, "attn_output"), d, d);
    L.ffn_norm = detail::norm(f, layer_name(l, "ffn_norm"), d);
    L.w_gate = detail::matrix<Q>(f, layer_name(l, "ffn_gate"), ff, d);
    L.w_up = detail::matrix<Q>(f, layer_name(l, "ffn_up"), ff, d);
    L.w_down = detail::matrix<Q>(f, layer_name(l, "ffn_down"), d, ff);
    m.layers.push_back(L);
  }
  m.validate();
  return m;
}

// All weights as floats (a copy; any supported type is dequantised; tied embeddings are duplicated).
inline FloatWeights load_float_weights(const File& f) {
  FloatWeights w;
  w.config = load_config(f);
  const ModelConfig& c = w.config;
  detail::check_tensor_set(f, c);
  const int d = c.dim, kv = c.kv_dim(), ff = c.ffn_dim, v = c.vocab;
  auto get = [&](const std::string& name, int rows, int cols) { return detail::to_float(detail::shaped(f, name, rows, cols)); };
  w.token_embd = get("token_embd.weight", v, d);
  w.output = f.find_tensor("output.weight") ? get("output.weight", v, d) : w.token_embd;
  w.output_norm = get("output_norm.weight", 0, d);
  for (int l = 0; l < c.n_layers; ++l) {
    using detail::layer_name;
    FloatLayer L;
    L.attn_norm = get(layer_name(l, "attn_norm"), 0, d);
    L.wq = get(layer_name(l, "attn_q"), d, d);
    L.wk = get(layer_name(l, "attn_k"), kv, d);
    L.wv = get(layer_name(l, "attn_v"), kv, d);
    L.wo = get(layer_name(l, "attn_output"), d, d);
    L.ffn_norm = get(layer_name(l, "ffn_norm"), 0, d);
    L.w_gate = get(layer_name(l, "ffn_gate"), ff, d);
    L.w_up = get(layer_name(l, "ffn_up"), ff, d);
    L.w_down = get(layer_name(l, "ffn_down"), d, ff);
    w.layers.push_back(std::move(L));
  }
  return w;
}

// An owning model in storage type Q from a file of any supported types. This copies: every tensor is
// dequantised to float and quantised to Q. From F32 (or F16/BF16 into a float type) the result equals
// what HostModel<Q>::from_float gives on the original floats; a quantised source is quantised twice.
template <class Q>
HostModel<Q> load_host_model(const File& f) {
  return HostModel<Q>::from_float(load_float_weights(f));
}

// ---- writing ----------------------------------------------------------------------------------------

struct WriteOptions {
  std::string name = "skippy";               // general.name
  std::optional<Vocabulary> vocabulary;      // default: Vocabulary::bytes when vocab >= 259, else placeholder
  std::optional<S3dMetadata> s3d;            // skippy.skip_begin / skip_end / predictors
  std::uint32_t context_length = 2048;       // llama.context_length (llama.cpp requires the key)
  std::uint32_t alignment = default_alignment;
};

// A Writer holding the model's metadata and tensors (borrowed from `m`: keep the weights alive until the
// Writer has written). Tied embeddings (m.output.data == m.token_embd.data) write no output.weight.
template <class Q>
Writer model_writer(const ModelView<Q>& m, const WriteOptions& o = {}) {
  m.validate();
  require(!m.any_packed(), "gguf writer: a weight matrix is in the packed or tiled device layout; a file holds the "
          "ggml block layout (write the model the view was packed from)");
  const ModelConfig& c = m.config;
  Writer w(o.alignment);
  w.set("general.architecture", "llama");
  w.set("general.name", o.name);
  w.set("general.file_type", detail::file_type<Q>());
  w.set("llama.context_length", o.context_length);
  w.set("llama.embedding_length", static_cast<std::uint32_t>(c.dim));
  w.set("llama.block_count", static_cast<std::uint32_t>(c.n_layers));
  w.set("llama.feed_forward_length", static_cast<std::uint32_t>(c.ffn_dim));
  w.set("llama.attention.head_count", static_cast<std::uint32_t>(c.n_heads));
  w.set("llama.attention.head_count_kv", static_cast<std::uint32_t>(c.n_kv_heads));
  w.set("llama.rope.dimension_count", static_cast<std::uint32_t>(c.head_dim()));
  w.set("llama.rope.freq_base", c.rope_theta);
  w.set("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set("llama.vocab_size", static_cast<std::uint32_t>(c.vocab));
  const Vocabulary vocab = o.vocabulary ? *o.vocabulary
                           : c.vocab >= 259 ? Vocabulary::bytes(c.vocab, c.mask_token_id >= 259 ? c.mask_token_id : -1)
                                            : Vocabulary::placeholder(c.vocab);
  require(vocab.size() == c.vocab, "gguf writer: the vocabulary has ", vocab.size(), " tokens, the model ", c.vocab);
  vocab.write(w);
  if (c.mask_token_id >= 0) w.set("skippy.mask_token_id", static_cast<std::uint32_t>(c.mask_token_id));
  if (o.s3d) {
    const S3dMetadata& s = *o.s3d;
    require(s.mask_token_id == c.mask_token_id, "gguf writer: S3D mask token ", s.mask_token_id,
            " differs from the config's ", c.mask_token_id);
    require(0 <= s.skip_begin && s.skip_begin <= s.skip_end && s.skip_end <= c.n_layers && s.predictors >= 1 &&
                s.predictors <= max_predictors,
            "gguf writer: S3D metadata skip [", s.skip_begin, ", ", s.skip_end, "), K = ", s.predictors,
            " does not fit the model");
    w.set("skippy.skip_begin", static_cast<std::uint32_t>(s.skip_begin));
    w.set("skippy.skip_end", static_cast<std::uint32_t>(s.skip_end));
    w.set("skippy.predictors", static_cast<std::uint32_t>(s.predictors));
  }
  const auto qt = detail::ggml_type_id<Q>();
  const auto f32 = static_cast<std::uint32_t>(quant::GgmlType::F32);
  auto mat = [&](const std::string& name, const MatrixView<Q>& x) {
    w.add_tensor(name, qt, {static_cast<std::uint64_t>(x.cols), static_cast<std::uint64_t>(x.rows)}, x.data);
  };
  auto vec = [&](const std::string& name, const float* x) {
    w.add_tensor(name, f32, {static_cast<std::uint64_t>(c.dim)}, x);
  };
  mat("token_embd.weight", m.token_embd);
  for (int l = 0; l < c.n_layers; ++l) {
    using detail::layer_name;
    const LayerView<Q>& L = m.layers[static_cast<std::size_t>(l)];
    vec(layer_name(l, "attn_norm"), L.attn_norm);
    mat(layer_name(l, "attn_q"), L.wq);
    mat(layer_name(l, "attn_k"), L.wk);
    mat(layer_name(l, "attn_v"), L.wv);
    mat(layer_name(l, "attn_output"), L.wo);
    vec(layer_name(l, "ffn_norm"), L.ffn_norm);
    mat(layer_name(l, "ffn_gate"), L.w_gate);
    mat(layer_name(l, "ffn_up"), L.w_up);
    mat(layer_name(l, "ffn_down"), L.w_down);
  }
  vec("output_norm.weight", m.output_norm);
  if (m.output.data != m.token_embd.data) mat("output.weight", m.output);
  return w;
}

template <class Q>
void write_model(const std::string& path, const ModelView<Q>& m, const WriteOptions& o = {},
                 const Writer::Progress& progress = {}) {
  model_writer(m, o).write_file(path, progress);
}
template <class Q>
void write_model(const std::string& path, const HostModel<Q>& m, const WriteOptions& o = {},
                 const Writer::Progress& progress = {}) {
  write_model(path, m.view(), o, progress);
}
template <class Q>
std::vector<std::uint8_t> model_bytes(const ModelView<Q>& m, const WriteOptions& o = {}) {
  return model_writer(m, o).bytes();
}

// A Writer that re-quantises `src` to Q: the matrices become Q; one-dimensional tensors and the norms
// (which view<Q> also takes stored as (n, 1)) are kept as stored; all metadata is copied,
// general.file_type set.
// Tensor data is read from `src` during write(), one tensor at a time, so `src` must outlive the Writer.
template <class Q>
Writer requantize(const File& src) {
  Writer w(src.alignment());
  for (const auto& kv : src.metadata())
    if (kv.first != "general.alignment") w.set_value(kv.first, kv.second);
  w.set("general.file_type", detail::file_type<Q>());
  for (const TensorInfo& t : src.tensors()) {
    detail::supported(t);
    if (t.dims.size() < 2 || detail::is_norm(t.name)) {
      w.add_tensor(t.name, t.type, t.dims, t.data);
      continue;
    }
    require(t.dims[0] % Q::block_size == 0, "gguf: tensor '", t.name, "' first dimension ", t.dims[0],
            " is not a multiple of the ", Q::name, " block size ", Q::block_size);
    const TensorInfo* tp = &t;
    w.add_tensor_fill(t.name, detail::ggml_type_id<Q>(), t.dims, [tp](std::uint8_t* dst) {
      const std::vector<float> x = detail::to_float(*tp);
      const std::size_t row = static_cast<std::size_t>(tp->dims[0]);
      std::vector<typename Q::block> out(row / Q::block_size);
      for (std::size_t r = 0; r < x.size() / row; ++r) {
        quant::quantize_row<Q>(x.data() + r * row, out.data(), row);
        std::memcpy(dst + r * out.size() * sizeof(typename Q::block), out.data(), out.size() * sizeof(typename Q::block));
      }
    });
  }
  return w;
}

}  // namespace skippy::gguf
