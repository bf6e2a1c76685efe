// The demo on the GPU: the same report as the host demo, with cuda::Decoder over the model uploaded to
// the device (cuda::DeviceModel). Fewer combinations are compiled than for the host, to bound nvcc time:
// the trained skip range with every drafting mode and rule; others run on the host.

#include "demo_cuda.hpp"

namespace skippy::examples {
namespace {

using Skips = TypeList<SkipRange<2, 6>>;
using Predictors = TypeList<Simultaneous<2>, Simultaneous<4>, Simultaneous<6>, Sequential<4>>;
using Rules = TypeList<accept::Greedy, accept::SpeculativeSampling, accept::Typical>;
using Quants = TypeList<quant::F16, quant::Q8_0, quant::Q4_0>;

template <class Q>
CudaDemo with_model(const DemoOptions& o) {
  const LoadedModel<Q> m(o.model);
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(m.file);
  const auto [b, e] = skip_range_of(m, o);
  std::unique_ptr<cuda::DeviceModel<Q>> device;  // uploaded only for a configuration that runs here
  CudaDemo r;
  r.ran = dispatch_policies<Skips, Predictors, Rules>(o, b, e, [&](auto s, auto p, auto rule) {
    device = std::make_unique<cuda::DeviceModel<Q>>(m.view);
    cudaDeviceProp prop{};
    cuda::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    const std::string backend = std::string("CUDA (") + prop.name + ")";
    r.rc = demo<cuda::Decoder, Q, typename decltype(s)::type, typename decltype(p)::type,
                typename decltype(rule)::type>(m, device->view(), vocab, o, backend.c_str());
  });
  if (!r.ran) r.why = "this configuration is compiled for the host only (CUDA: --skip 2:6, --k 2|4|6 simultaneous, 4 sequential)";
  return r;
}

}  // namespace

CudaDemo demo_cuda(const DemoOptions& o) {
  if (!cuda::device_available()) return {false, 0, "no CUDA device"};
  CudaDemo r;
  dispatch(
      Quants{}, [&](auto q) { return o.quant == option_name<typename decltype(q)::type>(); },
      [&](auto q) { r = with_model<typename decltype(q)::type>(o); });
  return r;
}

}  // namespace skippy::examples
