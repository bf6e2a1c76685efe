#pragma once
// Command-line values of the example tools: a whole decimal number inside the option's range, or a
// skippy::Error that names the option (atoi would turn "5x" into 5 and "abc" into 0 silently); and the
// tools' guarded main.

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <skippy/core/error.hpp>

namespace skippy::examples {

inline long long int_arg(const char* option, const char* text, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  require(end != text && *end == '\0' && errno != ERANGE && v >= lo && v <= hi, option, " needs an integer in [", lo,
          ", ", hi, "], got '", text, "'");
  return v;
}

inline double real_arg(const char* option, const char* text, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  require(end != text && *end == '\0' && errno != ERANGE && std::isfinite(v) && v >= lo && v <= hi, option,
          " needs a number in [", lo, ", ", hi, "], got '", text, "'");
  return v;
}

// A tool's main: the body's exit code, or "program: what" and 1 for an exception (a bad argument, or
// std::bad_alloc for a size the machine cannot hold) instead of std::terminate.
template <class Body>
int guarded_main(const char* program, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace skippy::examples
