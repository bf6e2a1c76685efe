#pragma once
// What the CUDA benchmarks share: whether a device exists, its device-to-device copy bandwidth (the
// roofline every figure is a percentage of), and an L2 flush between timed iterations.

#include <benchmark/benchmark.h>

#include <skippy/cuda/check.cuh>

#include <cstddef>

namespace skippy::bench {

struct Device {
  bool ok = skippy::cuda::device_available();
  int l2_bytes = 0;
  void* flush = nullptr;
  double copy_bw = 0;  // (read + written) bytes / s of a 1 GiB device-to-device copy
  Device() {
    if (!ok) return;
    cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, 0);
    cudaMalloc(&flush, static_cast<std::size_t>(l2_bytes) * 2);
    const std::size_t n = std::size_t{1} << 30;
    void *a, *b;
    cudaMalloc(&a, n);
    cudaMalloc(&b, n);
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    float best = 1e30f;
    for (int r = 0; r < 5; ++r) {
      cudaEventRecord(t0);
      cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice);
      cudaEventRecord(t1);
      cudaEventSynchronize(t1);
      float ms = 0;
      cudaEventElapsedTime(&ms, t0, t1);
      best = ms < best ? ms : best;
    }
    copy_bw = 2.0 * static_cast<double>(n) / (best * 1e-3);
    cudaFree(a);
    cudaFree(b);
  }
  void flush_l2() const { cudaMemsetAsync(flush, 0, static_cast<std::size_t>(l2_bytes) * 2); }
};

const Device& device() {
  static const Device d;
  return d;
}

// Runs the benchmark loop: each iteration flushes L2, then times launch() between two CUDA events
// (manual time: host overhead outside the launches does not count).
template <class Launch>
void time_iterations(benchmark::State& state, Launch&& launch) {
  cudaEvent_t t0, t1;
  skippy::cuda::check(cudaEventCreate(&t0), "cudaEventCreate");
  skippy::cuda::check(cudaEventCreate(&t1), "cudaEventCreate");
  for (auto _ : state) {
    device().flush_l2();
    cudaEventRecord(t0);
    launch();
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float ms = 0;
    cudaEventElapsedTime(&ms, t0, t1);
    state.SetIterationTime(ms * 1e-3);
  }
  skippy::cuda::check(cudaGetLastError(), "benchmarked launch");
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
}

// bytes_per_second and pct_of_copy_bw counters for `bytes` moved per iteration.
inline void bandwidth_counters(benchmark::State& state, double bytes) {
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_of_copy_bw"] =
      benchmark::Counter(100.0 * bytes / device().copy_bw, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace skippy::bench
