#pragma once
// GGUF format facts shared by the reader and the writer: constants, metadata value types, the table of
// ggml tensor types (block size and bytes per block, so any file's sizes can be checked even when its
// types are not supported here), overflow-checked arithmetic, and the metadata Value.
// GGUF is little-endian; this code assumes a little-endian host (x86-64, AArch64).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../quant/types.hpp"

namespace skippy::gguf {

inline constexpr std::uint32_t magic = 0x46554747u;  // the bytes "GGUF" read as a little-endian uint32
inline constexpr std::uint32_t version = 3;           // written; 2 and 3 share the layout and are read
inline constexpr std::uint32_t default_alignment = 32;
inline constexpr std::uint32_t max_dims = 4;
inline constexpr std::size_t max_tensor_name = 63;  // ggml's GGML_MAX_NAME (64) includes the terminator

enum class ValueType : std::uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

inline bool valid_value_type(std::uint32_t t) { return t <= 12; }

inline const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

// Bytes of one scalar of type t; 0 for STRING and ARRAY (variable length).
inline std::size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}

// The C++ type of each scalar value type.
template <class T> struct value_type_of;
template <> struct value_type_of<std::uint8_t> { static constexpr ValueType value = ValueType::UINT8; };
template <> struct value_type_of<std::int8_t> { static constexpr ValueType value = ValueType::INT8; };
template <> struct value_type_of<std::uint16_t> { static constexpr ValueType value = ValueType::UINT16; };
template <> struct value_type_of<std::int16_t> { static constexpr ValueType value = ValueType::INT16; };
template <> struct value_type_of<std::uint32_t> { static constexpr ValueType value = ValueType::UINT32; };
template <> struct value_type_of<std::int32_t> { static constexpr ValueType value = ValueType::INT32; };
template <> struct value_type_of<float> { static constexpr ValueType value = ValueType::FLOAT32; };
template <> struct value_type_of<bool> { static constexpr ValueType value = ValueType::BOOL; };
template <> struct value_type_of<std::uint64_t> { static constexpr ValueType value = ValueType::UINT64; };
template <> struct value_type_of<std::int64_t> { static constexpr ValueType value = ValueType::INT64; };
template <> struct value_type_of<double> { static constexpr ValueType value = ValueType::FLOAT64; };

// ---- ggml tensor types ------------------------------------------------------------------------------

struct TypeTraits {
  const char* name;
  std::uint32_t block_size;  // values per block
  std::uint32_t type_size;   // bytes per block
  bool supported;            // readable by skippy (F32, F16, BF16, Q8_0, Q4_0)
};

// Traits of ggml type id `t`, or nullptr for an id ggml does not define (or has retired).
inline const TypeTraits* type_traits(std::uint32_t t) {
  static const TypeTraits table[] = {
      {"F32", 1, 4, true},        {"F16", 1, 2, true},       {"Q4_0", 32, 18, true},     {"Q4_1", 32, 20, false},
      {nullptr, 0, 0, false},     {nullptr, 0, 0, false},    {"Q5_0", 32, 22, false},    {"Q5_1", 32, 24, false},
      {"Q8_0", 32, 34, true},     {"Q8_1", 32, 36, false},   {"Q2_K", 256, 84, false},   {"Q3_K", 256, 110, false},
      {"Q4_K", 256, 144, false},  {"Q5_K", 256, 176, false}, {"Q6_K", 256, 210, false},  {"Q8_K", 256, 292, false},
      {"IQ2_XXS", 256, 66, false}, {"IQ2_XS", 256, 74, false}, {"IQ3_XXS", 256, 98, false}, {"IQ1_S", 256, 50, false},
      {"IQ4_NL", 32, 18, false},  {"IQ3_S", 256, 110, false}, {"IQ2_S", 256, 82, false},  {"IQ4_XS", 256, 136, false},
      {"I8", 1, 1, false},        {"I16", 1, 2, false},      {"I32", 1, 4, false},       {"I64", 1, 8, false},
      {"F64", 1, 8, false},       {"IQ1_M", 256, 56, false}, {"BF16", 1, 2, true},       {nullptr, 0, 0, false},
      {nullptr, 0, 0, false},     {nullptr, 0, 0, false},    {"TQ1_0", 256, 54, false},  {"TQ2_0", 256, 66, false},
  };
  if (t >= sizeof(table) / sizeof(table[0]) || table[t].name == nullptr) return nullptr;
  return &table[t];
}

inline std::string type_name(std::uint32_t t) {
  const TypeTraits* tr = type_traits(t);
  return tr ? std::string(tr->name) : "unknown type " + std::to_string(t);
}

// ---- overflow-checked arithmetic ----------------------------------------------------------------------

inline bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return true;
  out = a * b;
  return false;
}
inline bool add_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (b > std::numeric_limits<std::uint64_t>::max() - a) return true;
  out = a + b;
  return false;
}
// Rounds x up to a multiple of the power of two `align`; false when that overflows.
inline bool align_up(std::uint64_t x, std::uint64_t align, std::uint64_t& out) {
  std::uint64_t s;
  if (add_overflows(x, align - 1, s)) return false;
  out = s & ~(align - 1);
  return true;
}

// ---- metadata values ----------------------------------------------------------------------------------

// One metadata value: a scalar, a string, or an array of scalars or strings (arrays of arrays are valid
// GGUF but used by no llama model; the reader rejects them as unsupported).
class Value {
 public:
  Value() = default;  // an empty array of uint8

  template <class T>
  static Value scalar(T v) {
    Value x;
    x.type_ = value_type_of<T>::value;
    if constexpr (std::is_same_v<T, bool>) {
      x.raw_.push_back(v ? 1 : 0);
    } else {
      x.raw_.resize(sizeof(T));
      std::memcpy(x.raw_.data(), &v, sizeof(T));
    }
    return x;
  }
  static Value string(std::string s) {
    Value x;
    x.type_ = ValueType::STRING;
    x.str_ = std::move(s);
    return x;
  }
  template <class T>
  static Value array(const std::vector<T>& v) {
    Value x;
    x.type_ = ValueType::ARRAY;
    x.elem_ = value_type_of<T>::value;
    x.count_ = v.size();
    for (const T& e : v) {
      const Value s = scalar<T>(e);
      x.raw_.insert(x.raw_.end(), s.raw_.begin(), s.raw_.end());
    }
    return x;
  }
  static Value string_array(std::vector<std::string> v) {
    Value x;
    x.type_ = ValueType::ARRAY;
    x.elem_ = ValueType::STRING;
    x.count_ = v.size();
    x.strs_ = std::move(v);
    return x;
  }
  // An array of scalars of type `elem` from `count` packed little-endian values (used by the reader).
  static Value raw_array(ValueType elem, std::uint64_t count, const std::uint8_t* p) {
    Value x;
    x.type_ = ValueType::ARRAY;
    x.elem_ = elem;
    x.count_ = count;
    x.raw_.assign(p, p + count * scalar_size(elem));
    return x;
  }
  static Value raw_scalar(ValueType t, const std::uint8_t* p) {
    Value x;
    x.type_ = t;
    x.raw_.assign(p, p + scalar_size(t));
    return x;
  }

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  ValueType array_type() const { return elem_; }  // meaningful for arrays only
  std::uint64_t array_size() const { return count_; }
  std::string type_string() const {
    return is_array() ? std::string("array of ") + value_type_name(elem_) : value_type_name(type_);
  }

  template <class T>
  bool is() const {
    if constexpr (std::is_same_v<T, std::string>) return type_ == ValueType::STRING;
    else return type_ == value_type_of<T>::value;
  }

  // The scalar of exactly type T (std::string for strings); `what` names the key in the error.
  template <class T>
  T as(const std::string& what = "value") const {
    if constexpr (std::is_same_v<T, std::string>) {
      require(type_ == ValueType::STRING, "gguf: ", what, " has type ", type_string(), ", expected string");
      return str_;
    } else {
      require(type_ == value_type_of<T>::value && raw_.size() >= scalar_size(type_), "gguf: ", what, " has type ",
              type_string(), ", expected ", value_type_name(value_type_of<T>::value));
      if constexpr (std::is_same_v<T, bool>) {
        return raw_[0] != 0;
      } else {
        T v;
        std::memcpy(&v, raw_.data(), sizeof(T));
        return v;
      }
    }
  }

  // Any integer scalar as int64 (nullopt for other types and for uint64 values above INT64_MAX).
  std::optional<std::int64_t> as_integer() const {
    switch (type_) {
      case ValueType::UINT8: return as<std::uint8_t>();
      case ValueType::INT8: return as<std::int8_t>();
      case ValueType::UINT16: return as<std::uint16_t>();
      case ValueType::INT16: return as<std::int16_t>();
      case ValueType::UINT32: return as<std::uint32_t>();
      case ValueType::INT32: return as<std::int32_t>();
      case ValueType::INT64: return as<std::int64_t>();
      case ValueType::UINT64: {
        const std::uint64_t u = as<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
        return static_cast<std::int64_t>(u);
      }
      default: return std::nullopt;
    }
  }
  // A float32 or float64 scalar as double.
  std::optional<double> as_real() const {
    if (type_ == ValueType::FLOAT32) return as<float>();
    if (type_ == ValueType::FLOAT64) return as<double>();
    return std::nullopt;
  }

  // The array's elements, which must be of exactly type T (std::string for string arrays).
  template <class T>
  std::vector<T> as_array(const std::string& what = "value") const {
    if constexpr (std::is_same_v<T, std::string>) {
      require(is_array() && elem_ == ValueType::STRING, "gguf: ", what, " has type ", type_string(),
              ", expected array of string");
      return strs_;
    } else {
      const ValueType want = value_type_of<T>::value;
      require(is_array() && elem_ == want, "gguf: ", what, " has type ", type_string(), ", expected array of ",
              value_type_name(want));
      std::vector<T> out(static_cast<std::size_t>(count_));
      for (std::size_t i = 0; i < out.size(); ++i) {
        if constexpr (std::is_same_v<T, bool>) out[i] = raw_[i] != 0;
        else std::memcpy(&out[i], raw_.data() + i * sizeof(T), sizeof(T));
      }
      return out;
    }
  }
  const std::vector<std::string>& strings(const std::string& what = "value") const {
    require(is_array() && elem_ == ValueType::STRING, "gguf: ", what, " has type ", type_string(),
            ", expected array of string");
    return strs_;
  }

  // Appends the serialised value (without the type tag of the outer value) to out.
  void serialize(std::vector<std::uint8_t>& out) const {
    auto put_u32 = [&](std::uint32_t v) { append(out, &v, 4); };
    auto put_u64 = [&](std::uint64_t v) { append(out, &v, 8); };
    auto put_str = [&](const std::string& s) {
      put_u64(s.size());
      append(out, s.data(), s.size());
    };
    switch (type_) {
      case ValueType::STRING: put_str(str_); break;
      case ValueType::ARRAY:
        put_u32(static_cast<std::uint32_t>(elem_));
        put_u64(count_);
        if (elem_ == ValueType::STRING)
          for (const auto& s : strs_) put_str(s);
        else
          append(out, raw_.data(), raw_.size());
        break;
      default: append(out, raw_.data(), raw_.size()); break;
    }
  }

  bool operator==(const Value& o) const {
    return type_ == o.type_ && elem_ == o.elem_ && count_ == o.count_ && raw_ == o.raw_ && str_ == o.str_ &&
           strs_ == o.strs_;
  }
  bool operator!=(const Value& o) const { return !(*this == o); }

 private:
  static void append(std::vector<std::uint8_t>& out, const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }

  ValueType type_ = ValueType::ARRAY;  // default: an empty array of uint8
  ValueType elem_ = ValueType::UINT8;
  std::uint64_t count_ = 0;
  std::vector<std::uint8_t> raw_;  // scalar bytes, or packed array elements
  std::string str_;
  std::vector<std::string> strs_;
};

}  // namespace skippy::gguf
