#pragma once
// The vocabulary of a GGUF file (tokenizer.ggml.*), for turning token ids into text, and the byte-level
// vocabulary that llama.cpp accepts (README §3): <unk>, <s>, </s>, <0x00>..<0xFF> (type 6 = byte),
// then further special tokens such as the S3D mask.

#include <cstdint>
#include <string>
#include <vector>

#include "reader.hpp"
#include "writer.hpp"

namespace skippy::gguf {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum TokenType : std::int32_t {
  token_normal = 1,
  token_unknown = 2,
  token_control = 3,
  token_user_defined = 4,
  token_unused = 5,
  token_byte = 6,
};

struct Vocabulary {
  std::string model = "llama";  // tokenizer.ggml.model
  std::vector<std::string> tokens;
  std::vector<float> scores;        // empty or one per token
  std::vector<std::int32_t> types;  // empty or one per token
  int bos = -1, eos = -1, unk = -1;

  int size() const { return static_cast<int>(tokens.size()); }

  // The byte-level vocabulary of `vocab` tokens (at least 259): <unk> = 0, <s> = 1, </s> = 2, byte b =
  // 3 + b; then "<mask>" at mask_token_id (when >= 259) and "<unused_N>" for the remaining ids.
  static Vocabulary bytes(int vocab, int mask_token_id = -1) {
    require(vocab >= 259, "vocabulary: a byte vocabulary needs at least 259 tokens, got ", vocab);
    require(mask_token_id == -1 || (mask_token_id >= 259 && mask_token_id < vocab), "vocabulary: mask token id ",
            mask_token_id, " must lie in [259, ", vocab, ")");
    Vocabulary v;
    v.bos = 1;
    v.eos = 2;
    v.unk = 0;
    v.add("<unk>", token_unknown);
    v.add("<s>", token_control);
    v.add("</s>", token_control);
    static const char* hexd = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) v.add(std::string("<0x") + hexd[b >> 4] + hexd[b & 15] + ">", token_byte);
    for (int i = 259; i < vocab; ++i) {
      if (i == mask_token_id) v.add("<mask>", token_user_defined);
      else v.add("<unused_" + std::to_string(i) + ">", token_unused);
    }
    return v;
  }

  // Tokens "<t0>".."<tN-1>" (normal): for test models whose vocabulary is smaller than the byte set.
  static Vocabulary placeholder(int vocab) {
    require(vocab > 0, "vocabulary: size must be > 0, got ", vocab);
    Vocabulary v;
    for (int i = 0; i < vocab; ++i) v.add("<t" + std::to_string(i) + ">", token_normal);
    return v;
  }

  // Reads tokenizer.ggml.tokens (required) and the optional scores, token types and special ids.
  static Vocabulary load(const File& f) {
    Vocabulary v;
    v.model = f.get_or<std::string>("tokenizer.ggml.model", "");
    v.tokens = f.get_array<std::string>("tokenizer.ggml.tokens");
    if (f.has("tokenizer.ggml.scores")) {
      v.scores = f.get_array<float>("tokenizer.ggml.scores");
      require(v.scores.size() == v.tokens.size(), "gguf: metadata key 'tokenizer.ggml.scores' has ", v.scores.size(),
              " entries, tokenizer.ggml.tokens has ", v.tokens.size());
    }
    if (f.has("tokenizer.ggml.token_type")) {
      v.types = f.get_array<std::int32_t>("tokenizer.ggml.token_type");
      require(v.types.size() == v.tokens.size(), "gguf: metadata key 'tokenizer.ggml.token_type' has ",
              v.types.size(), " entries, tokenizer.ggml.tokens has ", v.tokens.size());
    }
    v.bos = special(f, "tokenizer.ggml.bos_token_id", v.size());
    v.eos = special(f, "tokenizer.ggml.eos_token_id", v.size());
    v.unk = special(f, "tokenizer.ggml.unknown_token_id", v.size());
    return v;
  }

  // Writes the tokenizer.ggml.* keys.
  void write(Writer& w) const {
    require(scores.empty() || scores.size() == tokens.size(), "vocabulary: ", scores.size(), " scores for ",
            tokens.size(), " tokens");
    require(types.empty() || types.size() == tokens.size(), "vocabulary: ", types.size(), " token types for ",
            tokens.size(), " tokens");
    w.set("tokenizer.ggml.model", model);
    w.set_array("tokenizer.ggml.tokens", tokens);
    if (!scores.empty()) w.set_array("tokenizer.ggml.scores", scores);
    if (!types.empty()) w.set_array("tokenizer.ggml.token_type", types);
    if (bos >= 0) w.set("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(bos));
    if (eos >= 0) w.set("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(eos));
    if (unk >= 0) w.set("tokenizer.ggml.unknown_token_id", static_cast<std::uint32_t>(unk));
  }

  // The bytes token `id` stands for: "<0xXX>" byte tokens give that byte, control/unknown/unused tokens
  // give nothing, SentencePiece's U+2581 becomes a space. Out-of-range ids throw.
  std::string text(int id) const {
    require(id >= 0 && id < size(), "vocabulary: token id ", id, " is outside [0, ", size(), ")");
    const std::string& t = tokens[static_cast<std::size_t>(id)];
    const int type = types.empty() ? token_normal : types[static_cast<std::size_t>(id)];
    if (type == token_control || type == token_unknown || type == token_unused) return {};
    if (t.size() == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' && t[5] == '>' && hex(t[3]) >= 0 &&
        hex(t[4]) >= 0)
      return std::string(1, static_cast<char>(hex(t[3]) * 16 + hex(t[4])));
    std::string out;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (i + 2 < t.size() && static_cast<unsigned char>(t[i]) == 0xE2 && static_cast<unsigned char>(t[i + 1]) == 0x96 &&
          static_cast<unsigned char>(t[i + 2]) == 0x81) {
        out += ' ';
        i += 2;
      } else {
        out += t[i];
      }
    }
    return out;
  }
  // The token ids of `bytes`, one "<0xXX>" byte token per byte (the byte-level tokenizer; prepend bos
  // yourself). Throws when the vocabulary lacks a byte token.
  std::vector<int> encode_bytes(const std::string& bytes) const {
    std::vector<int> byte_id(256, -1);
    for (int id = 0; id < size(); ++id) {
      const std::string& t = tokens[static_cast<std::size_t>(id)];
      if (t.size() == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' && t[5] == '>' && hex(t[3]) >= 0 &&
          hex(t[4]) >= 0 && byte_id[static_cast<std::size_t>(hex(t[3]) * 16 + hex(t[4]))] < 0)
        byte_id[static_cast<std::size_t>(hex(t[3]) * 16 + hex(t[4]))] = id;
    }
    std::vector<int> ids;
    ids.reserve(bytes.size());
    for (const char ch : bytes) {
      const int id = byte_id[static_cast<unsigned char>(ch)];
      require(id >= 0, "vocabulary: no byte token <0x", "0123456789ABCDEF"[static_cast<unsigned char>(ch) >> 4],
              "0123456789ABCDEF"[static_cast<unsigned char>(ch) & 15], "> to encode the text with");
      ids.push_back(id);
    }
    return ids;
  }

  std::string text(const std::vector<int>& ids) const {
    std::string s;
    for (int id : ids) s += text(id);
    return s;
  }

 private:
  void add(std::string t, std::int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(0.0f);
    types.push_back(type);
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int special(const File& f, const std::string& key, int n) {
    const Value* v = f.find(key);
    if (v == nullptr) return -1;
    const auto i = v->as_integer();
    require(i.has_value() && *i >= 0 && *i < n, "gguf: metadata key '", key, "' must be a token id in [0, ", n, ")");
    return static_cast<int>(*i);
  }
};

}  // namespace skippy::gguf
