#pragma once
// Command-line values of the example tools: a whole decimal number inside the option's range, or a
// skippy::Error that names the option (atoi would turn "5x" into 5 and "abc" into 0 silently); and the
// tools' guarded main.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <skippy/core/error.hpp>
#include <string>

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

// Checks, before a long run, that `path` (an option's output file) can be written: the file if it exists,
// else its directory. Nothing is created or truncated, so a run that fails later leaves an old file as it was.
inline void require_writable(const char* option, const std::string& path) {
  require(!path.empty(), option, " needs a file name");
  // The plots' scripts quote paths as gnuplot strings (plot.hpp), where a newline would end the line.
  for (const char ch : path)
    require(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f, option, " names a file with a control character",
            " (code ", static_cast<int>(static_cast<unsigned char>(ch)), "): use a plain name");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    require(S_ISREG(st.st_mode), option, " ", path, " is not a regular file");
    const bool ok = ::access(path.c_str(), W_OK) == 0;
    const int e = errno;  // read before the message: require's arguments are evaluated in no set order
    require(ok, "cannot write ", option, " file ", path, ": ", std::strerror(e));
    return;
  }
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const bool ok = ::access(dir.c_str(), W_OK) == 0;
  const int e = errno;
  require(ok, "cannot write ", option, " file ", path, ": directory ", dir, ": ", std::strerror(e));
}

// The whole of a regular file named by an option.
inline std::string read_text_file(const char* option, const std::string& path) {
  struct stat st {};
  const bool found = ::stat(path.c_str(), &st) == 0;
  const int e = errno;  // read before the message: require's arguments are evaluated in no set order
  require(found, "cannot open ", option, " file ", path, ": ", std::strerror(e));
  require(S_ISREG(st.st_mode), option, " ", path, " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot open ", option, " file ", path);
  std::string s{std::istreambuf_iterator<char>(in), {}};
  require(!in.bad(), "cannot read ", option, " file ", path);
  return s;
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
