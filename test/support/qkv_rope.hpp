#pragma once
// The check a fused Q/K/V + RoPE launch is judged by: each output against the unfused matrix output,
// rotated here with the host's formula. Shared by the emulated and the GPU tests.

#include <skippy/math/rope.hpp>

#include <cstddef>

namespace skippy::test {

// Counts the outputs that disagree: `value(j, i, r)` is matrix j's (Q, K, V) unfused output r for token i;
// Q went to q (m x rows[0]), K and V to the caches k and v (rows[1] values a position) at start + i.
// `agree(got, want)` is the comparison: bits in emulation, within sincosf's rounding on a GPU.
template <class Value, class Agree>
int qkv_rope_mismatches(Value value, Agree agree, const int rows[3], int m, int start, int head_dim, float theta,
                        const float* q, const float* k, const float* v) {
  int bad = 0;
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < rows[j]; r += 2) {
        float x0 = value(j, i, r), x1 = value(j, i, r + 1);
        if (j < 2) math::rotate_pair(x0, x1, (r % head_dim) / 2, start + i, head_dim, theta);
        const float* out = j == 0 ? q + static_cast<std::size_t>(i) * rows[0] + r
                                  : (j == 1 ? k : v) + static_cast<std::size_t>(start + i) * rows[1] + r;
        bad += !agree(out[0], x0) + !agree(out[1], x1);
      }
  return bad;
}

}  // namespace skippy::test
