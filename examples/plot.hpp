#pragma once
// gnuplot for the examples' plots without a shell: the commands go into a script file whose paths are
// gnuplot string literals, and gnuplot runs by fork/exec with the script as its one argument, so an output
// path is data wherever it comes from (a path with $(...) or quotes was run by the shell before).

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace skippy::examples {

// s as a gnuplot single-quoted string: nothing is special inside one but the quote, which is doubled. A
// newline cannot be quoted: the tools refuse output paths with control characters (require_writable).
inline std::string gnuplot_string(const std::string& s) {
  std::string r = "'";
  for (char ch : s) {
    r += ch;
    if (ch == '\'') r += '\'';
  }
  return r + "'";
}

// The path without its extension; only a dot after the last '/' starts one ("../out/sweep" has none).
inline std::string path_stem(const std::string& path) {
  const auto dot = path.rfind('.'), slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path;
  return path.substr(0, dot);
}

// Whether an executable gnuplot is on PATH.
inline bool have_gnuplot() {
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "";
  for (std::size_t at = 0; at <= path.size();) {
    const std::size_t end = path.find(':', at) == std::string::npos ? path.size() : path.find(':', at);
    const std::string dir = end > at ? path.substr(at, end - at) : ".";
    if (access((dir + "/gnuplot").c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

// Runs `gnuplot script` (no shell); true when it exits with status 0.
inline bool run_gnuplot(const std::string& script) {
  std::fflush(nullptr);  // the child must not repeat buffered output
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace skippy::examples
