// Emulated (test/emulation/README.md): a whole cuda::Forward<Q, Int8Activations> decoding pass on the
// tiny model with heads of 32 (the grouped attention), against host::Forward
// with float activations, and each row of a 5-row block computed alone against the block, bit for bit.
// Covers the fused launches of a decoding layer: the norm's, the attention's and the gate/up launch's
// 8-bit outputs, Q/K/V with RoPE and the cache write, over a packed Q4_0 model, an in-place Q8_0 one and a
// tiled Q4_0 one (the tensor-core kernel's launches, its integer products from the lanes' fragments).

#include <skippy/cuda/device_model.cuh>
#include <skippy/cuda/forward.cuh>
#include <skippy/skippy.hpp>

#include "../support/models.hpp"
#include "../support/row_error.hpp"
#include "check.hpp"

#include <cmath>
#include <cstring>
#include <vector>

using namespace skippy;

template <class Q>
void check(cuda::Upload layout) {
  char where[64];
  std::snprintf(where, sizeof where, "%s %s", Q::name,
                layout == cuda::Upload::packed ? "packed" : layout == cuda::Upload::tiled ? "tiled" : "in place");
  const auto hm = HostModel<Q>::from_float(test::damped_weights(21, test::head32_config()));
  const std::vector<int> tokens{1, 5, 9, 2, 7, 3, 11, 4, 6};
  const int V = hm.config().vocab, n = static_cast<int>(tokens.size()), cap = 24;
  host::Forward<Q> hf(hm.view());
  auto hc = hf.make_cache(cap);
  std::vector<float> want(static_cast<std::size_t>(n) * V), got(want.size()), one(static_cast<std::size_t>(V));
  hf.run(tokens.data(), n, 0, hc, LayerRange{}, want.data());

  cuda::DeviceModel<Q> dm(hm.view(), layout);
  cuda::Forward<Q, Int8Activations> cf(dm.view(), 8, cap);
  cf.grouped_attention(true);
  EXPECT(cf.uses_grouped_attention(), where);
  auto cc = cf.make_cache();
  cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  cuda::DeviceBuffer<float> dl(want.size());
  cf.run(dt.data(), 4, 0, cc, LayerRange{}, dl.data(), nullptr);  // a block of 4, then one of 5
  cf.run(dt.data() + 4, 5, 4, cc, LayerRange{}, dl.data() + 4 * V, nullptr);
  dl.download(got.data(), got.size());
  const double worst = test::row_error(got, want, V);  // NaN fails the check below
  std::printf("%s: relative error against the host's float activations %.4g\n", where, worst);
  EXPECT(worst <= 5e-2 && worst > 0.0, where);  // 8-bit rounding: a few per cent, never the float bits
  cc.set_length(4);
  for (int i = 0; i < 5; ++i) {
    cf.run(dt.data() + 4 + i, 1, 4 + i, cc, LayerRange{}, dl.data(), nullptr);
    dl.download(one.data(), one.size());
    EXPECT(std::memcmp(one.data(), got.data() + static_cast<std::size_t>(4 + i) * V, one.size() * sizeof(float)) == 0,
           where);
  }
}

int main() {
  check<quant::Q4_0>(cuda::Upload::tiled);
  check<quant::Q4_0>(cuda::Upload::packed);
  check<quant::Q8_0>(cuda::Upload::in_place);
  std::printf("emulate_forward_int8: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
