// Emulated (test/emulation/README.md): the CUDA decoder's losslessness, sized for CI (decoder_test.cu
// decodes hundreds of sequences, too many at the emulation's speed). On a damped tiny model, which
// accepts some drafts and rejects others: greedy S3D emits exactly greedy AR's tokens on CUDA, with the
// step replayed from graphs and launched directly, for simultaneous and sequential drafts: F32, F16 with
// fused norms, BF16 with tensor-core decoding, Q4_0 with 8-bit activations packed and tiled (the
// tensor-core kernel). CUDA greedy AR emits the host's greedy AR tokens (these sequences have no near
// tie; decoder_test.cu allows one).

#include <skippy/skippy.hpp>

#include "../support/models.hpp"
#include "check.hpp"

#include <cstdio>
#include <vector>

using namespace skippy;

namespace {

constexpr int capacity = 48, new_tokens = 20;
const std::vector<std::vector<int>> prompts = {{1, 2, 3, 4, 5}, {7, 7, 9, 11, 30, 2, 8, 50}};

// set(decoder) switches a setting on both decoders and says whether it took.
template <class Q, class Pred, class A = FloatActivations, class Set>
void check(const HostModel<Q>& hm, cuda::Upload layout, const char* what, Set&& set) {
  char where[96];
  std::snprintf(where, sizeof where, "%s %s K=%d %s", Q::name, what, Pred::k,
                Pred::mode == DraftMode::simultaneous ? "simultaneous" : "sequential");
  cuda::DeviceModel<Q> dm(hm.view(), layout);
  cuda::Decoder<ModelView<Q>, SkipRange<1, 3>, Pred, accept::Greedy, A> s3d(dm.view(), capacity);
  cuda::AutoregressiveDecoder<ModelView<Q>, accept::Greedy, A> ar(dm.view(), capacity);
  EXPECT(set(s3d) && set(ar), where);
  host::AutoregressiveDecoder<ModelView<Q>, accept::Greedy, A> host_ar(hm.view(), capacity);
  GenerateOptions o;
  o.max_new_tokens = new_tokens;
  bool rejected = false, accepted = false;
  for (const auto& p : prompts) {
    const std::vector<int> want = ar.generate(p, o);
    EXPECT(static_cast<int>(want.size()) == new_tokens, where);
    EXPECT(host_ar.generate(p, o) == want, where);
    for (const bool graphs : {true, false}) {
      s3d.use_graphs(graphs);
      EXPECT(s3d.generate(p, o) == want, where);
      const DecodeStats& s = s3d.stats();
      rejected |= s.accept_count[0] > 0;
      for (int n = 1; n <= Pred::k; ++n) accepted |= s.accept_count[static_cast<std::size_t>(n)] > 0;
    }
  }
  std::printf("%s: %s\n", where, rejected && accepted ? "drafts accepted and rejected" : "one-sided acceptance");
  EXPECT(rejected && accepted, where);  // rollback after a partial acceptance ran
}

}  // namespace

int main() {
  const FloatWeights w = test::damped_weights(15);
  const auto none = [](auto&) { return true; };
  const auto f32 = HostModel<quant::F32>::from_float(w);
  check<quant::F32, Simultaneous<4>>(f32, cuda::Upload::in_place, "plain", none);
  check<quant::F32, Sequential<2>>(f32, cuda::Upload::in_place, "plain", none);
  check<quant::F16, Simultaneous<4>>(HostModel<quant::F16>::from_float(w), cuda::Upload::in_place, "fused norms",
                                     [](auto& d) {
                                       d.fused_norms(true);
                                       return d.uses_fused_norms();
                                     });
  check<quant::BF16, Sequential<2>>(HostModel<quant::BF16>::from_float(w), cuda::Upload::in_place,
                                    "tensor-core decoding", [](auto& d) {
                                      d.tensor_core_decoding(true);
                                      return d.uses_tensor_core_decoding();
                                    });
  const auto q4 = HostModel<quant::Q4_0>::from_float(w);
  check<quant::Q4_0, Simultaneous<4>, Int8Activations>(q4, cuda::Upload::packed, "8-bit, packed", none);
  check<quant::Q4_0, Simultaneous<4>, Int8Activations>(q4, cuda::Upload::tiled, "8-bit, tiled", none);
  std::printf("emulate_decoder: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
