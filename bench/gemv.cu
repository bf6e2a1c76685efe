// CUDA weight kernel at LLM shapes: GB/s and % of the device-to-device copy bandwidth measured in this
// binary, with L2 flushed between iterations (timed with CUDA events, manual time).

#include <benchmark/benchmark.h>

#include <skippy/cuda/check.cuh>
#include <skippy/cuda/gemv.cuh>

#include "device.hpp"

#include <vector>

using namespace skippy;

namespace {

using bench::Device;
using bench::device;

template <class Q>
void BM_gemv(benchmark::State& state) {
  const Device& dev = device();
  if (!dev.ok) {
    state.SkipWithError("no GPU");
    return;
  }
  const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
  const int m = static_cast<int>(state.range(2));
  const std::size_t wbytes = static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols));
  void* w;
  float *x, *y;
  cuda::check(cudaMalloc(&w, wbytes), "cudaMalloc");
  cuda::check(cudaMalloc(&x, sizeof(float) * static_cast<std::size_t>(m) * cols), "cudaMalloc");
  cuda::check(cudaMalloc(&y, sizeof(float) * static_cast<std::size_t>(m) * rows), "cudaMalloc");
  cudaMemset(w, 0, wbytes);
  cudaMemset(x, 0, sizeof(float) * static_cast<std::size_t>(m) * cols);
  const MatrixView<Q> view{static_cast<const typename Q::block*>(w), rows, cols};
  bench::time_iterations(state, [&] {
    cuda::check(cuda::gemv(view, x, m, y), "gemv");
  });
  bench::bandwidth_counters(state, static_cast<double>(wbytes) + 4.0 * m * (static_cast<double>(cols) + rows));
  state.counters["copy_bw_GBps"] = dev.copy_bw / 1e9;
  cudaFree(w);
  cudaFree(x);
  cudaFree(y);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (auto [r, c] : std::vector<std::pair<int, int>>{{4096, 4096}, {11008, 4096}, {4096, 11008}, {14336, 4096},
                                                      {4096, 14336}, {32000, 4096}, {128256, 4096}})
    for (int m : {1, 2, 4, 5, 8}) b->Args({r, c, m});
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(BM_gemv, quant::F32)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::F16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::BF16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::Q4_0)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
