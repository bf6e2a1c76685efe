#pragma once
// Runtime choices become types at one boundary: each list names the instantiations an example offers,
// and `dispatch` calls the callback with a tag of the first type whose predicate holds.

#include <skippy/skippy.hpp>

#include <string>

namespace skippy::examples {

template <class T>
struct Tag {
  using type = T;
};

template <class... Ts>
struct TypeList {};

// Calls f(Tag<T>{}) for the first T in the list with match(Tag<T>{}); false when none matches.
template <class... Ts, class Match, class F>
bool dispatch(TypeList<Ts...>, Match&& match, F&& f) {
  return ((match(Tag<Ts>{}) ? (f(Tag<Ts>{}), true) : false) || ...);
}

// The command-line spelling of a storage type: "f16", "q8_0", ...
template <class Q>
std::string option_name() {
  std::string s = Q::name;
  for (char& ch : s) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  return s;
}

}  // namespace skippy::examples
