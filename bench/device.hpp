#pragma once
// What the CUDA benchmarks share: whether a device exists, its device-to-device copy bandwidth (the
// roofline every figure is a percentage of), and an L2 flush between timed iterations.
//
// The flush *reads* a buffer of twice L2's size. A memset flush (the usual one) leaves L2 full of dirty
// lines that the timed kernel then pays to write back: on an H200 the same BF16 weight kernel took 3.4 to
// 8.8 us longer per launch after a memset flush (bench/results/h200-2026-11-30, runs 1 and 4), a quarter
// of a 4096 x 4096 launch.

#include <benchmark/benchmark.h>

#include <skippy/cuda/check.cuh>

#include <cstddef>

namespace skippy::bench {

// Reads n 16-byte words; the store never happens but keeps the loads alive.
template <int Threads = 256>
__global__ void __launch_bounds__(Threads) read_flush(const uint4* p, std::size_t n, unsigned* never) {
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(Threads) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * Threads) {
    const uint4 u = __ldcg(p + i);
    acc ^= u.x ^ u.y ^ u.z ^ u.w;
  }
  if (acc == 0x9e3779b9u && never != nullptr) *never = acc;
}

struct Device {
  bool ok = skippy::cuda::device_available();
  int l2_bytes = 0;
  void* flush = nullptr;
  double copy_bw = 0;  // (read + written) bytes / s of a 1 GiB device-to-device copy
  Device() {
    if (!ok) return;
    cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, 0);
    cudaMalloc(&flush, static_cast<std::size_t>(l2_bytes) * 2);
    cudaMemset(flush, 0, static_cast<std::size_t>(l2_bytes) * 2);
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
  void flush_l2() const {
    read_flush<<<1024, 256>>>(static_cast<const uint4*>(flush), static_cast<std::size_t>(l2_bytes) * 2 / 16, nullptr);
  }
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
