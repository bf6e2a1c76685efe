// The configuration sweep on the GPU: the same configurations and measurements as the host sweep, with
// cuda::Decoder over the model uploaded to the device (a separate nvcc translation unit).

#include <string>

#include "sweep_run.hpp"

namespace skippy::examples {

CudaSweep sweep_cuda(const ModelView<SweepQuant>& host_model, const gguf::Vocabulary& vocab,
                     const std::vector<int>& text, const SweepOptions& opt) {
  if (!cuda::device_available()) return {false, "no CUDA device", {}};
  cudaDeviceProp prop{};
  cuda::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  const cuda::DeviceModel<SweepQuant> device(host_model);
  CudaSweep r;
  r.ran = true;
  r.result = run_sweep<cuda::Decoder>(device.view(), vocab, text, opt, std::string("CUDA (") + prop.name + ")");
  return r;
}

}  // namespace skippy::examples
