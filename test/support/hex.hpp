#pragma once
// A bit pattern as 0x%08x, for the conversion tests' failure messages.

#include <cstdint>
#include <cstdio>
#include <string>

namespace skippy::test {

inline std::string hex(std::uint32_t u) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(u));
  return buf;
}

}  // namespace skippy::test
