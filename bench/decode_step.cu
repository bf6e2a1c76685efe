// CUDA decoding at 7B-class dimensions with random weights (32 layers, hidden 4096, 32 heads, 8 KV heads,
// FFN 14336, vocabulary 128256): a whole AR step, draft step (SkipRange<8, 24>, one simultaneous pass of
// K = 4) and verify step (K + 1 = 5 tokens), each forward plus the device argmax, at a context of 512;
// plus attention over contexts 128..32k, the residual add with RMSNorm, an empty launch (the timing
// floor), and the argmax, the sampling warp and draw, and speculative sampling's verification over 32k /
// 128k vocabularies. Figures are tokens/s and % of the bandwidth roofline: bytes of weights and KV read
// per step over the copy bandwidth measured in this binary (bench/device.hpp). Each step runs with
// direct launches (launch gaps count), replayed from a CUDA Graph (as cuda::Decoder runs it), and from a
// graph of early launches (Forward::launch_early, cuda/launch.cuh), and the graphs again with the norms
// fused into the weight launches (Forward::fused_norms); the Q8_0 and Q4_0 steps also under
// Int8Activations (8-bit activations, cuda::gemv_q8), and both again with the weights in the packed layout;
// and the 8-bit steps with the weights tiled (the tensor-core kernel, kernels/gemv_tiled.cuh).

#include <benchmark/benchmark.h>

#include <skippy/skippy.hpp>

#include "device.hpp"

#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace skippy;
namespace sc = skippy::cuda;

namespace {

using bench::device;

ModelConfig llama_7b_class() {
  ModelConfig c;
  c.n_layers = 32;
  c.dim = 4096;
  c.n_heads = 32;
  c.n_kv_heads = 8;
  c.ffn_dim = 14336;
  c.vocab = 128256;
  c.mask_token_id = 128255;
  return c;
}

// A device model of random weights: one host-quantised tile of valid blocks copied over every matrix
// (values repeat, bytes are all read: bandwidth is what is measured). packed: every matrix but the token
// embedding repacked on the device (cuda::pack_matrix), as DeviceModel's packed upload lays them out;
// tiled: tiled on the device (cuda::tile_matrix).
template <class Q>
class RandomDeviceModel {
 public:
  RandomDeviceModel(const ModelConfig& c, bool packed, bool tiled) : tiled_(tiled) {
    std::vector<float> tile_f(std::size_t{1} << 20);
    std::uint64_t s = 88172645463325252ull;
    for (float& v : tile_f) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      v = (static_cast<float>(s >> 40) / static_cast<float>(1 << 24) - 0.5f) * 0.05f;
    }
    tile_ = quant::quantize<Q>(tile_f);
    view_.config = c;
    const int d = c.dim, kv = c.kv_dim(), f = c.ffn_dim;
    view_.token_embd = matrix(c.vocab, d, false);
    view_.output = matrix(c.vocab, d, packed);
    view_.output_norm = ones(d);
    for (int l = 0; l < c.n_layers; ++l) {
      LayerView<Q> L;
      L.attn_norm = ones(d);
      L.ffn_norm = ones(d);
      L.wq = matrix(d, d, packed);
      L.wk = matrix(kv, d, packed);
      L.wv = matrix(kv, d, packed);
      L.wo = matrix(d, d, packed);
      L.w_gate = matrix(f, d, packed);
      L.w_up = matrix(f, d, packed);
      L.w_down = matrix(d, f, packed);
      view_.layers.push_back(L);
    }
  }
  const ModelView<Q>& view() const { return view_; }

 private:
  MatrixView<Q> matrix(int rows, int cols, bool pack) {
    const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols / Q::block_size);
    sc::DeviceBuffer<typename Q::block> blocks(n);
    for (std::size_t at = 0; at < n; at += tile_.size()) {
      const std::size_t m = std::min(tile_.size(), n - at);
      sc::check(cudaMemcpy(blocks.data() + at, tile_.data(), m * sizeof(tile_[0]), cudaMemcpyHostToDevice),
                "fill weights");
    }
    MatrixView<Q> v{blocks.data(), rows, cols};
    if constexpr (quant::is_int_blocks_v<Q>) {
      if (pack && tiled_) {
        const std::size_t bytes = quant::Tiled<Q>::bytes(rows, cols);
        sc::DeviceBuffer<typename Q::block> tiled((bytes + sizeof(typename Q::block) - 1) / sizeof(typename Q::block));
        sc::check(sc::tile_matrix(v, tiled.data()), "tile weights");
        sc::check(cudaDeviceSynchronize(), "tile weights");
        blocks = std::move(tiled);
        v.data = blocks.data();
        v.tiled = true;
      } else if (pack) {
        sc::DeviceBuffer<typename Q::block> packed(n);
        sc::check(sc::pack_matrix(v, packed.data()), "pack weights");
        sc::check(cudaDeviceSynchronize(), "pack weights");
        blocks = std::move(packed);
        v.data = blocks.data();
        v.packed = true;
      }
    }
    buffers_.push_back(std::move(blocks));
    return v;
  }
  const float* ones(int n) {
    floats_.emplace_back(static_cast<std::size_t>(n));
    const std::vector<float> one(static_cast<std::size_t>(n), 1.0f);
    floats_.back().upload(one.data(), one.size());
    return floats_.back().data();
  }
  bool tiled_;
  std::vector<typename Q::block> tile_;
  ModelView<Q> view_;
  std::vector<sc::DeviceBuffer<typename Q::block>> buffers_;
  std::vector<sc::DeviceBuffer<float>> floats_;
};

enum Step { ar = 0, draft = 1, verify = 2 };
constexpr int K = 4, context = 512, skip_begin = 8, skip_end = 24;

// The random 7B-class model of storage type Q in a layout, built once (minutes of copies) and shared by the
// activation policies.
template <class Q, bool Packed, bool Tiled>
RandomDeviceModel<Q>& step_model(const ModelConfig& c) {
  static std::unique_ptr<RandomDeviceModel<Q>> model;
  if (!model) model = std::make_unique<RandomDeviceModel<Q>>(c, Packed || Tiled, Tiled);
  return *model;
}

// A: the activation policy (Int8Activations: cuda::gemv_q8 and the activation quantiser in every layer).
// Packed: the weights in the packed layout (quant/packed.hpp); Tiled: in the tiled one (quant/tiled.hpp,
// Int8Activations only).
template <class Q, class A = FloatActivations, bool Packed = false, bool Tiled = false>
void BM_step(benchmark::State& state) {
  bench::guarded(state, [&] {
    const auto kind = static_cast<Step>(state.range(0));
    const ModelConfig c = llama_7b_class();
    RandomDeviceModel<Q>* model = &step_model<Q, Packed, Tiled>(c);
    sc::Forward<Q, A> fwd(model->view(), 16, context + K + 1);
    sc::KvCache cache = fwd.make_cache();
    std::vector<int> ids(static_cast<std::size_t>(context + K + 1), 7);
    sc::DeviceBuffer<int> tokens(ids.size()), out(static_cast<std::size_t>(K + 2));
    tokens.upload(ids.data(), ids.size());
    // The context's K/V as zeros instead of a prefill: attention's time does not depend on the values, and a
    // 512-token prefill of the 7B model per call (Google Benchmark calls this 2-3 times a case, for 200
    // cases) outlived gpu_check.sh's limit for the binary.
    const std::size_t kv_bytes_each = sc::KvCache::bytes(c.n_layers, cache.capacity(), c.kv_dim()) / 2;
    sc::check(cudaMemset(cache.k(0), 0, kv_bytes_each), "zero the cache");
    sc::check(cudaMemset(cache.v(0), 0, kv_bytes_each), "zero the cache");
    cache.reserve(0, context);
    cache.set_length(context);
    const int m = kind == ar ? 1 : kind == draft ? K : K + 1;
    const LayerRange skip = kind == draft ? LayerRange{skip_begin, skip_end} : LayerRange{};
    sc::DeviceBuffer<float> logits(static_cast<std::size_t>(m) * c.vocab);
    const sc::ArgmaxScratchBuffer scratch(m);
    // range(1): 0 direct launches, 1 a CUDA Graph, 2 a graph of early launches; 3 and 4: 1 and 2 with the
    // grouped attention; 5 and 6: 1 and 2 with tensor-core decoding (F16 / BF16: gemv_mma); 7 and 8: 1 and 2
    // with the norms fused into the weight launches (Forward::fused_norms; float activations).
    const int mode = static_cast<int>(state.range(1));
    const bool graph = mode != 0, early = mode == 2 || mode == 4 || mode == 6 || mode == 8,
               grouped = mode == 3 || mode == 4;
    const bool mma = mode == 5 || mode == 6, fused = mode == 7 || mode == 8;
    fwd.launch_early(early);
    fwd.grouped_attention(grouped);
    fwd.tensor_core_decoding(mma);
    fwd.fused_norms(fused);
    if (fused && !fwd.uses_fused_norms()) {
      state.SkipWithError("fused norms do not run here");
      return;
    }
    if (grouped && !fwd.uses_grouped_attention()) {
      state.SkipWithError("the grouped attention does not run here");
      return;
    }
    if (mma && !fwd.uses_tensor_core_decoding()) {
      state.SkipWithError("tensor-core decoding does not run here");
      return;
    }
    if (!graph) {
      const auto step = [&] {
        // Each iteration rewrites slots context.. (reserve drops the previous iteration's block).
        fwd.run(tokens.data() + context, m, context, cache, skip, logits.data(), nullptr);
        sc::check(
            sc::kernels::launch_argmax(logits.data(), c.vocab, m, out.data(), 1, out.data() + K + 1, scratch.get()),
            "argmax");
      };
      step();  // untimed: the first launches load their kernels' modules
      sc::check(cudaDeviceSynchronize(), "warm-up step");
      bench::time_iterations(state, step);
    } else {
      // The pass and its argmax captured once in a CUDA Graph, the position read on the device (as
      // cuda::Decoder does), replayed on a blocking stream so the timing events on the default stream order it.
      cache.reserve(context, m);
      sc::DeviceBuffer<int> position(1);
      position.upload(&context, 1);
      bench::CapturedGraph graph;
      graph.capture([&](cudaStream_t stream) {
        fwd.run(tokens.data() + context, m, sc::kernels::Position{0, position.data()}, cache, skip, logits.data(),
                stream);
        sc::check(sc::kernels::launch_argmax(logits.data(), c.vocab, m, out.data(), 1, out.data() + K + 1,
                                             scratch.get(), stream),
                  "argmax");
      });
      const auto replay = [&] { sc::check(cudaGraphLaunch(graph.exec(), graph.stream()), "graph launch"); };
      replay();  // untimed: the first launch uploads the graph
      sc::check(cudaStreamSynchronize(graph.stream()), "warm-up replay");
      bench::time_iterations(state, replay);
    }
    const int layers = c.n_layers - (skip.end - skip.begin);
    const ModelView<Q>& v = model->view();
    const auto& l0 = v.layers[0];
    const double layer_bytes = static_cast<double>(l0.wq.bytes() + l0.wk.bytes() + l0.wv.bytes() + l0.wo.bytes() +
                                                   l0.w_gate.bytes() + l0.w_up.bytes() + l0.w_down.bytes());
    const double kv_bytes = 2.0 * 4.0 * c.kv_dim() * (context + m) * layers;
    const double step_bytes = layers * layer_bytes + static_cast<double>(v.output.bytes()) + kv_bytes;
    if (kind != draft)  // tokens through the full model per second (AR: tokens/s of plain decoding)
      state.counters["tokens_per_second"] = benchmark::Counter(m, benchmark::Counter::kIsIterationInvariantRate);
    else  // the K drafts one simultaneous pass proposes, per second
      state.counters["draft_tokens_per_second"] = benchmark::Counter(m, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["steps_per_second"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
    bench::bandwidth_counters(state, step_bytes);  // pct_of_copy_bw here is the % of the bandwidth roofline
    const char* what = kind == ar ? "AR step (1 token)" : kind == draft ? "draft step (K=4, skip [8,24))"
                                                                       : "verify step (5 tokens)";
    const char* launches = !graph ? ", direct launches" : !early ? ", CUDA Graph"
                           : fwd.launches_early() ? ", CUDA Graph of early launches"
                                                  : ", CUDA Graph (early launch unsupported here)";
    state.SetLabel(std::string(what) + launches + (grouped ? ", grouped attention" : "") +
                   (mma ? ", tensor-core decoding" : "") + (fused ? ", fused norms" : "") + ", " + A::name +
                   " activations" + (Packed ? ", packed weights" : "") + (Tiled ? ", tiled weights" : ""));
  });
}

// One layer's attention for m rows at a context, range(2) = 1: kernels::grouped_attention (one block per
// KV head, row tile and chunk), else kernels::attention (one per query head, row and chunk).
void BM_attention(benchmark::State& state) {
  bench::guarded(state, [&] {
    const int ctx = static_cast<int>(state.range(0)), m = static_cast<int>(state.range(1));
    const bool grouped = state.range(2) != 0;
    const ModelConfig c = llama_7b_class();
    const int d = c.dim, kv = c.kv_dim(), hd = c.head_dim();
    sc::DeviceBuffer<float> q(static_cast<std::size_t>(m) * d), k(static_cast<std::size_t>(ctx + m) * kv),
        v(k.size()), partial(sc::kernels::attention_partial_floats(m, c.n_heads, hd, ctx + m)), out(q.size());
    sc::DeviceBuffer<unsigned> counters(sc::kernels::attention_counters(m, c.n_heads));
    cudaMemset(counters.data(), 0, counters.size() * sizeof(unsigned));
    cudaMemset(q.data(), 0, q.size() * sizeof(float));
    cudaMemset(k.data(), 0, k.size() * sizeof(float));
    cudaMemset(v.data(), 0, v.size() * sizeof(float));
    if (grouped && !sc::kernels::grouped_attention_supported(hd, c.group_size())) {
      state.SkipWithError("the grouped attention does not run here");
      return;
    }
    const int splits = (ctx + m - 1) / sc::kernels::attention_chunk + 1;
    const sc::kernels::Position at = sc::kernels::Position::at(ctx);
    bench::time_iterations(state, [&] {
      if (grouped) {
        sc::check(sc::kernels::launch_grouped_attention(q.data(), k.data(), v.data(), m, c.n_heads, c.n_kv_heads, hd,
                                                        at, splits, sc::kernels::attention_splits(ctx + m), 0.088f,
                                                        partial.data(), counters.data(), out.data(), nullptr, nullptr,
                                                        nullptr),
                  "grouped attention");
      } else {
        const dim3 grid(c.n_heads, m, splits);
        sc::kernels::attention<<<grid, sc::kernels::attention_threads, sc::kernels::attention_smem(hd)>>>(
            q.data(), k.data(), v.data(), d, kv, hd, c.group_size(), at, sc::kernels::attention_splits(ctx + m), 0.088f,
            partial.data(), counters.data(), out.data());
      }
    });
    bench::bandwidth_counters(state, 2.0 * 4.0 * kv * (ctx + m));  // K and V of one layer
    state.SetLabel(grouped ? "grouped_attention" : "attention");
  });
}

__global__ void empty_kernel() {}

// The harness's floor: an empty launch timed like every kernel here (L2 flush, events, one launch).
// Small kernels' figures (norms, short attention, argmax over 32k) sit close to it; on an H200 they all
// measured ~18 us (bench/results/h200-2026-11-30), whose share of launch and event latency this separates.
void BM_empty_launch(benchmark::State& state) {
  bench::guarded(state, [&] {
    bench::time_iterations(state, [] { empty_kernel<<<1, 32>>>(); });
  });
}

// The residual add and RMSNorm of m rows at the 7B width (two per layer in every step); range(1) = 1: with
// the 8-bit quantisation of its output fused (Int8Activations' decoding blocks).
void BM_rmsnorm(benchmark::State& state) {
  bench::guarded(state, [&] {
    const int m = static_cast<int>(state.range(0)), d = llama_7b_class().dim;
    const bool q8 = state.range(1) == 1;
    sc::DeviceBuffer<float> x(static_cast<std::size_t>(m) * d), add(x.size()), w(static_cast<std::size_t>(d)),
        y(x.size()), scales(x.size() / quant::qk);
    sc::DeviceBuffer<std::int8_t> q(x.size());
    cudaMemset(x.data(), 0, x.size() * sizeof(float));
    cudaMemset(add.data(), 0, add.size() * sizeof(float));
    cudaMemset(w.data(), 0, w.size() * sizeof(float));
    bench::time_iterations(state, [&] {
      sc::kernels::add_rmsnorm<<<m, sc::kernels::rmsnorm_threads, sc::kernels::rmsnorm_smem(d)>>>(
          x.data(), add.data(), w.data(), y.data(), d, 1e-5f, q8 ? q.data() : nullptr, q8 ? scales.data() : nullptr);
    });
    // x, add, w read; x, y written (and q, scales)
    bench::bandwidth_counters(state, 4.0 * (4.0 * m * d + d) + (q8 ? (1.0 + 4.0 / quant::qk) * m * d : 0.0));
  });
}

void BM_argmax(benchmark::State& state) {
  bench::guarded(state, [&] {
    const int n = static_cast<int>(state.range(0)), rows = static_cast<int>(state.range(1));
    sc::DeviceBuffer<float> x(static_cast<std::size_t>(rows) * n);
    sc::DeviceBuffer<int> out(static_cast<std::size_t>(rows) + 1);
    const sc::ArgmaxScratchBuffer scratch(rows);
    cudaMemset(x.data(), 0, x.size() * sizeof(float));
    cudaError_t failed = cudaSuccess;
    bench::time_iterations(state, [&] {
      const cudaError_t e =
          sc::kernels::launch_argmax(x.data(), n, rows, out.data(), 1, out.data() + rows, scratch.get());
      if (e != cudaSuccess) failed = e;
    });
    if (failed != cudaSuccess) state.SkipWithError(cudaGetErrorString(failed));
    bench::bandwidth_counters(state, 4.0 * rows * n);
  });
}

// Gaussian logits (scale 2), rows x n, on the device.
sc::DeviceBuffer<float> random_logits(int rows, int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 2.0f);
  std::vector<float> h(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n));
  for (float& v : h) v = g(rng);
  sc::DeviceBuffer<float> d(h.size());
  d.upload(h.data(), h.size());
  return d;
}

// The warp parameters of a benchmark argument: 0 = temperature only, 1 = top-k 40 and top-p 0.95, 2 =
// top-p 0.95 alone. On these Gaussian logits the threads' maxima hold too little mass to bound top-p
// alone, so mode 2 is the warp's whole-row search (kernels/sample.cuh), its slowest way (by one block, in
// the chunked warp too).
sampling::WarpParams warp_of(long mode) {
  if (mode == 0) return {0.8f, 0, 1.0f};
  return mode == 1 ? sampling::WarpParams{0.8f, 40, 0.95f} : sampling::WarpParams{0.8f, 0, 0.95f};
}

// A step's draw key (seed 7, position 100) on the device.
sc::DeviceBuffer<sc::kernels::StepKey> step_key() {
  sc::DeviceBuffer<sc::kernels::StepKey> key(1);
  const sc::kernels::StepKey h{7, 100, 0};
  key.upload(&h, 1);
  return key;
}

// Draft draws: warp each of `rows` rows and draw a token, one block a row (kernels::warp_sample_rows, the
// last argument 0) or a row's chunks over many blocks (launch_warp_sample_rows, kernels/warp_chunks.cuh; 1).
void BM_sample(benchmark::State& state) {
  bench::guarded(state, [&] {
    const int n = static_cast<int>(state.range(0)), rows = static_cast<int>(state.range(1));
    const bool chunked = state.range(3) != 0;
    const auto x = random_logits(rows, n, 5);
    sc::DeviceBuffer<float> q(x.size());
    sc::DeviceBuffer<int> out(static_cast<std::size_t>(rows) + 1);
    const sc::WarpScratchBuffer scratch(n, rows);
    const sampling::WarpParams w = warp_of(state.range(2));
    const auto key = step_key();
    cudaError_t failed = cudaSuccess;
    bench::time_iterations(state, [&] {
      const cudaError_t e =
          chunked ? sc::kernels::launch_warp_sample_rows(x.data(), n, rows, w, q.data(), 0, key.data(), out.data(),
                                                         out.data() + rows, scratch.get())
                  : sc::launch(sc::kernels::warp_sample_rows<>, dim3(static_cast<unsigned>(rows)),
                               sc::kernels::sample_threads, 0, nullptr, x.data(), n, w, q.data(), 0, key.data(),
                               out.data(), out.data() + rows);
      if (e != cudaSuccess) failed = e;
    });
    if (failed != cudaSuccess) state.SkipWithError(cudaGetErrorString(failed));
    bench::bandwidth_counters(state, 8.0 * rows * n);  // logits read + probabilities written, once
  });
}

// Speculative sampling's verification of K = 4 drafts: warp the 5 target rows, then the acceptance (tests,
// residual on rejection, final draw), both over the rows' chunks (kernels/warp_chunks.cuh).
void BM_speculative_verify(benchmark::State& state) {
  bench::guarded(state, [&] {
    const int n = static_cast<int>(state.range(0)), k = 4;
    const auto draft = random_logits(k, n, 6), target = random_logits(k + 1, n, 7);
    sc::DeviceBuffer<float> p(target.size()), q(draft.size()), q0(draft.size());
    sc::DeviceBuffer<int> state_ints(16);
    const sc::WarpScratchBuffer scratch(n, k + 1);
    const sampling::WarpParams w = warp_of(state.range(1));
    const auto key = step_key();
    cudaError_t failed = sc::kernels::launch_warp_sample_rows(draft.data(), n, k, w, q0.data(), 0, key.data(),
                                                              state_ints.data() + 5, state_ints.data() + 2,
                                                              scratch.get());
    // A rejection overwrites q with the residual: restored before the flush, outside the timed launches.
    const auto restore = [&] {
      sc::check(cudaMemcpyAsync(q.data(), q0.data(), q0.size() * sizeof(float), cudaMemcpyDeviceToDevice), "restore q");
    };
    bench::time_iterations(state, restore, [&] {
      const cudaError_t e =
          sc::kernels::launch_warp_rows(target.data(), n, k + 1, w, p.data(), state_ints.data() + 2, scratch.get());
      if (e != cudaSuccess) failed = e;
      const cudaError_t a = sc::kernels::launch_speculative_accept(p.data(), q.data(), state_ints.data() + 4, k, n,
                                                                   key.data(), state_ints.data(), state_ints.data() + 4,
                                                                   nullptr, scratch.get());
      if (a != cudaSuccess) failed = a;
    });
    if (failed != cudaSuccess) state.SkipWithError(cudaGetErrorString(failed));
    bench::bandwidth_counters(state, 8.0 * (k + 1) * n + 8.0 * k * n);
  });
}

// The small kernels first: they must run even if the step benchmarks outlive the binary's time limit.
BENCHMARK(BM_attention)
    ->ArgsProduct({{128, 512, 1024, 4096, 16384, 32768}, {1, 5}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_empty_launch)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rmsnorm)->ArgsProduct({{1, 5}, {0, 1}})->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_argmax)->ArgsProduct({{32000, 128256}, {1, 5}})->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample)
    ->ArgsProduct({{32000, 128256}, {1, 4}, {0, 1, 2}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_speculative_verify)->ArgsProduct({{32000, 128256}, {0, 1, 2}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Every step kind, with direct launches, as a graph, and as a graph of early launches; the graphs again
// with the grouped attention.
void step_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{ar, draft, verify}, {0, 1, 2, 3, 4}})->UseManualTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_TEMPLATE(BM_step, quant::F16)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::F16)
    ->ArgsProduct({{ar, draft, verify}, {5, 6, 7, 8}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0)->Apply(step_args);
// The norms fused into the weight launches (graph, graph of early launches), for the float arithmetic of
// the quantised types, in place and packed.
void fused_norm_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{ar, draft, verify}, {7, 8}})->UseManualTime()->Unit(benchmark::kMillisecond);
}
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0)->Apply(fused_norm_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0)->Apply(fused_norm_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0, FloatActivations, true)->Apply(fused_norm_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0, FloatActivations, true)->Apply(fused_norm_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0, Int8Activations)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0, Int8Activations)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0, FloatActivations, true)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0, FloatActivations, true)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0, Int8Activations, true)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0, Int8Activations, true)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q8_0, Int8Activations, false, true)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_step, quant::Q4_0, Int8Activations, false, true)->Apply(step_args);

}  // namespace

BENCHMARK_MAIN();
