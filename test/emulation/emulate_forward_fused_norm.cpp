// Emulated (test/emulation/README.md): whole cuda::Forward passes with the norms fused into the weight
// launches (Forward::fused_norms) on the tiny model: within float rounding of host::Forward and of the
// unfused pass, not its bits (the scales' sums have their own order), full and skipped-layer passes, a
// block of 8 rows then one (two tiles of the residual launches' counter), and each row of a 5-row block
// computed alone against the block, bit for bit. Covers the pass's order: the scales after the embedding,
// each residual launch's scales read by the next launch, the LM head's norm.

#include <skippy/cuda/device_model.cuh>
#include <skippy/cuda/forward.cuh>
#include <skippy/skippy.hpp>

#include "../support/models.hpp"
#include "../support/row_error.hpp"
#include "check.hpp"

#include <cstring>
#include <vector>

using namespace skippy;

namespace {

template <class Q>
void check(cuda::Upload layout, LayerRange skip) {
  char where[64];
  std::snprintf(where, sizeof where, "%s %s skip [%d, %d)", Q::name,
                layout == cuda::Upload::packed ? "packed" : "in place", skip.begin, skip.end);
  const auto hm = HostModel<Q>::from_float(test::damped_weights(31));
  const std::vector<int> tokens{5, 17, 3, 3, 40, 22, 9, 61, 0};
  const int V = hm.config().vocab, n = static_cast<int>(tokens.size()), cap = 24;
  host::Forward<Q> hf(hm.view());
  auto hc = hf.make_cache(cap);
  std::vector<float> want(static_cast<std::size_t>(n) * V), one(static_cast<std::size_t>(V));
  hf.run(tokens.data(), n, 0, hc, skip, want.data());
  cuda::DeviceModel<Q> dm(hm.view(), layout);
  cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  std::vector<float> got[2];
  for (const bool fused : {false, true}) {
    cuda::Forward<Q> cf(dm.view(), 8, cap);
    cf.fused_norms(fused);
    EXPECT(cf.uses_fused_norms() == fused, where);
    auto cc = cf.make_cache();
    cuda::DeviceBuffer<float> dl(want.size());
    cf.run(dt.data(), 8, 0, cc, skip, dl.data(), nullptr);
    cf.run(dt.data() + 8, 1, 8, cc, skip, dl.data() + 8 * V, nullptr);
    got[fused].resize(want.size());
    dl.download(got[fused].data(), want.size());
    const double e = test::row_error(got[fused], want, V);
    std::printf("%s %s: relative error against the host %.3g\n", where, fused ? "fused" : "unfused", e);
    EXPECT(e <= 1e-4, where);
    if (!fused) continue;
    cc.set_length(3);
    cf.run(dt.data() + 3, 5, 3, cc, skip, dl.data(), nullptr);
    std::vector<float> block(static_cast<std::size_t>(5) * V);
    dl.download(block.data(), block.size());
    cc.set_length(3);
    for (int i = 0; i < 5; ++i) {
      cf.run(dt.data() + 3 + i, 1, 3 + i, cc, skip, dl.data(), nullptr);
      dl.download(one.data(), one.size());
      EXPECT(std::memcmp(one.data(), block.data() + static_cast<std::size_t>(i) * V, one.size() * sizeof(float)) == 0,
             where);
    }
  }
  const double e = test::row_error(got[1], got[0], V);
  std::printf("%s: fused against unfused %.3g\n", where, e);
  EXPECT(e <= 1e-4 && e > 0.0, where);  // another order of the scales' sums: close, not the same bits
}

}  // namespace

int main() {
  check<quant::F32>(cuda::Upload::in_place, LayerRange{});
  check<quant::F16>(cuda::Upload::in_place, LayerRange{1, 3});
  check<quant::Q4_0>(cuda::Upload::packed, LayerRange{});
  std::printf("emulate_forward_fused_norm: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
