#pragma once
// GGUF reader: parses a file (memory-mapped, read-only) or an in-memory buffer into its header, metadata
// and tensor infos. Every count, size and offset is checked for overflow and against the buffer size
// before it is used, so malformed input gives a skippy::Error naming the key or tensor and what is
// wrong, and nothing is read out of bounds. Tensor data is never copied: TensorInfo::data points into
// the mapping, valid while the File lives (moving a File keeps the pointers valid).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "format.hpp"

namespace skippy::gguf {

struct TensorInfo {
  std::string name;
  std::vector<std::uint64_t> dims;  // innermost first: a row-major [rows][cols] matrix has dims (cols, rows)
  std::uint32_t type = 0;           // ggml type id
  std::uint64_t offset = 0;         // from the start of the data section
  std::uint64_t n_elements = 0;
  std::uint64_t n_bytes = 0;
  const std::uint8_t* data = nullptr;

  std::string type_name() const { return gguf::type_name(type); }
  std::string shape() const {
    std::string s = "(";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + ")";
  }
};

class File {
 public:
  // Counts past these are refused before parsing (see parse()): generous for any model file.
  static constexpr std::uint64_t max_metadata = 1u << 16, max_tensors = 1u << 20;
  // Strings in all metadata arrays together (llama 3's vocabulary and merges: about 408k).
  static constexpr std::uint64_t max_strings = 1u << 22;
  // GGUF's bound on a key's length.
  static constexpr std::uint64_t max_key = (1u << 16) - 1;

  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  File(File&& o) noexcept { *this = std::move(o); }
  File& operator=(File&& o) noexcept {
    if (this != &o) {
      unmap();
      map_ = std::exchange(o.map_, nullptr);
      map_size_ = std::exchange(o.map_size_, 0);
      buffer_ = std::move(o.buffer_);
      base_ = std::exchange(o.base_, nullptr);
      size_ = std::exchange(o.size_, 0);
      version_ = o.version_;
      alignment_ = o.alignment_;
      data_offset_ = o.data_offset_;
      metadata_ = std::move(o.metadata_);
      key_index_ = std::move(o.key_index_);
      tensors_ = std::move(o.tensors_);
      tensor_index_ = std::move(o.tensor_index_);
    }
    return *this;
  }
  ~File() { unmap(); }

  // Memory-maps and parses the file at `path`.
  static File open(const std::string& path) {
    File f;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are mapped.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    require(fd >= 0, "gguf: cannot open '", path, "': ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      detail::fail("gguf: cannot stat '", path, "': ", std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      detail::fail("gguf: '", path, "' is not a regular file");
    }
    const std::size_t n = static_cast<std::size_t>(st.st_size);
    if (n > 0) {
      void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
      const int e = errno;
      ::close(fd);
      require(p != MAP_FAILED, "gguf: cannot map '", path, "': ", std::strerror(e));
      f.map_ = p;
      f.map_size_ = n;
      f.base_ = static_cast<const std::uint8_t*>(p);
      f.size_ = n;
    } else {
      ::close(fd);
    }
    f.parse();
    return f;
  }

  // Parses a copy of `size` bytes (the copy is suitably aligned for the weight types).
  static File from_memory(const void* bytes, std::size_t size) {
    File f;
    f.buffer_.resize((size + 7) / 8);
    if (size > 0) std::memcpy(f.buffer_.data(), bytes, size);
    f.base_ = reinterpret_cast<const std::uint8_t*>(f.buffer_.data());
    f.size_ = size;
    f.parse();
    return f;
  }
  static File from_memory(const std::vector<std::uint8_t>& bytes) { return from_memory(bytes.data(), bytes.size()); }

  std::uint32_t version() const { return version_; }
  std::uint32_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }
  std::size_t size() const { return size_; }
  const std::uint8_t* bytes() const { return base_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  bool has(const std::string& key) const { return key_index_.count(key) != 0; }
  const Value* find(const std::string& key) const {
    const auto it = key_index_.find(key);
    return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
  }
  const Value& value(const std::string& key) const {
    const Value* v = find(key);
    require(v != nullptr, "gguf: missing metadata key '", key, "'");
    return *v;
  }
  // The scalar of exactly type T (std::string for strings); throws naming the key when absent or mistyped.
  template <class T>
  T get(const std::string& key) const {
    return value(key).as<T>("metadata key '" + key + "'");
  }
  template <class T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }
  template <class T>
  std::vector<T> get_array(const std::string& key) const {
    return value(key).as_array<T>("metadata key '" + key + "'");
  }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }
  const TensorInfo& tensor(const std::string& name) const {
    const TensorInfo* t = find_tensor(name);
    require(t != nullptr, "gguf: missing required tensor '", name, "'");
    return *t;
  }

 private:
  static constexpr std::uint64_t reserve_cap = 4096;

  // Bounds-checked sequential reads over [base_, base_ + size_).
  struct Cursor {
    const std::uint8_t* base;
    std::uint64_t size;
    std::uint64_t pos = 0;

    std::uint64_t remaining() const { return size - pos; }
    const std::uint8_t* take(std::uint64_t n, const std::string& what) {
      require(n <= remaining(), "gguf: truncated file: ", what, " needs ", n, " bytes at offset ", pos, ", only ",
              remaining(), " remain");
      const std::uint8_t* p = base + pos;
      pos += n;
      return p;
    }
    template <class T>
    T read(const std::string& what) {
      T v;
      std::memcpy(&v, take(sizeof(T), what), sizeof(T));
      return v;
    }
    // A length-prefixed string of at most max_size bytes (`limit` names that bound in the error), checked
    // before anything is copied: a forged length costs neither memory nor time.
    std::string string(const std::string& what, std::uint64_t max_size = ~std::uint64_t{0}, const char* limit = "") {
      const auto n = read<std::uint64_t>(what + " (string length)");
      if (n > max_size && n <= remaining())
        detail::fail("gguf: ", what, " '", clip(base + pos, n), "' is ", n, " bytes, longer than ", limit, " (",
                     max_size, ")");
      const std::uint8_t* p = take(n, what + " (string of " + std::to_string(n) + " bytes)");
      return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    // The next string when it lies inside the buffer (else nothing is consumed and string() names the
    // error): an array's elements are read without building a message for each.
    bool try_string(std::string& out) {
      std::uint64_t n = 0;
      if (remaining() < sizeof n) return false;
      std::memcpy(&n, base + pos, sizeof n);
      if (n > remaining() - sizeof n) return false;
      out.assign(reinterpret_cast<const char*>(base + pos + sizeof n), static_cast<std::size_t>(n));
      pos += sizeof n + n;
      return true;
    }
  };

  // A name for an error message: at most 64 of its bytes, so that a long forged key does not make every
  // message built from it long, and bytes outside printable ASCII as \xNN.
  static std::string clip(const std::uint8_t* p, std::uint64_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(n, 64); ++i) {
      if (p[i] >= 0x20 && p[i] < 0x7f) {
        s += static_cast<char>(p[i]);
      } else {
        s += "\\x";
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
      }
    }
    return n > 64 ? s + "..." : s;
  }
  static std::string clip(const std::string& s) {
    return clip(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }

  void parse() {
    Cursor c{base_, size_};
    const auto m = c.read<std::uint32_t>("magic");
    require(m == magic, "gguf: bad magic 0x", hex(m), " (expected \"GGUF\")");
    version_ = c.read<std::uint32_t>("version");
    require(version_ == 2 || version_ == 3, "gguf: unsupported version ", version_, " (supported: 3, and 2 which shares its layout)");
    const auto n_tensors = c.read<std::uint64_t>("tensor count");
    const auto n_kv = c.read<std::uint64_t>("metadata count");
    // Smallest encodings: a key/value is an 8-byte key length, a 4-byte type and a 1-byte value; a tensor
    // info is an 8-byte name length, n_dims, one 8-byte dim, type and offset.
    require(n_kv <= c.remaining() / 13, "gguf: truncated file: metadata count ", n_kv, " cannot fit in the ", c.remaining(),
            " bytes that remain");
    // And by what a model file holds (the tensor count likewise, below): parsed entries take several times
    // their bytes in memory (a forged file of 4M one-byte entries, 80 MiB, took ~870 MiB and 12 s), and real
    // files hold tens of keys and thousands of tensors.
    require(n_kv <= max_metadata, "gguf: metadata count ", n_kv, " is more than a model file holds (", max_metadata,
            ")");
    // Counts are bounded by the bytes left, but an entry in memory is several times its smallest encoding:
    // reserve a little and let the vectors grow as entries actually parse.
    metadata_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n_kv, reserve_cap)));
    for (std::uint64_t i = 0; i < n_kv; ++i) {
      const std::string where = "metadata entry " + std::to_string(i);
      std::string key = c.string(where + " key", max_key, "GGUF's limit for keys");
      require(!key.empty(), "gguf: ", where, " has an empty key");
      require(!has(key), "gguf: duplicate metadata key '", clip(key), "'");
      const std::string what = "metadata key '" + clip(key) + "'";
      const auto t = c.read<std::uint32_t>(what + " type");
      require(valid_value_type(t), "gguf: ", what, " has unknown value type ", t);
      Value v = parse_value(c, static_cast<ValueType>(t), what);
      key_index_.emplace(key, metadata_.size());
      metadata_.emplace_back(std::move(key), std::move(v));
    }

    alignment_ = default_alignment;
    if (const Value* a = find("general.alignment")) {
      alignment_ = a->as<std::uint32_t>("metadata key 'general.alignment'");
      require(alignment_ != 0 && (alignment_ & (alignment_ - 1)) == 0,
              "gguf: metadata key 'general.alignment' is ", alignment_, ", not a power of two");
    }

    require(n_tensors <= c.remaining() / 32, "gguf: truncated file: tensor count ", n_tensors, " cannot fit in the ", c.remaining(),
            " bytes that remain");
    require(n_tensors <= max_tensors, "gguf: tensor count ", n_tensors, " is more than a model file holds (",
            max_tensors, ")");
    tensors_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n_tensors, reserve_cap)));
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
      TensorInfo ti;
      ti.name = c.string("tensor info " + std::to_string(i) + " name", max_tensor_name, "ggml's limit for names");
      require(!ti.name.empty(), "gguf: tensor info ", i, " has an empty name");
      require(tensor_index_.count(ti.name) == 0, "gguf: duplicate tensor '", ti.name, "'");
      const std::string what = "tensor '" + ti.name + "'";
      const auto n_dims = c.read<std::uint32_t>(what + " n_dims");
      require(n_dims >= 1 && n_dims <= max_dims, "gguf: ", what, " has ", n_dims, " dimensions (1..", max_dims,
              " allowed)");
      ti.n_elements = 1;
      for (std::uint32_t d = 0; d < n_dims; ++d) {
        const auto n = c.read<std::uint64_t>(what + " dimension " + std::to_string(d));
        require(n > 0, "gguf: ", what, " has an empty dimension ", d);
        ti.dims.push_back(n);
        require(!mul_overflows(ti.n_elements, n, ti.n_elements) &&
                    ti.n_elements <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                "gguf: ", what, " element count overflows at dimension ", d, " (", n, ")");
      }
      ti.type = c.read<std::uint32_t>(what + " type");
      const TypeTraits* tr = type_traits(ti.type);
      require(tr != nullptr, "gguf: ", what, " has unknown tensor type ", ti.type);
      require(ti.dims[0] % tr->block_size == 0, "gguf: ", what, " has type ", tr->name, " whose block size ",
              tr->block_size, " does not divide its first dimension ", ti.dims[0]);
      require(!mul_overflows(ti.n_elements / tr->block_size, tr->type_size, ti.n_bytes), "gguf: ", what,
              " byte size overflows");
      ti.offset = c.read<std::uint64_t>(what + " offset");
      require(ti.offset % alignment_ == 0, "gguf: ", what, " data offset ", ti.offset, " is misaligned (alignment ",
              alignment_, ")");
      tensor_index_.emplace(ti.name, tensors_.size());
      tensors_.push_back(std::move(ti));
    }

    std::uint64_t data = 0;
    require(align_up(c.pos, alignment_, data), "gguf: data section offset overflows");
    data_offset_ = data;
    const std::uint64_t avail = data_offset_ <= size_ ? size_ - data_offset_ : 0;
    for (TensorInfo& ti : tensors_) {
      std::uint64_t end = 0;
      require(!add_overflows(ti.offset, ti.n_bytes, end) && end <= avail, "gguf: truncated file: tensor '", ti.name,
              "' data [", ti.offset, ", +", ti.n_bytes, ") lies beyond the end of the data section (",
              avail, " bytes at offset ", data_offset_, ")");
      ti.data = ti.n_bytes > 0 ? base_ + data_offset_ + ti.offset : nullptr;
    }
    // Tensor data regions must not overlap.
    std::vector<const TensorInfo*> order;
    for (const TensorInfo& ti : tensors_)
      if (ti.n_bytes > 0) order.push_back(&ti);
    std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < order.size(); ++i)
      require(order[i - 1]->offset + order[i - 1]->n_bytes <= order[i]->offset, "gguf: tensor '", order[i]->name,
              "' data at offset ", order[i]->offset, " overlaps tensor '", order[i - 1]->name, "' [",
              order[i - 1]->offset, ", +", order[i - 1]->n_bytes, ")");
  }

  Value parse_value(Cursor& c, ValueType t, const std::string& what) {
    if (t == ValueType::STRING) return Value::string(c.string(what));
    if (t != ValueType::ARRAY) return Value::raw_scalar(t, c.take(scalar_size(t), what));
    const auto et = c.read<std::uint32_t>(what + " array element type");
    require(valid_value_type(et), "gguf: ", what, " is an array of unknown value type ", et);
    const auto elem = static_cast<ValueType>(et);
    require(elem != ValueType::ARRAY, "gguf: ", what, " is an array of arrays, which is not supported");
    const auto n = c.read<std::uint64_t>(what + " array length");
    if (elem == ValueType::STRING) {
      require(n <= c.remaining() / 8, "gguf: truncated file: ", what, " array of ", n, " strings cannot fit in the ", c.remaining(),
              " bytes that remain");
      // A string takes several times its 8 bytes of length in memory (10M empty strings, 76 MiB, took 580
      // MiB), and real files hold a vocabulary and its merges, well under a million.
      require(n <= max_strings - strings_, "gguf: ", what, " array of ", n, " strings takes the file past ",
              max_strings, " strings in its metadata (", strings_, " before it), more than a model file holds");
      strings_ += n;
      std::vector<std::string> v;
      v.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, reserve_cap)));
      for (std::uint64_t i = 0; i < n; ++i) {
        v.emplace_back();
        if (!c.try_string(v.back())) v.back() = c.string(what + " element " + std::to_string(i));
      }
      return Value::string_array(std::move(v));
    }
    const std::size_t es = scalar_size(elem);
    require(n <= c.remaining() / es, "gguf: truncated file: ", what, " array of ", n, " ", value_type_name(elem),
            " values needs more than the ", c.remaining(), " bytes that remain");
    return Value::raw_array(elem, n, c.take(n * es, what));
  }

  static std::string hex(std::uint32_t v) {
    static const char* digits = "0123456789abcdef";
    std::string s(8, '0');
    for (int i = 7; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 15];
    return s;
  }

  void unmap() {
    if (map_ != nullptr) ::munmap(map_, map_size_);
    map_ = nullptr;
  }

  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::vector<std::uint64_t> buffer_;  // owned copy for from_memory (8-byte aligned)
  const std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = default_alignment;
  std::uint64_t data_offset_ = 0;
  std::uint64_t strings_ = 0;  // strings parsed in metadata arrays so far
  std::vector<std::pair<std::string, Value>> metadata_;
  std::unordered_map<std::string, std::size_t> key_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, std::size_t> tensor_index_;
};

}  // namespace skippy::gguf
