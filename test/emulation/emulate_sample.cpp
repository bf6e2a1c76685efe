// Emulated (test/emulation/README.md): the sampling warp (kernels::warp_rows: temperature, top-k, top-p
// and their ties) against sampling::warp under the GPU test's comparison (test/support/sampling_compare.hpp),
// over small and large vocabularies, flat, tied and peaked rows, and parameters that take each of the
// kernel's ways to its cuts (candidates of a top-k bound, of a top-p bound, too many candidates, no
// bound: k above the threads, or maxima that hold too little mass); and the draft draws of kernels::warp_sample_rows against sampling::sample_categorical
// over the warped rows (the same token, or one at a rounding-close boundary). The CUDA test sample_test.cu checks the same on a GPU.

#include <skippy/cuda/kernels/sample.cuh>
#include <skippy/sampling/categorical.hpp>

#include "../support/sampling_compare.hpp"
#include "check.hpp"

#include <cstdio>
#include <vector>

using namespace skippy;
namespace kernels = skippy::cuda::kernels;

namespace {

constexpr int threads = kernels::sample_threads;

// Capacity: the candidates the kernels may hold (a small one sends more rows to the whole-row search).
template <int Capacity = kernels::sample_candidates>
void check(int n, bool ties, float scale, const sampling::WarpParams& w) {
  char where[128];
  std::snprintf(where, sizeof where, "n %d%s scale %g T %g top_k %d top_p %g capacity %d", n, ties ? " tied" : "",
                static_cast<double>(scale), static_cast<double>(w.temperature), w.top_k, static_cast<double>(w.top_p),
                Capacity);
  const int rows = 2;
  const auto x = test::random_logits(rows, n, ties, static_cast<std::uint32_t>(n + ties + static_cast<int>(scale)), scale);
  std::vector<float> p(x.size()), q(x.size());
  int bad = 0;
  EXPECT(emulation::launch(dim3(rows), dim3(threads), kernels::warp_rows<threads, Capacity>, x.data(), n, w, p.data(), &bad) ==
             cudaSuccess, where);
  EXPECT(bad == 0, where);
  for (int r = 0; r < rows; ++r) {
    const auto c = test::compare_warp(x.data() + static_cast<long>(r) * n, p.data() + static_cast<long>(r) * n, n, w);
    if (!c.ok(w))
      std::printf("  row %d: kept %d, flipped %d (least: %d), differ %d\n", r, c.kept, c.only, c.flip_least, c.differ);
    EXPECT(c.ok(w), where);
  }
  // The draft draws: the same warp into q, then the draw sampling::sample_categorical makes over it.
  const kernels::StepKey key{7, 100, 0};
  std::vector<int> tokens(rows, -1);
  EXPECT(emulation::launch(dim3(rows), dim3(threads), kernels::warp_sample_rows<threads, Capacity>, x.data(), n, w, q.data(), 0,
                           &key, tokens.data(), &bad) == cudaSuccess, where);
  EXPECT(q == p, where);
  for (int r = 0; r < rows; ++r) {
    const float u = rng::uniform(key.seed, {static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(key.position),
                                            rng::Purpose::draft_sample, 0u});
    const int want = sampling::sample_categorical(q.data() + static_cast<long>(r) * n, n, u);
    const int got = tokens[static_cast<std::size_t>(r)];
    EXPECT(got == want || test::draws_at_boundary(q.data() + static_cast<long>(r) * n, n, u, got, want), where);
    if (got != want) std::printf("  row %d: drew %d, the host %d (a rounding-close boundary)\n", r, got, want);
  }
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

}  // namespace

int main() {
  for (const auto& w : test::warp_grid()) {
    check(1000, true, 2.0f, w);
    check(1000, false, 2.0f, w);
    check(32000, false, 2.0f, w);
    check(32000, false, 6.0f, w);  // peaked: a few hundred tokens hold most of the mass
    check<64>(1000, true, 2.0f, w);  // tied: 136-291 candidates, too many for 64
  }
  std::printf("emulate_sample: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
