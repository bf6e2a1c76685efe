#pragma once
// SkipRange<B, E>: the draft pass skips layers B..E-1 (B == E: no skipping).

#include <type_traits>

namespace skippy {

template <int Begin, int End>
struct SkipRange {
  static_assert(Begin >= 0, "SkipRange<B, E>: B must be >= 0");
  static_assert(Begin <= End, "SkipRange<B, E>: B must not exceed E (B == E means no skipping)");
  static constexpr int begin = Begin;
  static constexpr int end = End;
  static constexpr int skipped = End - Begin;
  static constexpr bool empty = Begin == End;
};

using NoSkip = SkipRange<0, 0>;

template <class T>
struct is_skip_range : std::false_type {};
template <int B, int E>
struct is_skip_range<SkipRange<B, E>> : std::true_type {};

// Runtime form of a layer range (the host boundary where policies meet runtime data).
struct LayerRange {
  int begin = 0;
  int end = 0;
  constexpr bool contains(int layer) const { return layer >= begin && layer < end; }
};

template <class Skip>
constexpr LayerRange layer_range() {
  static_assert(is_skip_range<Skip>::value, "expected a SkipRange<B, E>");
  return LayerRange{Skip::begin, Skip::end};
}

}  // namespace skippy
