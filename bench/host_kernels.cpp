// Host reference kernels under Google Benchmark: the weight matrix-vector product per storage type
// (bytes/s and % of this machine's memcpy bandwidth, measured in the same binary) and whole decoding
// runs (tokens/s) for autoregressive vs S3D. The host backend is a reference, not a fast path: these
// numbers are the baseline the CUDA kernels are compared with.

#include <benchmark/benchmark.h>

#include <skippy/skippy.hpp>

#include "stand_in_model.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

using namespace skippy;

namespace {

// (bytes read + bytes written) / s of a 256 MiB memcpy, best of 5.
double copy_bandwidth() {
  static const double bw = [] {
    const std::size_t n = 256u << 20;
    std::vector<char> a(n, 1), b(n, 2);
    double best = 0;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      std::memcpy(b.data(), a.data(), n);
      benchmark::DoNotOptimize(b.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * static_cast<double>(n) / s);
    }
    return best;
  }();
  return bw;
}

// A rows x cols matrix of smooth values in storage type Q: the products' weights.
template <class Q>
std::vector<typename Q::block> bench_weights(int rows, int cols) {
  std::vector<float> wf(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(static_cast<float>(i) * 0.001f);
  return quant::quantize<Q>(wf);
}

// Runs `product` under the benchmark's loop and reports `bytes` (read + written) per product as bytes/s
// and % of the copy bandwidth.
template <class F>
void time_product(benchmark::State& state, double bytes, F&& product) {
  const double copy_bw = copy_bandwidth();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) product();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double total = bytes * static_cast<double>(state.iterations());
  state.counters["bytes_per_second"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
  state.counters["pct_of_copy_bw"] = 100.0 * total / seconds / copy_bw;
}

template <class Q>
void BM_matvec(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
  const int m = static_cast<int>(state.range(2));
  const auto w = bench_weights<Q>(rows, cols);
  const MatrixView<Q> view{w.data(), rows, cols};
  std::vector<float> x(static_cast<std::size_t>(m) * static_cast<std::size_t>(cols), 0.5f),
      y(static_cast<std::size_t>(m) * static_cast<std::size_t>(rows));
  time_product(state, static_cast<double>(view.bytes()) + 4.0 * static_cast<double>(x.size() + y.size()), [&] {
    host::matmul(view, x.data(), m, y.data());
    benchmark::DoNotOptimize(y.data());
  });
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int m : {1, 2, 5, 8}) b->Args({4096, 4096, m});
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK_TEMPLATE(BM_matvec, quant::F32)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_matvec, quant::F16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_matvec, quant::BF16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_matvec, quant::F8_E4M3)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_matvec, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_matvec, quant::Q4_0)->Apply(shapes);

// The 8-bit product (host::matmul_q8, the Int8Activations policy's arithmetic): the activations are
// quantised once outside the loop, as a forward pass does for every product that reads them.
template <class Q>
void BM_matmul_q8(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
  const int m = static_cast<int>(state.range(2));
  const auto w = bench_weights<Q>(rows, cols);
  const MatrixView<Q> view{w.data(), rows, cols};
  std::vector<float> x(static_cast<std::size_t>(m) * static_cast<std::size_t>(cols)),
      y(static_cast<std::size_t>(m) * static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(static_cast<float>(i) * 0.01f);
  host::Q8Activations qa;
  const quant::Q8Rows xq = qa.quantize(x.data(), m, cols);
  // Activations: a byte per value and a float per 32-value block.
  const double read = static_cast<double>(view.bytes()) + static_cast<double>(x.size()) * (1.0 + 4.0 / quant::qk);
  time_product(state, read + 4.0 * static_cast<double>(y.size()), [&] {
    host::matmul_q8(view, xq, m, y.data());
    benchmark::DoNotOptimize(y.data());
  });
}

BENCHMARK_TEMPLATE(BM_matmul_q8, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_matmul_q8, quant::Q4_0)->Apply(shapes);

// Decoding on a small random model with damped middle layers (see examples/demo.cpp).
const HostModel<quant::Q8_0>& bench_model() {
  static const HostModel<quant::Q8_0> m = HostModel<quant::Q8_0>::from_float(examples::damped_demo_weights(1, 0.05f));
  return m;
}

template <class Dec>
void BM_decode(benchmark::State& state) {
  Dec dec(bench_model().view(), 160, {});
  GenerateOptions o;
  o.max_new_tokens = 128;
  long tokens = 0;
  double tau = 0;
  for (auto _ : state) {
    tokens += static_cast<long>(dec.generate({1, 17, 42, 99}, o).size());
    tau = dec.stats().tau();
  }
  state.counters["tokens_per_second"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["tau"] = tau;
}

using M = ModelView<quant::Q8_0>;
BENCHMARK_TEMPLATE(BM_decode, host::AutoregressiveDecoder<M>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_decode, host::Decoder<M, SkipRange<2, 6>, Sequential<4>, accept::Greedy>)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_decode, host::Decoder<M, SkipRange<2, 6>, Simultaneous<4>, accept::Greedy>)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
