// Built with -DSKIPPY_CONSUMER_CUDA=ON: a CUDA program of the installed package whose weight kernels come
// from skippy_add_weight_kernels' object library (this translation unit declares them extern, so it links
// only if the library defines them). Greedy S3D on the GPU emits greedy AR's tokens.
#include <skippy/cuda/decoder.cuh>
#include <skippy/cuda/device_model.cuh>
#include <skippy/skippy.hpp>

#include <cstdio>

int main() {
  using namespace skippy;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("skipped: no GPU (consumer_cuda linked)\n");
    return 0;
  }
  ModelConfig c;
  c.n_layers = 2;
  c.dim = 64;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.ffn_dim = 128;
  c.vocab = 32;
  c.mask_token_id = 31;
  const auto model = HostModel<quant::F16>::random(c, 1);
  skippy::cuda::DeviceModel<quant::F16> gpu(model.view());
  skippy::cuda::Decoder<ModelView<quant::F16>, SkipRange<1, 2>, Simultaneous<2>, accept::Greedy> s3d(gpu.view(), 32);
  skippy::cuda::AutoregressiveDecoder<ModelView<quant::F16>> ar(gpu.view(), 32);
  GenerateOptions o;
  o.max_new_tokens = 8;
  return s3d.generate({1, 2, 3}, o) == ar.generate({1, 2, 3}, o) ? 0 : 1;
}
