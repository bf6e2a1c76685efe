#pragma once
// Weight storage types (the quantization policy). Each type names its block layout, bit-compatible
// with ggml: a row of `cols` values is `cols / block_size` consecutive blocks.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../core/fp8.hpp"
#include "../core/half.hpp"

namespace skippy::quant {

inline constexpr int qk = 32;  // values per Q8_0 / Q4_0 block, as in ggml

struct block_q8_0 {
  half_t d;           // scale
  std::int8_t qs[qk];  // value = d * qs[i]
};

struct block_q4_0 {
  half_t d;                // scale
  std::uint8_t qs[qk / 2];  // value = d * (nibble - 8); low nibbles are elements 0..15, high 16..31
};

static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must be 34 bytes to match ggml");
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must be 18 bytes to match ggml");
static_assert(alignof(block_q8_0) == 2 && alignof(block_q4_0) == 2, "quant blocks must be 2-byte aligned like ggml");

// The ggml type ids (ggml_type), used by model files.
enum class GgmlType : std::uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 };

struct F32 {
  using block = float;
  static constexpr int block_size = 1;
  static constexpr GgmlType ggml_type = GgmlType::F32;
  static constexpr const char* name = "F32";
};
struct F16 {
  using block = half_t;
  static constexpr int block_size = 1;
  static constexpr GgmlType ggml_type = GgmlType::F16;
  static constexpr const char* name = "F16";
};
struct BF16 {
  using block = bf16_t;
  static constexpr int block_size = 1;
  static constexpr GgmlType ggml_type = GgmlType::BF16;
  static constexpr const char* name = "BF16";
};
// FP8 E4M3 values (core/fp8.hpp), one per byte, without a scale: ggml has no such type, so a model file
// cannot hold it (has_ggml_type_v); load_host_model<F8_E4M3> and HostModel<F8_E4M3>::from_float convert.
struct F8_E4M3 {
  using block = fp8_e4m3_t;
  static constexpr int block_size = 1;
  static constexpr const char* name = "F8_E4M3";
};
struct Q8_0 {
  using block = block_q8_0;
  static constexpr int block_size = qk;
  static constexpr GgmlType ggml_type = GgmlType::Q8_0;
  static constexpr const char* name = "Q8_0";
};
struct Q4_0 {
  using block = block_q4_0;
  static constexpr int block_size = qk;
  static constexpr GgmlType ggml_type = GgmlType::Q4_0;
  static constexpr const char* name = "Q4_0";
};

template <class T>
struct is_quant : std::false_type {};
template <>
struct is_quant<F32> : std::true_type {};
template <>
struct is_quant<F16> : std::true_type {};
template <>
struct is_quant<BF16> : std::true_type {};
template <>
struct is_quant<F8_E4M3> : std::true_type {};
template <>
struct is_quant<Q8_0> : std::true_type {};
template <>
struct is_quant<Q4_0> : std::true_type {};
template <class T>
inline constexpr bool is_quant_v = is_quant<T>::value;

// Whether Q has a ggml type id (Q::ggml_type), so that a GGUF file can hold it.
template <class Q>
inline constexpr bool has_ggml_type_v = !std::is_same_v<Q, F8_E4M3>;

// The block types of small integers times one half scale per 32 values (Q8_0, Q4_0): the ones the 8-bit
// activation kernels, the packed device layout and the 2-byte block loads of the weight kernel serve.
template <class Q>
inline constexpr bool is_int_blocks_v = std::is_same_v<Q, Q8_0> || std::is_same_v<Q, Q4_0>;

// Bytes of one row of `cols` values (cols must be a multiple of Q::block_size).
template <class Q>
constexpr std::size_t row_bytes(std::size_t cols) {
  static_assert(is_quant_v<Q>, "row_bytes<Q>: Q must be one of quant::F32, F16, BF16, F8_E4M3, Q8_0, Q4_0");
  return cols / Q::block_size * sizeof(typename Q::block);
}

}  // namespace skippy::quant
