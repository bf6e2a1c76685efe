// Emulated (test/emulation/README.md): the CUDA decoder's losslessness, sized for CI (decoder_test.cu
// decodes hundreds of sequences, too many at the emulation's speed). On a damped tiny model, which
// accepts some drafts and rejects others: greedy S3D emits exactly greedy AR's tokens on CUDA, with the
// step replayed from graphs and launched directly, for simultaneous and sequential drafts: F32, F16 and
// F8_E4M3 with fused norms, BF16 with tensor-core decoding, Q4_0 with 8-bit activations packed and tiled
// (the tensor-core kernel). CUDA greedy AR emits the host's greedy AR tokens (these sequences have no near
// tie; decoder_test.cu allows one). A CUDA fault surfacing at any synchronisation of a prefill or a step
// (injected) never lets the decoder step on from a cache or pending token it did not finish.

#include <skippy/skippy.hpp>

#include "../support/error_message.hpp"
#include "../support/models.hpp"
#include "../support/user_rule.hpp"
#include "check.hpp"

#include <cstdio>
#include <string>
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

bool holds(const std::string& what, const char* needle) { return what.find(needle) != std::string::npos; }

// A fault at the n-th synchronisation of a step, for each n a step has: the decoder either goes on to the
// tokens of an unfailed run (nothing of the step was committed) or refuses to step until start() or
// rewind(), after which rewinding to where the step began goes on to them. With accept::Greedy the step's
// verdict kernels write the pending token on the device; a user-defined rule runs on the host.
template <class Accept>
void check_failed_syncs(const HostModel<quant::F32>& hm, const char* where) {
  cuda::DeviceModel<quant::F32> dm(hm.view());
  cuda::Decoder<ModelView<quant::F32>, SkipRange<1, 3>, Simultaneous<4>, Accept> d(dm.view(), capacity);
  const std::vector<int>& p = prompts[1];
  GenerateOptions o;
  o.max_new_tokens = new_tokens;
  const std::vector<int> want = d.generate(p, o);
  const auto finish = [&](std::vector<int>& out) {
    while (out.size() < want.size()) d.step(out, static_cast<int>(want.size() - out.size()));
    return out == want;
  };

  emulation::inject_sync_error(cudaErrorLaunchFailure);
  EXPECT(holds(test::error_message([&] { d.start(p); }), "CUDA error in prefill"), where);
  std::vector<int> none;
  EXPECT(holds(test::error_message([&] { d.step(none); }), "before start()"), where);

  int refused = 0, went_on = 0;
  for (int n = 0; n < 16; ++n) {
    d.start(p);
    std::vector<int> out;
    d.step(out);  // a good step first: the failed one starts mid-sequence
    const int length = d.cache().length(), pending = d.pending_token();
    emulation::inject_sync_error(cudaErrorLaunchFailure, n);
    const std::string what = test::error_message([&] { d.step(out); });
    if (what.empty()) {  // the step has no n-th synchronisation
      emulation::inject_sync_error(cudaSuccess);
      EXPECT(finish(out), where);
      break;
    }
    EXPECT(holds(what, "CUDA error in"), where);
    const std::string again = test::error_message([&] { d.step(out, static_cast<int>(want.size() - out.size())); });
    if (again.empty()) {
      ++went_on;
    } else {
      EXPECT(holds(again, "before start()"), where);
      ++refused;
      d.rewind(length, pending);
    }
    EXPECT(finish(out), where);
  }
  std::printf("%s: a failed step went on %d times, refused %d times\n", where, went_on, refused);
  EXPECT(refused > 0, where);  // a fault after the pending token was written was injected
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
  check<quant::F8_E4M3, Simultaneous<4>>(HostModel<quant::F8_E4M3>::from_float(w), cuda::Upload::in_place,
                                         "fused norms", [](auto& d) {
                                           d.fused_norms(true);
                                           return d.uses_fused_norms();
                                         });
  const auto q4 = HostModel<quant::Q4_0>::from_float(w);
  check<quant::Q4_0, Simultaneous<4>, Int8Activations>(q4, cuda::Upload::packed, "8-bit, packed", none);
  check<quant::Q4_0, Simultaneous<4>, Int8Activations>(q4, cuda::Upload::tiled, "8-bit, tiled", none);
  check_failed_syncs<accept::Greedy>(f32, "failed sync, device rule");
  check_failed_syncs<test::UserGreedy>(f32, "failed sync, host rule");
  std::printf("emulate_decoder: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
