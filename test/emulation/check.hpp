#pragma once
// What the emulated checks share: failure counting with a message, and 64-byte aligned host buffers
// (cudaMalloc's alignment at least, as the kernels' alignment checks expect).

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace skippy::emulation {
inline int failures = 0;
inline void expect(bool ok, const char* what, const char* where) {
  if (ok) return;
  ++failures;
  std::printf("FAILED: %s (%s)\n", what, where);
}
struct Free {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
std::unique_ptr<T[], Free> aligned(std::size_t n) {
  return std::unique_ptr<T[], Free>(static_cast<T*>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64 + 64)));
}
}  // namespace skippy::emulation

#define EXPECT(cond, where) ::skippy::emulation::expect((cond), #cond, where)
