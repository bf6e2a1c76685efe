#pragma once
// The one exception type of the library: every rejected input names what is wrong.

#include <cfloat>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace skippy {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  os << "skippy: ";
  (os << ... << parts);
  throw Error(os.str());
}
}  // namespace detail

// Throws skippy::Error with the concatenated message when `ok` is false.
template <class... Parts>
inline void require(bool ok, const Parts&... parts) {
  if (!ok) detail::fail(parts...);
}

// A double read from a file, as the float the library computes with: a value outside float's range would
// make the conversion undefined behaviour, so it is an error naming what was read. NaN and infinities pass
// (float holds them) for the caller's own checks to name.
template <class... What>
inline float to_float(double v, const What&... what) {
  require(std::isinf(v) || !(std::fabs(v) > static_cast<double>(FLT_MAX)), what..., " = ", v,
          " is outside float's range");
  return static_cast<float>(v);
}

}  // namespace skippy
