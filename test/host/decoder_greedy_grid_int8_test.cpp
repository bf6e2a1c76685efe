// Greedy S3D == greedy AR under the Int8Activations policy (8-bit activations in every weight product,
// the CUDA kernel's arithmetic): Q8_0 and Q4_0, K = 2 and 4, both drafting modes, three skip ranges.

#include "../support/greedy_grid.hpp"

TEST_CASE("greedy S3D equals greedy autoregressive decoding with 8-bit activations") {
  using namespace skippy;
  using namespace skippy::test::grid;
  Tally tally;
  using Skips3 = List<SkipRange<1, 3>, SkipRange<1, 2>, SkipRange<2, 4>>;
  using Preds = List<Simultaneous<2>, Sequential<2>, Simultaneous<4>, Sequential<4>>;
  run_quant<quant::Q8_0, Int8Activations>(Skips3{}, Preds{}, tally);
  run_quant<quant::Q4_0, Int8Activations>(Skips3{}, Preds{}, tally);
  CHECK(tally.combinations == 2 * 3 * 4);
  if (test::sanitized_build) return;
  // Drafts were rejected and accepted: rollback ran under this policy too.
  for (const auto& [key, ns] : tally.seen) {
    INFO("K=", key.first);
    CHECK(ns.count(0) == 1);
    CHECK(ns.size() >= 2);
  }
}
