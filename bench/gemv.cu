// CUDA weight kernels at LLM shapes, with L2 flushed between iterations (timed with CUDA events, manual
// time): gemv for decoding blocks (M = 1..8) in GB/s and % of the device-to-device copy bandwidth
// measured in this binary, with the reference kernel at M = 1 and 5 as its baseline; gemv_q8 (8-bit
// activations, Q8_0 / Q4_0) at the same shapes and the activation quantiser; both again over the packed
// layout (cuda::PackedMatrix); the tensor-core kernel over 8-bit activations (gemv_tiled_q8, the tiled
// layout); the tensor-core kernel over float activations for F16 / BF16 (gemv_mma, BM_gemv_mma: its M = 5 /
// M = 1 ratio against BM_gemv's is the figure); a layer's fused launches (Q/K/V, gate/up with SwiGLU)
// against one launch per matrix; the tensor-core gemm for prefill blocks (M = 64..2048) in FLOP/s and
// rows/s, and beside it the tiled kernel's prefill form over 8-bit activations (BM_prefill_q8_tiled: one
// launch per 64 rows) and gemv_mma's over F16 / BF16 (BM_prefill_mma); the fused norm's launches
// (BM_gemv_normed, BM_gemv_residual).

#include <benchmark/benchmark.h>

#include <skippy/cuda/buffer.cuh>
#include <skippy/cuda/check.cuh>
#include <skippy/cuda/gemm.cuh>
#include <skippy/cuda/gemv.cuh>
#include <skippy/cuda/packed.cuh>
#include <skippy/cuda/tiled.cuh>

#include "device.hpp"

#include <algorithm>
#include <memory>
#include <vector>

using namespace skippy;

namespace {

using bench::Device;
using bench::device;

// Zeroed device operands of a benchmark: a rows x cols matrix of Q, m activation rows and m output rows.
template <class Q>
struct Operands {
  std::size_t wbytes;
  void* w = nullptr;
  float *x = nullptr, *y = nullptr;
  Operands(int rows, int cols, int m)
      : wbytes(static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols))) {
    cuda::check(cudaMalloc(&w, wbytes), "cudaMalloc");
    cuda::check(cudaMalloc(&x, sizeof(float) * static_cast<std::size_t>(m) * cols), "cudaMalloc");
    cuda::check(cudaMalloc(&y, sizeof(float) * static_cast<std::size_t>(m) * rows), "cudaMalloc");
    cudaMemset(w, 0, wbytes);
    cudaMemset(x, 0, sizeof(float) * static_cast<std::size_t>(m) * cols);
  }
  ~Operands() {
    cudaFree(w);
    cudaFree(x);
    cudaFree(y);
  }
  MatrixView<Q> view(int rows, int cols) const { return {static_cast<const typename Q::block*>(w), rows, cols}; }
};

// Which weight kernel BM_gemv times: cuda::gemv (the interleaved kernel: these operands are aligned),
// cuda::gemv_reference, or cuda::gemv_q8 over 8-bit activations (Q8_0 / Q4_0; quantised once before the
// timed loop: a decoder quantises a vector once for all the matrices that read it, timed by
// BM_quantize_activations); packed and packed_int8: gemv and gemv_q8 over a cuda::PackedMatrix copy;
// tiled_int8: gemv_q8 over a cuda::TiledMatrix copy, the tensor-core kernel (the same bytes at these shapes:
// no padding); mma: cuda::gemv_mma (F16 / BF16: tensor cores over float activations split into 16-bit parts);
// normed: gemv over quant::NormedRows (the fused norm's input: the stream, the norm's weights and the
// scales, normalised as loaded); residual: cuda::gemv_residual (y += W x, the last block's scales).
enum class Path { interleaved, reference, int8, packed, packed_int8, tiled_int8, mma, normed, residual };

template <class Q, Path P = Path::interleaved>
void BM_gemv(benchmark::State& state) {
  bench::guarded(state, [&] {
    const Device& dev = device();
    if (!dev.ok) {
      state.SkipWithError(dev.why.c_str());
      return;
    }
    const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
    const int m = static_cast<int>(state.range(2));
    const Operands<Q> o(rows, cols, m);
    const MatrixView<Q> view = o.view(rows, cols);
    double activation_bytes = 4.0 * m * cols;
    if constexpr (P == Path::int8 || P == Path::packed_int8 || P == Path::tiled_int8) {
      const std::size_t n = static_cast<std::size_t>(m) * cols;
      cuda::DeviceBuffer<std::int8_t> q(n);
      cuda::DeviceBuffer<float> d(n / quant::qk);
      cuda::check(cuda::quantize_activations(o.x, m, cols, q.data(), d.data()), "quantize_activations");
      const quant::Q8Rows x{q.data(), d.data()};
      if constexpr (P == Path::int8) {
        bench::time_iterations(state, [&] { cuda::check(cuda::gemv_q8(view, x, m, o.y), "gemv_q8"); });
      } else if constexpr (P == Path::tiled_int8) {
        const cuda::TiledMatrix<Q> tiled(view);
        bench::time_iterations(state, [&] { cuda::check(cuda::gemv_q8(tiled.view(), x, m, o.y), "gemv_q8"); });
      } else {
        const cuda::PackedMatrix<Q> packed(view);
        bench::time_iterations(state, [&] { cuda::check(cuda::gemv_q8(packed.view(), x, m, o.y), "gemv_q8"); });
      }
      activation_bytes = static_cast<double>(n) * (1.0 + 4.0 / quant::qk);
    } else if constexpr (P == Path::packed) {
      const cuda::PackedMatrix<Q> packed(view);
      bench::time_iterations(state, [&] { cuda::check(cuda::gemv(packed.view(), o.x, m, o.y), "gemv"); });
    } else if constexpr (P == Path::mma) {
      if (!cuda::gemv_mma_supported<Q>()) {
        state.SkipWithError("gemv_mma does not run here (F16 / BF16 on sm_80 or newer)");
        return;
      }
      bench::time_iterations(state, [&] { cuda::check(cuda::gemv_mma(view, o.x, m, o.y), "gemv_mma"); });
    } else if constexpr (P == Path::normed) {
      cuda::DeviceBuffer<float> g(static_cast<std::size_t>(cols)), scales(static_cast<std::size_t>(m));
      cudaMemset(g.data(), 0, g.size() * sizeof(float));
      cudaMemset(scales.data(), 0, scales.size() * sizeof(float));
      const quant::NormedRows x{o.x, g.data(), scales.data()};
      bench::time_iterations(state, [&] { cuda::check(cuda::gemv(view, x, m, o.y), "gemv over normed rows"); });
      activation_bytes += 4.0 * cols + 4.0 * m;  // the norm's weights, the scales
    } else if constexpr (P == Path::residual) {
      cuda::DeviceBuffer<float> scales(static_cast<std::size_t>(m));
      cuda::DeviceBuffer<unsigned> counter(1);
      cudaMemset(counter.data(), 0, sizeof(unsigned));
      cudaMemset(o.y, 0, sizeof(float) * static_cast<std::size_t>(m) * rows);
      const cuda::NormScales norm{scales.data(), counter.data(), 1e-5f};
      bench::time_iterations(state,
                             [&] { cuda::check(cuda::gemv_residual(view, o.x, m, o.y, norm), "gemv_residual"); });
      activation_bytes += 4.0 * m * rows;  // the stream read before the add
    } else {
      bench::time_iterations(state, [&] {
        cuda::check(P == Path::reference ? cuda::gemv_reference(view, o.x, m, o.y) : cuda::gemv(view, o.x, m, o.y),
                    "gemv");
      });
    }
    bench::bandwidth_counters(state, static_cast<double>(o.wbytes) + activation_bytes + 4.0 * m * rows);
    state.counters["copy_bw_GBps"] = dev.copy_bw / 1e9;
  });
}

template <class Q>
void BM_gemv_reference(benchmark::State& state) {
  BM_gemv<Q, Path::reference>(state);
}
template <class Q>
void BM_gemv_q8(benchmark::State& state) {
  BM_gemv<Q, Path::int8>(state);
}
template <class Q>
void BM_gemv_packed(benchmark::State& state) {
  BM_gemv<Q, Path::packed>(state);
}
template <class Q>
void BM_gemv_q8_packed(benchmark::State& state) {
  BM_gemv<Q, Path::packed_int8>(state);
}
template <class Q>
void BM_gemv_q8_tiled(benchmark::State& state) {
  BM_gemv<Q, Path::tiled_int8>(state);
}
template <class Q>
void BM_gemv_mma(benchmark::State& state) {
  BM_gemv<Q, Path::mma>(state);
}
template <class Q>
void BM_gemv_normed(benchmark::State& state) {
  BM_gemv<Q, Path::normed>(state);
}
template <class Q>
void BM_gemv_residual(benchmark::State& state) {
  BM_gemv<Q, Path::residual>(state);
}

// The weight kernel as a decoding step meets it: back to back in a CUDA Graph, each launch over its own
// copy of the matrix (enough copies to hold over twice L2 together, so every launch reads its weights from
// DRAM as a step's launches do); time per launch = replay time / launches. BM_gemv times one launch
// between events after an L2 flush, so its figure includes the launch latency that a step's graph
// overlaps (BM_empty_launch measures that floor); this one does not. range(3): 1 launches early
// (cuda/launch.cuh: a launch's blocks start, and ask L2 for their rows, while the launch before it runs),
// as Forward::launch_early does. Paths as BM_gemv's (no reference kernel).
template <class Q, Path P>
void BM_gemv_stream(benchmark::State& state) {
  bench::guarded(state, [&] {
    const Device& dev = device();
    if (!dev.ok) {
      state.SkipWithError(dev.why.c_str());
      return;
    }
    const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
    const int m = static_cast<int>(state.range(2));
    const bool early = state.range(3) == 1;
    if (early && !cuda::early_launch_supported()) {
      state.SkipWithError("no early launches on this device");
      return;
    }
    if constexpr (P == Path::mma) {
      if (!cuda::gemv_mma_supported<Q>()) {
        state.SkipWithError("gemv_mma does not run here (F16 / BF16 on sm_80 or newer)");
        return;
      }
    }
    constexpr bool int8 = P == Path::int8 || P == Path::packed_int8 || P == Path::tiled_int8;
    constexpr bool packed = P == Path::packed || P == Path::packed_int8;
    const std::size_t wbytes = static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols));
    const std::size_t fill = static_cast<std::size_t>(dev.l2_bytes) * 5 / 2 / wbytes + 1;  // copies over 2.5 x L2
    const int copies = static_cast<int>(std::min<std::size_t>(64, std::max<std::size_t>(2, fill)));
    std::vector<std::unique_ptr<Operands<Q>>> ops;
    std::vector<std::unique_ptr<cuda::PackedMatrix<Q>>> packs;
    std::vector<std::unique_ptr<cuda::TiledMatrix<Q>>> tiles;
    std::vector<MatrixView<Q>> views;
    for (int c = 0; c < copies; ++c) {
      ops.push_back(std::make_unique<Operands<Q>>(rows, cols, m));
      views.push_back(ops.back()->view(rows, cols));
      if constexpr (packed) {
        packs.push_back(std::make_unique<cuda::PackedMatrix<Q>>(views.back()));
        views.back() = packs.back()->view();
      }
      if constexpr (P == Path::tiled_int8) {
        tiles.push_back(std::make_unique<cuda::TiledMatrix<Q>>(views.back()));
        views.back() = tiles.back()->view();
      }
    }
    const std::size_t n = static_cast<std::size_t>(m) * cols;
    cuda::DeviceBuffer<std::int8_t> q(int8 ? n : 0);
    cuda::DeviceBuffer<float> d(int8 ? n / quant::qk : 0);
    if (int8) cuda::check(cuda::quantize_activations(ops[0]->x, m, cols, q.data(), d.data()), "quantize_activations");
    const quant::Q8Rows x8{q.data(), d.data()};
    // The setup ran on the legacy stream, which the timed (non-blocking) stream does not wait for.
    cuda::check(cudaDeviceSynchronize(), "benchmark setup");

    const int launches = copies * ((32 + copies - 1) / copies);
    bench::CapturedGraph graph(cudaStreamNonBlocking);
    graph.capture([&](cudaStream_t stream) {
      for (int k = 0; k < launches; ++k) {
        const cuda::Launch on(stream, early && k > 0);  // the first follows nothing of the graph (as in Forward)
        const Operands<Q>& o = *ops[static_cast<std::size_t>(k % copies)];
        const MatrixView<Q>& w = views[static_cast<std::size_t>(k % copies)];
        if constexpr (int8) cuda::check(cuda::gemv_q8(w, x8, m, o.y, on), "gemv_q8");
        else if constexpr (P == Path::mma) cuda::check(cuda::gemv_mma(w, o.x, m, o.y, on), "gemv_mma");
        else cuda::check(cuda::gemv(w, o.x, m, o.y, on), "gemv");
      }
    });
    const cudaStream_t stream = graph.stream();
    const cudaGraphExec_t exec = graph.exec();
    cuda::check(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");  // warm-up: the graph's first upload
    cudaEvent_t t0, t1;
    cuda::check(cudaEventCreate(&t0), "cudaEventCreate");
    cuda::check(cudaEventCreate(&t1), "cudaEventCreate");
    for (auto _ : state) {
      cudaEventRecord(t0, stream);
      cudaGraphLaunch(exec, stream);
      cudaEventRecord(t1, stream);
      cudaEventSynchronize(t1);
      float ms = 0;
      cudaEventElapsedTime(&ms, t0, t1);
      state.SetIterationTime(ms * 1e-3 / launches);
    }
    cuda::check(cudaGetLastError(), "benchmarked graph");
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    const double activation_bytes =
        int8 ? static_cast<double>(n) * (1.0 + 4.0 / quant::qk) : 4.0 * static_cast<double>(n);
    bench::bandwidth_counters(state, static_cast<double>(wbytes) + activation_bytes + 4.0 * m * rows);
    state.counters["copies"] = copies;
    state.counters["copy_bw_GBps"] = dev.copy_bw / 1e9;
  });
}

// cuda::quantize_activations of m rows of range(0) floats.
void BM_quantize_activations(benchmark::State& state) {
  bench::guarded(state, [&] {
    const int cols = static_cast<int>(state.range(0)), m = static_cast<int>(state.range(1));
    const Operands<quant::F32> o(1, cols, m);
    const std::size_t n = static_cast<std::size_t>(m) * cols;
    cuda::DeviceBuffer<std::int8_t> q(n);
    cuda::DeviceBuffer<float> d(n / quant::qk);
    bench::time_iterations(state, [&] {
      cuda::check(cuda::quantize_activations(o.x, m, cols, q.data(), d.data()), "quantize_activations");
    });
    bench::bandwidth_counters(state, static_cast<double>(n) * (4.0 + 1.0 + 4.0 / quant::qk));
  });
}

// A layer's fused decoding launches against one launch per matrix, at 7B shapes: range(0) 0 = Q/K/V
// (4096 + 1024 + 1024 rows of 4096, gemv_batch), 1 = gate/up with SwiGLU (2 x 14336 rows, gemv_swiglu);
// range(1) = M; range(2) 1 = fused, 0 = one gemv per matrix (and the SwiGLU kernel).
template <class Q>
void BM_layer_fusion(benchmark::State& state) {
  bench::guarded(state, [&] {
    const bool ffn = state.range(0) == 1, fused = state.range(2) == 1;
    const int m = static_cast<int>(state.range(1)), cols = 4096;
    const std::vector<int> rows = ffn ? std::vector<int>{14336, 14336} : std::vector<int>{4096, 1024, 1024};
    std::vector<std::unique_ptr<Operands<Q>>> ops;
    std::vector<MatrixView<Q>> views;
    std::vector<float*> ys;
    double bytes = 4.0 * m * cols;
    for (int r : rows) {
      ops.push_back(std::make_unique<Operands<Q>>(r, cols, m));
      views.push_back(ops.back()->view(r, cols));
      ys.push_back(ops.back()->y);
      bytes += static_cast<double>(ops.back()->wbytes) + 4.0 * m * r;
    }
    const float* x = ops[0]->x;  // every matrix reads the same activations
    const int n = static_cast<int>(rows.size());
    bench::time_iterations(state, [&] {
      if (fused && ffn) {
        cuda::check(cuda::gemv_swiglu(views[0], views[1], x, m, ys[0], ys[1]), "gemv_swiglu");
      } else if (fused) {
        cuda::check(cuda::gemv_batch(views.data(), ys.data(), n, x, m), "gemv_batch");
      } else {
        for (int j = 0; j < n; ++j) cuda::check(cuda::gemv(views[j], x, m, ys[j]), "gemv");
        if (ffn) {
          cuda::check(cuda::kernels::launch_swiglu(ys[0], ys[1], static_cast<long>(m) * rows[0], nullptr), "swiglu");
        }
      }
    });
    bench::bandwidth_counters(state, bytes);
  });
}

template <class Q>
void BM_gemm(benchmark::State& state) {
  bench::guarded(state, [&] {
    if (!device().ok || !cuda::gemm_supported<Q>()) {
      state.SkipWithError("no GPU with TF32 tensor cores");
      return;
    }
    const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
    const int m = static_cast<int>(state.range(2)), tile = static_cast<int>(state.range(3));
    const Operands<Q> o(rows, cols, m);
    const MatrixView<Q> view = o.view(rows, cols);
    bench::time_iterations(state, [&] {  // tile 0: gemm's choice; 64 or 32 weight rows a block
      cuda::check(tile == 0 ? cuda::gemm(view, o.x, m, o.y) : cuda::detail::launch_gemm(view, o.x, m, o.y, {}, tile),
                  "gemm");
    });
    state.counters["flop_per_second"] =
        benchmark::Counter(2.0 * rows * cols * m, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["rows_per_second"] = benchmark::Counter(m, benchmark::Counter::kIsIterationInvariantRate);
    bench::bandwidth_counters(state, static_cast<double>(o.wbytes) + 4.0 * m * (static_cast<double>(cols) + rows));
  });
}

// A tensor-core gemv's prefill form (one launch per 64 rows for M > 8), to set beside BM_gemm: the same
// counters.
template <class Q, Path P>
void prefill(benchmark::State& state) {
  BM_gemv<Q, P>(state);
  const double rows = static_cast<double>(state.range(0)), cols = static_cast<double>(state.range(1));
  const double m = static_cast<double>(state.range(2));
  state.counters["flop_per_second"] =
      benchmark::Counter(2.0 * rows * cols * m, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["rows_per_second"] = benchmark::Counter(m, benchmark::Counter::kIsIterationInvariantRate);
}
// The tiled kernel's (gemv_q8 over a tiled matrix, 8-bit activations).
template <class Q>
void BM_prefill_q8_tiled(benchmark::State& state) {
  prefill<Q, Path::tiled_int8>(state);
}
// gemv_mma's over F16 / BF16 matrices in place (what a Forward with tensor_core_decoding prefills with).
template <class Q>
void BM_prefill_mma(benchmark::State& state) {
  prefill<Q, Path::mma>(state);
}

const std::vector<std::pair<int, int>> llm_shapes{{4096, 4096},  {11008, 4096}, {4096, 11008}, {14336, 4096},
                                                 {4096, 14336}, {32000, 4096}, {128256, 4096}};

void shapes(benchmark::internal::Benchmark* b) {
  for (auto [r, c] : llm_shapes)
    for (int m : {1, 2, 4, 5, 8}) b->Args({r, c, m});
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}
// The reference kernel at M = 1 and 5, the baseline of the interleaved one.
void baseline_shapes(benchmark::internal::Benchmark* b) {
  for (auto [r, c] : llm_shapes)
    for (int m : {1, 5}) b->Args({r, c, m});
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(BM_gemv, quant::F32)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::F16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::BF16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::F8_E4M3)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv, quant::Q4_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_q8, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_q8, quant::Q4_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_packed, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_packed, quant::Q4_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_q8_packed, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_q8_packed, quant::Q4_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_q8_tiled, quant::Q8_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_q8_tiled, quant::Q4_0)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_mma, quant::F16)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_gemv_mma, quant::BF16)->Apply(shapes);
// The fused norm's launches at M = 1 and 5, against BM_gemv: what normalising as it loads costs a launch
// that reads the norm's output (Q/K/V, gate/up, the LM head), and what the residual add and the last
// block's scales cost one that adds to the stream (the output and down projections).
BENCHMARK_TEMPLATE(BM_gemv_normed, quant::F16)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_normed, quant::Q8_0)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_normed, quant::Q4_0)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_residual, quant::F16)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_residual, quant::Q8_0)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_residual, quant::Q4_0)->Apply(baseline_shapes);
// Back to back in a graph: the types' default paths (F16, the packed 8-bit Q8_0 / Q4_0), the tiled 8-bit
// kernel (tensor cores) and float Q4_0 in place, M = 1 and 5, plain and early launches.
void stream_shapes(benchmark::internal::Benchmark* b) {
  for (auto [r, c] : llm_shapes)
    for (int m : {1, 5})
      for (int early : {0, 1}) b->Args({r, c, m, early});
  // Each iteration replays 32 or more launches: a fixed count keeps the run short (min_time counts the
  // per-launch time).
  b->UseManualTime()->Iterations(20)->Unit(benchmark::kMicrosecond);
}
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::F16, Path::interleaved)->Apply(stream_shapes);
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::F16, Path::mma)->Apply(stream_shapes);
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::Q4_0, Path::interleaved)->Apply(stream_shapes);
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::Q8_0, Path::packed_int8)->Apply(stream_shapes);
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::Q4_0, Path::packed_int8)->Apply(stream_shapes);
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::Q8_0, Path::tiled_int8)->Apply(stream_shapes);
BENCHMARK_TEMPLATE(BM_gemv_stream, quant::Q4_0, Path::tiled_int8)->Apply(stream_shapes);
BENCHMARK(BM_quantize_activations)
    ->ArgsProduct({{4096, 14336}, {1, 5}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_gemv_reference, quant::F16)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_reference, quant::BF16)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_reference, quant::Q8_0)->Apply(baseline_shapes);
BENCHMARK_TEMPLATE(BM_gemv_reference, quant::Q4_0)->Apply(baseline_shapes);

BENCHMARK_TEMPLATE(BM_layer_fusion, quant::F16)
    ->ArgsProduct({{0, 1}, {1, 5}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_layer_fusion, quant::Q4_0)
    ->ArgsProduct({{0, 1}, {1, 5}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void prefill_shapes(benchmark::internal::Benchmark* b) {
  for (auto [r, c] : std::vector<std::pair<int, int>>{{4096, 4096}, {14336, 4096}, {4096, 14336}})
    for (int m : {64, 512, 2048}) b->Args({r, c, m});
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

// The TF32 gemm: the prefill shapes (and K/V's 1024 rows) with the tile gemm picks (last argument 0), and
// at M = 64 (a decoder's prefill block) with each tile of weight rows.
void gemm_shapes(benchmark::internal::Benchmark* b) {
  for (auto [r, c] : std::vector<std::pair<int, int>>{{1024, 4096}, {4096, 4096}, {14336, 4096}, {4096, 14336}}) {
    for (int m : {64, 512, 2048}) b->Args({r, c, m, 0});
    for (int tile : {cuda::kernels::gemm_tile_r, cuda::kernels::gemm_narrow_tile_r}) b->Args({r, c, 64, tile});
  }
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(BM_gemm, quant::F16)->Apply(gemm_shapes);
BENCHMARK_TEMPLATE(BM_gemm, quant::F8_E4M3)->Apply(gemm_shapes);
BENCHMARK_TEMPLATE(BM_gemm, quant::Q8_0)->Apply(gemm_shapes);
BENCHMARK_TEMPLATE(BM_gemm, quant::Q4_0)->Apply(gemm_shapes);
BENCHMARK_TEMPLATE(BM_prefill_q8_tiled, quant::Q8_0)->Apply(prefill_shapes);
BENCHMARK_TEMPLATE(BM_prefill_q8_tiled, quant::Q4_0)->Apply(prefill_shapes);
BENCHMARK_TEMPLATE(BM_prefill_mma, quant::F16)->Apply(prefill_shapes);
BENCHMARK_TEMPLATE(BM_prefill_mma, quant::BF16)->Apply(prefill_shapes);

}  // namespace

BENCHMARK_MAIN();
