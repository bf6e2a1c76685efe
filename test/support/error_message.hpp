#pragma once
// What the error tests compare: the message of the skippy::Error a call throws.

#include <skippy/core/error.hpp>

#include <string>

namespace skippy::test {

// The message of the skippy::Error fn throws, "" if it throws none (any other exception propagates).
template <class F>
std::string error_message(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace skippy::test
