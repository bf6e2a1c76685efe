#pragma once
// The one exception type of the library: every rejected input names what is wrong.

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

}  // namespace skippy
