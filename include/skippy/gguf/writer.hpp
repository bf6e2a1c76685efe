#pragma once
// GGUF v3 writer: metadata of every value type (arrays included) and tensors of any ggml type whose
// size the format table knows, laid out in order, each padded to the alignment (general.alignment,
// default 32), as llama.cpp expects. Tensor data is borrowed (the pointer must outlive write()), copied,
// or produced on demand by a fill function, so large files can be streamed one tensor at a time.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "format.hpp"

namespace skippy::gguf {

class Writer {
 public:
  // fill(dst) writes the tensor's n_bytes into dst.
  using Fill = std::function<void(std::uint8_t* dst)>;
  // progress(done_bytes, total_bytes, tensor_name) after each tensor.
  using Progress = std::function<void(std::uint64_t, std::uint64_t, const std::string&)>;

  explicit Writer(std::uint32_t alignment = default_alignment) : alignment_(alignment) {
    require(alignment != 0 && (alignment & (alignment - 1)) == 0, "gguf writer: alignment ", alignment,
            " is not a power of two");
    if (alignment != default_alignment) set("general.alignment", alignment);
  }

  std::uint32_t alignment() const { return alignment_; }

  // Sets a key (replacing an existing value in place, so order is kept).
  void set_value(const std::string& key, Value v) {
    require(!key.empty(), "gguf writer: empty metadata key");
    require(key != "general.alignment" || (v.is<std::uint32_t>() && v.as<std::uint32_t>() == alignment_),
            "gguf writer: general.alignment is fixed by the Writer's constructor");
    const auto it = index_.find(key);
    if (it != index_.end()) {
      metadata_[it->second].second = std::move(v);
      return;
    }
    index_.emplace(key, metadata_.size());
    metadata_.emplace_back(key, std::move(v));
  }
  template <class T>
  void set(const std::string& key, T v) {
    set_value(key, Value::scalar<T>(v));
  }
  void set(const std::string& key, const std::string& s) { set_value(key, Value::string(s)); }
  void set(const std::string& key, const char* s) { set_value(key, Value::string(s)); }
  template <class T>
  void set_array(const std::string& key, const std::vector<T>& v) {
    if constexpr (std::is_same_v<T, std::string>) set_value(key, Value::string_array(v));
    else set_value(key, Value::array(v));
  }
  bool has(const std::string& key) const { return index_.count(key) != 0; }
  void erase(const std::string& key) {
    require(key != "general.alignment" || alignment_ == default_alignment,
            "gguf writer: general.alignment is fixed by the Writer's constructor");
    const auto it = index_.find(key);
    if (it == index_.end()) return;
    metadata_.erase(metadata_.begin() + static_cast<std::ptrdiff_t>(it->second));
    index_.clear();
    for (std::size_t i = 0; i < metadata_.size(); ++i) index_.emplace(metadata_[i].first, i);
  }

  // Tensor of ggml type `type` with dims innermost first; data borrowed until write() returns.
  void add_tensor(const std::string& name, std::uint32_t type, std::vector<std::uint64_t> dims, const void* data) {
    const std::uint64_t n = check_tensor(name, type, dims);
    const auto* p = static_cast<const std::uint8_t*>(data);
    require(p != nullptr || n == 0, "gguf writer: tensor '", name, "' has no data");
    push(name, type, std::move(dims), n, [p, n](std::uint8_t* dst) {
      if (n > 0) std::memcpy(dst, p, static_cast<std::size_t>(n));
    });
  }
  void add_tensor(const std::string& name, quant::GgmlType type, std::vector<std::uint64_t> dims, const void* data) {
    add_tensor(name, static_cast<std::uint32_t>(type), std::move(dims), data);
  }
  // As add_tensor, with the bytes copied now.
  void add_tensor_copy(const std::string& name, std::uint32_t type, std::vector<std::uint64_t> dims, const void* data) {
    const std::uint64_t n = check_tensor(name, type, dims);
    const auto* p = static_cast<const std::uint8_t*>(data);
    require(p != nullptr || n == 0, "gguf writer: tensor '", name, "' has no data");
    auto copy = std::make_shared<std::vector<std::uint8_t>>(p, p + n);
    push(name, type, std::move(dims), n, [copy](std::uint8_t* dst) {
      if (!copy->empty()) std::memcpy(dst, copy->data(), copy->size());
    });
  }
  // Tensor whose bytes `fill` produces during write().
  void add_tensor_fill(const std::string& name, std::uint32_t type, std::vector<std::uint64_t> dims, Fill fill) {
    const std::uint64_t n = check_tensor(name, type, dims);
    push(name, type, std::move(dims), n, std::move(fill));
  }

  std::size_t tensor_count() const { return tensors_.size(); }

  void write(std::ostream& os, const Progress& progress = {}) const {
    std::vector<std::uint8_t> head;
    auto put = [&](const void* p, std::size_t n) {
      const auto* b = static_cast<const std::uint8_t*>(p);
      head.insert(head.end(), b, b + n);
    };
    auto put_u32 = [&](std::uint32_t v) { put(&v, 4); };
    auto put_u64 = [&](std::uint64_t v) { put(&v, 8); };
    auto put_str = [&](const std::string& s) {
      put_u64(s.size());
      put(s.data(), s.size());
    };
    put_u32(magic);
    put_u32(version);
    put_u64(tensors_.size());
    put_u64(metadata_.size());
    for (const auto& kv : metadata_) {
      put_str(kv.first);
      put_u32(static_cast<std::uint32_t>(kv.second.type()));
      kv.second.serialize(head);
    }
    std::uint64_t offset = 0, total = 0;
    for (const Tensor& t : tensors_) {
      put_str(t.name);
      put_u32(static_cast<std::uint32_t>(t.dims.size()));
      for (std::uint64_t d : t.dims) put_u64(d);
      put_u32(t.type);
      put_u64(offset);
      offset = padded(offset + t.n_bytes);
      total += t.n_bytes;
    }
    head.resize(static_cast<std::size_t>(padded(head.size())), 0);
    os.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
    std::vector<std::uint8_t> buf;
    std::uint64_t done = 0;
    for (const Tensor& t : tensors_) {
      const std::uint64_t padded_size = padded(t.n_bytes);
      buf.assign(static_cast<std::size_t>(padded_size), 0);
      t.fill(buf.data());
      os.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
      done += t.n_bytes;
      if (progress) progress(done, total, t.name);
    }
    require(static_cast<bool>(os), "gguf writer: the output stream failed");
  }

  std::vector<std::uint8_t> bytes() const {
    std::ostringstream os(std::ios::binary);
    write(os);
    const std::string s = os.str();
    return std::vector<std::uint8_t>(s.begin(), s.end());
  }

  // Writes `path + ".partial"`, then renames it over `path`: fill functions may read a memory-mapped
  // `path` (re-quantising a file in place), and a failed write never leaves a truncated model behind.
  void write_file(const std::string& path, const Progress& progress = {}) const {
    const std::string partial = path + ".partial";
    {
      std::ofstream os(partial, std::ios::binary | std::ios::trunc);
      require(static_cast<bool>(os), "gguf writer: cannot create '", partial, "'");
      try {
        write(os, progress);
        os.close();
      } catch (...) {
        std::remove(partial.c_str());
        throw;
      }
      if (os.fail()) {
        std::remove(partial.c_str());
        detail::fail("gguf writer: writing '", partial, "' failed");
      }
    }
    if (std::rename(partial.c_str(), path.c_str()) != 0) {
      const int e = errno;
      std::remove(partial.c_str());
      detail::fail("gguf writer: cannot rename '", partial, "' to '", path, "': ", std::strerror(e));
    }
  }

 private:
  struct Tensor {
    std::string name;
    std::uint32_t type;
    std::vector<std::uint64_t> dims;
    std::uint64_t n_bytes;
    Fill fill;
  };

  std::uint64_t padded(std::uint64_t n) const { return (n + alignment_ - 1) & ~static_cast<std::uint64_t>(alignment_ - 1); }

  std::uint64_t check_tensor(const std::string& name, std::uint32_t type, const std::vector<std::uint64_t>& dims) const {
    require(!name.empty() && name.size() <= max_tensor_name, "gguf writer: tensor name '", name, "' must be 1..",
            max_tensor_name, " bytes");
    require(tensor_index_.count(name) == 0, "gguf writer: duplicate tensor '", name, "'");
    const TypeTraits* tr = type_traits(type);
    require(tr != nullptr, "gguf writer: tensor '", name, "' has unknown type ", type);
    require(!dims.empty() && dims.size() <= max_dims, "gguf writer: tensor '", name, "' has ", dims.size(),
            " dimensions (1..", max_dims, " allowed)");
    require(dims[0] % tr->block_size == 0, "gguf writer: tensor '", name, "' first dimension ", dims[0],
            " is not a multiple of the ", tr->name, " block size ", tr->block_size);
    std::uint64_t n = 1;
    for (std::uint64_t d : dims) {
      require(d > 0, "gguf writer: tensor '", name, "' has an empty dimension");
      require(!mul_overflows(n, d, n), "gguf writer: tensor '", name, "' is too large");
    }
    std::uint64_t bytes = 0;
    require(!mul_overflows(n / tr->block_size, tr->type_size, bytes), "gguf writer: tensor '", name, "' is too large");
    return bytes;
  }

  void push(const std::string& name, std::uint32_t type, std::vector<std::uint64_t> dims, std::uint64_t n, Fill fill) {
    tensor_index_.emplace(name, tensors_.size());
    tensors_.push_back(Tensor{name, type, std::move(dims), n, std::move(fill)});
  }

  std::uint32_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, std::size_t> tensor_index_;
};

}  // namespace skippy::gguf
