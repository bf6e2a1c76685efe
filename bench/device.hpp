#pragma once
// What the CUDA benchmarks share: whether a device exists, its device-to-device copy bandwidth (the
// roofline every figure is a percentage of), and an L2 flush between timed iterations.
//
// The flush *reads* a buffer of twice L2's size. A memset flush (the usual one) leaves L2 full of dirty
// lines that the timed kernel then pays to write back: on an H200 the same BF16 weight kernel took 3.4 to
// 8.8 us longer per launch after a memset flush (bench/results/h200-2026-11-30, runs 1 and 4), a quarter
// of a 4096 x 4096 launch.

#include <benchmark/benchmark.h>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/check.cuh>

#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <utility>

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
  bool ok = false;
  std::string why = "no GPU";  // why ok is false: every benchmark skips with it
  int l2_bytes = 0;
  void* flush = nullptr;
  double copy_bw = 0;  // (read + written) bytes / s of a 1 GiB device-to-device copy
  Device() {
    if (!skippy::cuda::device_available()) return;
    try {
      measure();
      ok = true;
    } catch (const std::exception& e) {  // a roofline that was not measured must not scale every figure
      why = std::string("the copy-bandwidth reference failed: ") + e.what();
      cudaGetLastError();
    }
  }
  void flush_l2() const {
    read_flush<<<1024, 256>>>(static_cast<const uint4*>(flush), static_cast<std::size_t>(l2_bytes) * 2 / 16, nullptr);
  }

 private:
  void measure() {
    using skippy::cuda::check;
    check(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, 0), "L2 size");
    check(cudaMalloc(&flush, static_cast<std::size_t>(l2_bytes) * 2), "cudaMalloc (L2 flush)");
    check(cudaMemset(flush, 0, static_cast<std::size_t>(l2_bytes) * 2), "cudaMemset (L2 flush)");
    const std::size_t n = std::size_t{1} << 30;
    const skippy::cuda::DeviceBuffer<char> a(n), b(n);
    cudaEvent_t t0, t1;
    check(cudaEventCreate(&t0), "cudaEventCreate");
    check(cudaEventCreate(&t1), "cudaEventCreate");
    float best = 1e30f;
    for (int r = 0; r < 5; ++r) {
      check(cudaEventRecord(t0), "cudaEventRecord");
      check(cudaMemcpyAsync(b.data(), a.data(), n, cudaMemcpyDeviceToDevice), "1 GiB device-to-device copy");
      check(cudaEventRecord(t1), "cudaEventRecord");
      check(cudaEventSynchronize(t1), "cudaEventSynchronize");
      float ms = 0;
      check(cudaEventElapsedTime(&ms, t0, t1), "cudaEventElapsedTime");
      best = ms < best ? ms : best;
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    copy_bw = 2.0 * static_cast<double>(n) / (best * 1e-3);
    skippy::require(std::isfinite(copy_bw) && copy_bw > 0, "copy bandwidth ", copy_bw, " B/s");
  }
};

const Device& device() {
  static const Device d;
  return d;
}

// Runs the benchmark loop: each iteration runs prepare() (untimed: restoring inputs a launch overwrites),
// flushes L2, then times launch() between two CUDA events (manual time: host overhead outside the
// launches does not count). An error (an exception from either, or a launch error) ends the benchmark
// with SkipWithError, so one failing case does not abort the binary and truncate its JSON.
template <class Prepare, class Launch>
void time_iterations(benchmark::State& state, Prepare&& prepare, Launch&& launch) {
  cudaEvent_t t0, t1;
  if (cudaEventCreate(&t0) != cudaSuccess || cudaEventCreate(&t1) != cudaSuccess) {
    state.SkipWithError("cudaEventCreate failed");
    return;
  }
  try {
    for (auto _ : state) {
      prepare();
      device().flush_l2();
      skippy::cuda::check(cudaEventRecord(t0), "cudaEventRecord");
      launch();
      skippy::cuda::check(cudaEventRecord(t1), "cudaEventRecord");
      skippy::cuda::check(cudaEventSynchronize(t1), "benchmarked launch");
      float ms = 0;
      skippy::cuda::check(cudaEventElapsedTime(&ms, t0, t1), "cudaEventElapsedTime");
      state.SetIterationTime(ms * 1e-3);
    }
    skippy::cuda::check(cudaGetLastError(), "benchmarked launch");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
}
template <class Launch>
void time_iterations(benchmark::State& state, Launch&& launch) {
  time_iterations(state, [] {}, std::forward<Launch>(launch));
}

// Runs a benchmark's body where a device exists (else skips with why not); an exception from its setup
// (allocation, model build), outside time_iterations, skips that benchmark with the message instead of
// terminating the binary and the runs after it.
template <class Body>
void guarded(benchmark::State& state, Body&& body) {
  if (!device().ok) {
    state.SkipWithError(device().why.c_str());
    return;
  }
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// A stream and the graph captured on it, released on every path. An exception thrown while recording
// ends the capture: left open (thread-local mode), it would make the thread's later allocations fail and
// skip every benchmark after this one.
class CapturedGraph {
 public:
  explicit CapturedGraph(unsigned flags = cudaStreamDefault) {
    skippy::cuda::check(cudaStreamCreateWithFlags(&stream_, flags), "cudaStreamCreate");
  }
  ~CapturedGraph() {
    if (capturing_) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream_, &partial);
      if (partial != nullptr) cudaGraphDestroy(partial);
    }
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
    if (graph_ != nullptr) cudaGraphDestroy(graph_);
    cudaStreamDestroy(stream_);
  }
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  // Records record(stream) into the graph and instantiates it.
  template <class Record>
  void capture(Record&& record) {
    skippy::cuda::check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    capturing_ = true;
    record(stream_);
    capturing_ = false;
    skippy::cuda::check(cudaStreamEndCapture(stream_, &graph_), "cudaStreamEndCapture");
    skippy::cuda::check(cudaGraphInstantiate(&exec_, graph_, 0), "cudaGraphInstantiate");
  }
  cudaStream_t stream() const { return stream_; }
  cudaGraphExec_t exec() const { return exec_; }

 private:
  cudaStream_t stream_ = nullptr;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  bool capturing_ = false;
};

// bytes_per_second and pct_of_copy_bw counters for `bytes` moved per iteration.
inline void bandwidth_counters(benchmark::State& state, double bytes) {
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_of_copy_bw"] =
      benchmark::Counter(100.0 * bytes / device().copy_bw, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace skippy::bench
