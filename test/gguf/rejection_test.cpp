// Malformed GGUF input is rejected with a skippy::Error whose message names the key or tensor and what
// is wrong: one test per kind of rejection. Files are made by the writer, then corrupted byte-wise.

#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <skippy/gguf/gguf.hpp>

#include "../support/models.hpp"

using namespace skippy;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes small_file() {
  static const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  static std::uint8_t q[68] = {};
  gguf::Writer w;
  w.set("general.architecture", "test");
  w.set("aaa", std::uint32_t{1});
  w.set("aab", std::uint32_t{2});
  w.set_array("arr", std::vector<std::uint32_t>{1, 2, 3});
  w.add_tensor("t0", quant::GgmlType::F32, {8}, v);
  w.add_tensor("t1", quant::GgmlType::F32, {8}, v);
  w.add_tensor("q", quant::GgmlType::Q8_0, {32, 2}, q);
  return w.bytes();
}

// Position just after the length-prefixed string s (a key or a tensor name).
std::size_t after(const Bytes& b, const std::string& s) {
  Bytes pat(8);
  const std::uint64_t n = s.size();
  std::memcpy(pat.data(), &n, 8);
  pat.insert(pat.end(), s.begin(), s.end());
  const auto it = std::search(b.begin(), b.end(), pat.begin(), pat.end());
  REQUIRE(it != b.end());
  return static_cast<std::size_t>(it - b.begin()) + pat.size();
}

template <class T>
void poke(Bytes& b, std::size_t pos, T v) {
  REQUIRE(pos + sizeof(T) <= b.size());
  std::memcpy(b.data() + pos, &v, sizeof(T));
}

// Tensor info fields after the name: n_dims (4), dims (8 each), type (4), offset (8).
std::size_t dims_at(const Bytes& b, const std::string& name) { return after(b, name) + 4; }
std::size_t type_at(const Bytes& b, const std::string& name, int n_dims) { return dims_at(b, name) + 8 * static_cast<std::size_t>(n_dims); }
std::size_t offset_at(const Bytes& b, const std::string& name, int n_dims) { return type_at(b, name, n_dims) + 4; }

void rejects(const Bytes& b, const std::string& message) {
  CHECK_THROWS_WITH_AS(gguf::File::from_memory(b), doctest::Contains(message.c_str()), Error);
}

// A tiny llama model file, optionally edited: drop tensors, change metadata, replace tensors.
struct ModelFile {
  HostModel<quant::Q8_0> model = HostModel<quant::Q8_0>::from_float(test::random_weights(31));
  Bytes bytes = gguf::model_bytes(model.view());

  Bytes edit(const std::function<void(gguf::Writer&)>& meta, const std::string& drop = "",
             const std::function<bool(gguf::Writer&, const gguf::TensorInfo&)>& replace = {}) const {
    const gguf::File f = gguf::File::from_memory(bytes);
    gguf::Writer w;
    for (const auto& kv : f.metadata()) w.set_value(kv.first, kv.second);
    if (meta) meta(w);
    for (const auto& t : f.tensors()) {
      if (t.name == drop) continue;
      if (replace && replace(w, t)) continue;
      w.add_tensor(t.name, t.type, t.dims, t.data);
    }
    return w.bytes();
  }
};

template <class Q = quant::Q8_0>
void view_rejects(const Bytes& b, const std::string& message) {
  const gguf::File f = gguf::File::from_memory(b);
  CHECK_THROWS_WITH_AS(gguf::view<Q>(f), doctest::Contains(message.c_str()), Error);
}

}  // namespace

TEST_CASE("gguf rejects: the unmodified files parse") {
  CHECK_NOTHROW(gguf::File::from_memory(small_file()));
  ModelFile m;
  const gguf::File f = gguf::File::from_memory(m.bytes);
  CHECK_NOTHROW(gguf::view<quant::Q8_0>(f));
  CHECK_NOTHROW(gguf::File::from_memory(m.edit({})));
}

TEST_CASE("gguf rejects: bad magic") {
  Bytes b = small_file();
  b[0] = 'X';
  rejects(b, "bad magic");
  rejects(Bytes{}, "truncated file: magic");
}

TEST_CASE("gguf rejects: unsupported version") {
  for (std::uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
    Bytes b = small_file();
    poke(b, 4, v);
    rejects(b, "unsupported version " + std::to_string(v));
  }
}

TEST_CASE("gguf rejects: truncation anywhere before the end of the last tensor's data") {
  const Bytes full = small_file();
  const gguf::File f = gguf::File::from_memory(full);
  const auto& last = f.tensor("q");
  const std::size_t end = static_cast<std::size_t>(f.data_offset() + last.offset + last.n_bytes);
  for (std::size_t n = 0; n < end; ++n) {
    INFO("prefix of ", n, " bytes");
    CHECK_THROWS_WITH_AS(gguf::File::from_memory(full.data(), n), doctest::Contains("truncated file"), Error);
  }
  CHECK_NOTHROW(gguf::File::from_memory(full.data(), end));  // the final padding is optional
}

TEST_CASE("gguf rejects: counts that cannot fit in the file") {
  Bytes b = small_file();
  poke(b, 8, std::uint64_t{1} << 62);
  rejects(b, "tensor count 4611686018427387904 cannot fit");
  b = small_file();
  poke(b, 16, ~std::uint64_t{0});
  rejects(b, "metadata count 18446744073709551615 cannot fit");
  // Counts the bytes could hold, but no model file has: refused before entries are parsed.
  b = small_file();
  b.resize(b.size() + 13 * (gguf::File::max_metadata + 1));
  poke(b, 16, gguf::File::max_metadata + 1);
  rejects(b, "metadata count 65537 is more than a model file holds (65536)");
  b = small_file();
  b.resize(b.size() + 32 * (gguf::File::max_tensors + 1));
  poke(b, 8, gguf::File::max_tensors + 1);
  rejects(b, "tensor count 1048577 is more than a model file holds (1048576)");
}

TEST_CASE("gguf rejects: string and array lengths past the end (overflow-safe)") {
  Bytes b = small_file();
  poke(b, 24, ~std::uint64_t{0});  // first key's length
  rejects(b, "truncated file: metadata entry 0 key");
  b = small_file();
  poke(b, after(b, "arr") + 8, std::uint64_t{1} << 62);  // array length: 2^62 uint32 would overflow 2^64 bytes
  rejects(b, "metadata key 'arr' array of 4611686018427387904 uint32 values needs more than");
  b = small_file();
  poke(b, after(b, "general.architecture") + 4, std::uint64_t{1} << 40);  // string value length
  rejects(b, "truncated file: metadata key 'general.architecture'");
}

// The header of a file of n_kv metadata entries and no tensors, then a key of a string array of n strings.
void put_string_array_key(Bytes& b, const std::string& key, std::uint64_t n) {
  const auto put = [&b](const void* p, std::size_t size) {
    b.insert(b.end(), static_cast<const std::uint8_t*>(p), static_cast<const std::uint8_t*>(p) + size);
  };
  const std::uint64_t len = key.size();
  const std::uint32_t array = 9, string = 8;
  put(&len, 8);
  put(key.data(), key.size());
  put(&array, 4);
  put(&string, 4);
  put(&n, 8);
}
Bytes header(std::uint64_t n_kv) {
  Bytes b(24, 0);
  poke(b, 0, gguf::magic);
  poke(b, 4, std::uint32_t{3});
  poke(b, 16, n_kv);
  return b;
}

TEST_CASE("gguf rejects: keys past GGUF's 65535 bytes and tensor names past ggml's 63, before copying them") {
  Bytes b = header(1);
  put_string_array_key(b, std::string(gguf::File::max_key + 1, 'k'), 0);
  rejects(b, "metadata entry 0 key 'kkkk");
  rejects(b, "...' is 65536 bytes, longer than GGUF's limit for keys (65535)");
  Bytes c = small_file();
  const std::size_t p = after(c, "t1") - 2 - 8;
  poke(c, p, std::uint64_t{64});  // the name runs into its n_dims and dims
  rejects(c, "tensor info 1 name 't1");
  rejects(c, "' is 64 bytes, longer than ggml's limit for names (63)");
}

TEST_CASE("gguf rejects: messages quote at most 64 bytes of a key, however long") {
  // A key of GGUF's maximum length twice: the duplicate's message holds its first 64 bytes. (Each array
  // element's message was built from the whole key, which made parsing quadratic in the key's length.)
  Bytes b = header(2);
  const std::string key(gguf::File::max_key, 'k');
  put_string_array_key(b, key, 3);
  b.insert(b.end(), 3 * 8, 0);  // three empty strings
  put_string_array_key(b, key, 0);
  try {
    (void)gguf::File::from_memory(b);
    FAIL("the duplicate key was accepted");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("duplicate metadata key '" + std::string(64, 'k') + "...'") != std::string::npos);
    CHECK(m.size() < 200);
  }
}

TEST_CASE("gguf rejects: more strings in metadata arrays than a model file holds, counted over all arrays") {
  // Three strings, then an array that would take the file one past the bound; its 8-byte lengths are in the
  // file, so only the bound refuses it.
  constexpr std::uint64_t max = gguf::File::max_strings;
  Bytes b = header(2);
  put_string_array_key(b, "a", 3);
  b.insert(b.end(), 3 * 8, 0);
  put_string_array_key(b, "b", max - 2);
  b.resize(b.size() + 8 * (max - 2), 0);
  rejects(b, "metadata key 'b' array of 4194302 strings takes the file past 4194304 strings in its metadata (3 "
             "before it)");
  // At the bound it parses.
  Bytes c = header(2);
  put_string_array_key(c, "a", 3);
  c.insert(c.end(), 3 * 8, 0);
  put_string_array_key(c, "b", max - 3);
  c.resize(c.size() + 8 * (max - 3), 0);
  const gguf::File f = gguf::File::from_memory(c);
  CHECK(f.get_array<std::string>("b").size() == max - 3);
}

TEST_CASE("gguf rejects: duplicate keys") {
  Bytes b = small_file();
  b[after(b, "aab") - 1] = 'a';
  rejects(b, "duplicate metadata key 'aaa'");
}

TEST_CASE("gguf rejects: duplicate tensors") {
  Bytes b = small_file();
  b[after(b, "t1") - 1] = '0';
  rejects(b, "duplicate tensor 't0'");
}

TEST_CASE("gguf rejects: unknown value types, unknown array element types, arrays of arrays") {
  Bytes b = small_file();
  poke(b, after(b, "aaa"), std::uint32_t{13});
  rejects(b, "metadata key 'aaa' has unknown value type 13");
  b = small_file();
  poke(b, after(b, "arr") + 4, std::uint32_t{77});
  rejects(b, "metadata key 'arr' is an array of unknown value type 77");
  b = small_file();
  poke(b, after(b, "arr") + 4, std::uint32_t{9});
  rejects(b, "metadata key 'arr' is an array of arrays");
}

TEST_CASE("gguf rejects: unknown tensor types") {
  for (std::uint32_t t : {4u, 31u, 36u, 1000u}) {
    Bytes b = small_file();
    poke(b, type_at(b, "t1", 1), t);
    rejects(b, "tensor 't1' has unknown tensor type " + std::to_string(t));
  }
}

TEST_CASE("gguf rejects: a first dimension not divisible by the block size") {
  Bytes b = small_file();
  poke(b, dims_at(b, "q"), std::uint64_t{48});
  rejects(b, "tensor 'q' has type Q8_0 whose block size 32 does not divide its first dimension 48");
}

TEST_CASE("gguf rejects: bad dimension counts and element-count overflow") {
  Bytes b = small_file();
  poke(b, after(b, "q"), std::uint32_t{5});
  rejects(b, "tensor 'q' has 5 dimensions");
  b = small_file();
  poke(b, after(b, "q"), std::uint32_t{0});
  rejects(b, "tensor 'q' has 0 dimensions");
  b = small_file();
  poke(b, dims_at(b, "q") + 8, std::uint64_t{1} << 60);  // 32 * 2^60 elements
  rejects(b, "tensor 'q' element count overflows");
  b = small_file();
  poke(b, dims_at(b, "q") + 8, std::uint64_t{0});  // (32, 0): no rows, which re-quantising divided by
  rejects(b, "tensor 'q' has an empty dimension 1");
  b = small_file();
  poke(b, dims_at(b, "t1"), std::uint64_t{0});
  rejects(b, "tensor 't1' has an empty dimension 0");
}

// Counts are bounded by the bytes left, but parsed entries take several times their smallest encoding:
// a forged count must end in the parse error, not in reserving memory for entries that never parse.
TEST_CASE("gguf rejects: forged counts reserve no more than the entries that parse") {
  if (test::sanitized_build) {
    MESSAGE("skipped: RLIMIT_AS cannot bound an AddressSanitizer process");
    return;
  }
  constexpr std::size_t size = std::size_t{64} << 20;
  // One header per count field: the first entry after it starts with a length of 2^64 - 1.
  auto forged = [&](int which) {
    Bytes b(size, 0xFF);
    poke(b, 0, gguf::magic);
    poke(b, 4, std::uint32_t{3});
    const std::uint64_t rest = size - 24;
    if (which == 0) {  // metadata count
      poke(b, 8, std::uint64_t{0});
      poke(b, 16, rest / 13);
    } else if (which == 1) {  // tensor count
      poke(b, 8, rest / 32);
      poke(b, 16, std::uint64_t{0});
    } else {  // a string array's length
      poke(b, 8, std::uint64_t{0});
      poke(b, 16, std::uint64_t{1});
      poke(b, 24, std::uint64_t{1});
      b[32] = 'k';
      poke(b, 33, std::uint32_t{9});   // array
      poke(b, 37, std::uint32_t{8});   // of strings
      poke(b, 41, std::uint64_t{(size - 49) / 8});
    }
    return b;
  };
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    const Bytes b = forged(which);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The parse may use the file's copy and little more: 96 MiB beyond what the process maps now.
      long vm_kib = 0;
      if (std::FILE* st = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, st))
          if (std::sscanf(line, "VmSize: %ld kB", &vm_kib) == 1) break;
        std::fclose(st);
      }
      const rlim_t limit = static_cast<rlim_t>(vm_kib) * 1024 + (rlim_t{96} << 20);
      const rlimit r{limit, limit};
      if (vm_kib == 0 || ::setrlimit(RLIMIT_AS, &r) != 0) ::_exit(3);
      try {
        (void)gguf::File::from_memory(b);
        ::_exit(4);
      } catch (const Error&) {
        ::_exit(0);
      } catch (const std::bad_alloc&) {
        ::_exit(1);
      } catch (...) {
        ::_exit(2);
      }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK_MESSAGE(WEXITSTATUS(status) == 0, "exit code 1 means std::bad_alloc instead of a skippy::Error");
  }
}

TEST_CASE("gguf rejects: misaligned tensor data and bad general.alignment") {
  Bytes b = small_file();
  poke(b, offset_at(b, "t1", 1), std::uint64_t{36});
  rejects(b, "tensor 't1' data offset 36 is misaligned (alignment 32)");
  for (std::uint32_t a : {0u, 3u, 48u}) {
    gguf::Writer w(64);
    Bytes c = w.bytes();
    poke(c, after(c, "general.alignment") + 4, a);
    rejects(c, "'general.alignment' is " + std::to_string(a) + ", not a power of two");
  }
  gguf::Writer w;
  w.set("general.alignment", std::uint32_t{32});
  Bytes c = w.bytes();
  poke(c, after(c, "general.alignment"), std::uint32_t{10});  // uint64 instead of uint32
  c.insert(c.end(), 4, 0);
  rejects(c, "'general.alignment' has type uint64, expected uint32");
}

TEST_CASE("gguf rejects: overlapping tensor data") {
  Bytes b = small_file();
  poke(b, offset_at(b, "t1", 1), std::uint64_t{0});
  rejects(b, "tensor 't1' data at offset 0 overlaps tensor 't0'");
}

TEST_CASE("gguf rejects: tensor data beyond the end of the file") {
  Bytes b = small_file();
  poke(b, offset_at(b, "t1", 1), std::uint64_t{1} << 20);
  rejects(b, "truncated file: tensor 't1' data [1048576, +32)");
  b = small_file();
  poke(b, offset_at(b, "t1", 1), ~std::uint64_t{0} & ~std::uint64_t{31});  // offset + size overflows
  rejects(b, "tensor 't1' data");
}

TEST_CASE("gguf rejects: empty and over-long tensor names") {
  Bytes b = small_file();
  const std::size_t p = after(b, "t1") - 2 - 8;
  poke(b, p, std::uint64_t{0});
  rejects(b, "has an empty name");
  gguf::Writer w;
  CHECK_THROWS_WITH_AS(w.add_tensor(std::string(64, 'x'), quant::GgmlType::F32, {1}, "abcd"),
                       doctest::Contains("must be 1..63 bytes"), Error);
}

TEST_CASE("gguf rejects: missing required tensors") {
  ModelFile m;
  view_rejects(m.edit({}, "blk.1.ffn_up.weight"), "missing required tensor 'blk.1.ffn_up.weight'");
  view_rejects(m.edit({}, "output_norm.weight"), "missing required tensor 'output_norm.weight'");
  view_rejects(m.edit({}, "token_embd.weight"), "missing required tensor 'token_embd.weight'");
}

TEST_CASE("gguf rejects: missing or mistyped required keys, other architectures") {
  ModelFile m;
  auto drop = [&](const std::string& key) { return m.edit([&](gguf::Writer& w) { w.erase(key); }); };
  view_rejects(drop("llama.block_count"), "missing metadata key 'llama.block_count'");
  view_rejects(drop("llama.attention.layer_norm_rms_epsilon"), "'llama.attention.layer_norm_rms_epsilon'");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.block_count", "four"); }),
               "'llama.block_count' has type string, expected an integer");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.block_count", std::int32_t{-4}); }),
               "'llama.block_count' is -4");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.block_count", std::uint64_t{1} << 63); }),
               "'llama.block_count' is 9223372036854775808, expected an integer in [1, 2147483647]");
  // A stated vocabulary size must agree with the token list.
  const auto with_tokens = [&](std::uint32_t stated) {
    return m.edit([&](gguf::Writer& w) {
      std::vector<std::string> tokens;
      for (int i = 0; i < m.model.config().vocab; ++i) tokens.push_back("t" + std::to_string(i));
      w.set_array("tokenizer.ggml.tokens", tokens);
      w.set("llama.vocab_size", stated);
    });
  };
  const std::string vocab = std::to_string(m.model.config().vocab);
  view_rejects(with_tokens(50000), "'llama.vocab_size' is 50000, but 'tokenizer.ggml.tokens' has " + vocab + " tokens");
  const auto agreeing = static_cast<std::uint32_t>(m.model.config().vocab);
  CHECK_NOTHROW(gguf::view<quant::Q8_0>(gguf::File::from_memory(with_tokens(agreeing))));
  view_rejects(m.edit([](gguf::Writer& w) { w.set_array("llama.attention.head_count", std::vector<std::uint32_t>{4, 4, 4, 4}); }),
               "per-layer values are not supported");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("general.architecture", "gpt2"); }),
               "'general.architecture' is 'gpt2', only 'llama'");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.rope.scaling.type", "yarn"); }), "RoPE scaling");
  // llama.cpp's default scaling type is linear: a factor alone scales the frequencies.
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.rope.scaling.factor", 4.0f); }),
               "'llama.rope.scaling.factor' is 4, RoPE scaling is not supported");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.rope.scale_linear", 2.0f); }),
               "'llama.rope.scale_linear' is 2, RoPE scaling");
  for (float f : {0.0f, 1.0f}) {
    const gguf::File ok = gguf::File::from_memory(m.edit([&](gguf::Writer& w) { w.set("llama.rope.scaling.factor", f); }));
    CHECK_NOTHROW(gguf::view<quant::Q8_0>(ok));
  }
  const gguf::File none = gguf::File::from_memory(m.edit([](gguf::Writer& w) {
    w.set("llama.rope.scaling.type", "none");
    w.set("llama.rope.scaling.factor", 4.0f);
  }));
  CHECK_NOTHROW(gguf::view<quant::Q8_0>(none));
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.attention.layer_norm_rms_epsilon", INFINITY); }),
               "rms_eps must be finite and > 0");
  // A float64 value beyond float's range (converting it would be undefined behaviour).
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.rope.freq_base", 1e300); }),
               "'llama.rope.freq_base' = 1e+300 is outside float's range");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.rope.dimension_count", std::uint32_t{8}); }),
               "'llama.rope.dimension_count' is 8");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("skippy.mask_token_id", std::uint32_t{64}); }),
               "mask_token_id 64 is outside the vocabulary");
}

TEST_CASE("gguf rejects: shapes inconsistent with the configuration") {
  ModelFile m;
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.attention.head_count_kv", std::uint32_t{4}); }),
               "tensor 'blk.0.attn_k.weight' has shape (64, 32), the configuration needs (64, 64)");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.feed_forward_length", std::uint32_t{96}); }),
               "tensor 'blk.0.ffn_gate.weight' has shape (64, 128), the configuration needs (64, 96)");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.block_count", std::uint32_t{3}); }),
               "unexpected tensor 'blk.3.");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.block_count", std::uint32_t{5}); }),
               "'llama.block_count' is 5, which needs at least 47 tensors, the file has 39");
  view_rejects(m.edit([](gguf::Writer& w) { w.set("llama.block_count", std::uint32_t{2000000000}); }),
               "'llama.block_count' is 2000000000, which needs at least 18000000002 tensors");
  const Bytes renamed = m.edit({}, "", [](gguf::Writer& w, const gguf::TensorInfo& t) {
    if (t.name != "blk.1.attn_q.weight") return false;
    w.add_tensor("blk.01.attn_q.weight", t.type, t.dims, t.data);
    return true;
  });
  view_rejects(renamed, "unexpected tensor 'blk.01.attn_q.weight'");
  // A vocabulary of 65 tokens against a 64-row embedding (and no llama.vocab_size, which would disagree first).
  view_rejects(m.edit([](gguf::Writer& w) {
                 auto v = gguf::Vocabulary::placeholder(65);
                 v.write(w);
                 w.erase("llama.vocab_size");
               }),
               "tensor 'token_embd.weight' has shape (64, 64), the configuration needs (64, 65)");
}

TEST_CASE("gguf rejects: unsupported tensor types name the tensor and its type") {
  ModelFile m;
  const std::vector<std::uint8_t> junk(64 * 128 / 32 * 22, 0);  // Q5_0: blocks of 32 values in 22 bytes
  const Bytes b = m.edit({}, "", [&](gguf::Writer& w, const gguf::TensorInfo& t) {
    if (t.name != "blk.2.ffn_up.weight") return false;
    w.add_tensor(t.name, 6u, t.dims, junk.data());
    return true;
  });
  view_rejects(b, "tensor 'blk.2.ffn_up.weight' has unsupported type Q5_0");
  const gguf::File f = gguf::File::from_memory(b);
  CHECK_THROWS_WITH_AS(gguf::load_float_weights(f), doctest::Contains("'blk.2.ffn_up.weight' has unsupported type Q5_0"),
                       Error);
  CHECK_THROWS_WITH_AS(gguf::requantize<quant::Q4_0>(f), doctest::Contains("unsupported type Q5_0"), Error);
}

TEST_CASE("gguf rejects: a view whose storage type differs from the file's") {
  ModelFile m;
  view_rejects<quant::Q4_0>(m.bytes, "tensor 'token_embd.weight' has type Q8_0, but view<Q4_0> needs every matrix in Q4_0");
  const Bytes b = m.edit({}, "", [&](gguf::Writer& w, const gguf::TensorInfo& t) {
    if (t.name != "blk.0.ffn_norm.weight") return false;
    static std::uint16_t h[64] = {};
    w.add_tensor(t.name, quant::GgmlType::F16, t.dims, h);
    return true;
  });
  view_rejects(b, "tensor 'blk.0.ffn_norm.weight' has type F16, norm weights must be F32");
}

TEST_CASE("gguf rejects: unsupported extra tensors and inconsistent S3D metadata and vocabularies") {
  ModelFile m;
  const Bytes b = m.edit({}, "", [&](gguf::Writer& w, const gguf::TensorInfo& t) {
    if (t.name == "output_norm.weight") {
      static const float x[4] = {};
      w.add_tensor("rope_freqs.weight", quant::GgmlType::F32, {4}, x);
    }
    return false;
  });
  view_rejects(b, "'rope_freqs.weight' (RoPE frequency scaling) is not supported");
  const gguf::File s3d = gguf::File::from_memory(m.edit([](gguf::Writer& w) {
    w.set("skippy.skip_begin", std::uint32_t{2});
    w.set("skippy.skip_end", std::uint32_t{9});
    w.set("skippy.predictors", std::uint32_t{4});
  }));
  CHECK_THROWS_WITH_AS(gguf::load_s3d(s3d), doctest::Contains("is not a range inside the 4 layers"), Error);
  const gguf::File partial = gguf::File::from_memory(m.edit([](gguf::Writer& w) { w.set("skippy.skip_begin", std::uint32_t{2}); }));
  CHECK_THROWS_WITH_AS(gguf::load_s3d(partial), doctest::Contains("missing metadata key 'skippy.skip_end'"), Error);
  // load_s3d alone checks the mask id against the vocabulary, as load_config does.
  const gguf::File mask = gguf::File::from_memory(m.edit([](gguf::Writer& w) {
    w.set("skippy.skip_begin", std::uint32_t{1});
    w.set("skippy.skip_end", std::uint32_t{3});
    w.set("skippy.predictors", std::uint32_t{4});
    w.set("skippy.mask_token_id", std::uint32_t{1000000});
  }));
  CHECK_THROWS_WITH_AS(gguf::load_s3d(mask), doctest::Contains("mask_token_id 1000000 is outside the vocabulary"),
                       Error);
  const gguf::File voc = gguf::File::from_memory(m.edit([](gguf::Writer& w) { w.set_array("tokenizer.ggml.scores", std::vector<float>{1.0f}); }));
  CHECK_THROWS_WITH_AS(gguf::Vocabulary::load(voc), doctest::Contains("'tokenizer.ggml.scores' has 1 entries"), Error);
}

TEST_CASE("gguf context_length: the trained context, 0 when absent, an error when malformed") {
  ModelFile m;
  auto file = [&](const std::function<void(gguf::Writer&)>& meta) { return gguf::File::from_memory(m.edit(meta)); };
  CHECK(gguf::context_length(file([](gguf::Writer& w) { w.set("llama.context_length", std::uint32_t{4096}); })) ==
        4096);
  CHECK(gguf::context_length(file([](gguf::Writer& w) { w.erase("llama.context_length"); })) == 0);
  const auto zero = file([](gguf::Writer& w) { w.set("llama.context_length", std::uint32_t{0}); });
  CHECK_THROWS_WITH_AS(gguf::context_length(zero), doctest::Contains("'llama.context_length' is 0"), Error);
  CHECK_THROWS_WITH_AS(gguf::context_length(file([](gguf::Writer& w) { w.set("llama.context_length", "long"); })),
                       doctest::Contains("'llama.context_length' has type string"), Error);
}
