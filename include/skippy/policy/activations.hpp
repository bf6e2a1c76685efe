#pragma once
// The activations' precision in the weight products: the last, optional policy of host::Decoder,
// cuda::Decoder and both Forward passes.
//   FloatActivations: float activations, the default; every weight type.
//   Int8Activations: each activation vector quantised to 8 bits per 32 values (quant/q8_activations.hpp)
//     before the Q8_0 / Q4_0 weight products, which then take integer dot products (cuda::gemv_q8; the
//     host runs the same arithmetic bit for bit, host::matmul_q8). Fewer instructions per weight on the
//     GPU, for an error of at most amax / 254 per block of activations. Greedy S3D still emits exactly the
//     tokens of greedy AR (a row's bits do not depend on the block it is in).
// CUDA prefill blocks (tensor cores) read float activations under either policy.

#include <type_traits>

#include "../quant/types.hpp"

namespace skippy {

struct FloatActivations {
  static constexpr const char* name = "float";
};
struct Int8Activations {
  static constexpr const char* name = "int8";
};

template <class T>
struct is_activations : std::false_type {};
template <>
struct is_activations<FloatActivations> : std::true_type {};
template <>
struct is_activations<Int8Activations> : std::true_type {};

// Whether weight type Q supports activation policy A.
template <class A, class Q>
inline constexpr bool activations_support_v =
    std::is_same_v<A, FloatActivations> ||
    (std::is_same_v<A, Int8Activations> && quant::is_int_blocks_v<Q>);

// The checks every user of the policy (host and CUDA forward passes, both decoders) makes, written once.
template <class A, class Q>
struct CheckActivations {
  static_assert(is_activations<A>::value, "Activations must be FloatActivations or Int8Activations");
  static_assert(activations_support_v<A, Q>, "Int8Activations: 8-bit activations serve Q8_0 and Q4_0 weights only");
  static constexpr bool ok = true;
};

}  // namespace skippy
