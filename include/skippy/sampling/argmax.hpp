#pragma once
// Argmax with ties broken to the lowest id (everywhere in the library).

#include "../core/config.hpp"

namespace skippy::sampling {

SKIPPY_HD_INLINE int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

}  // namespace skippy::sampling
