#pragma once
// CUDA forward pass of a LLaMA model over a block of m tokens at consecutive positions, the device
// counterpart of host::Forward: the same layer sequence, each step a kernel over the host's formula.
// Token ids, activations, logits and the cache live in device memory; every launch goes to one stream
// and nothing synchronises, so a caller may capture a pass in a CUDA Graph.
//
// Workspace: caller-owned device memory of workspace_bytes(config, max_block, capacity) bytes, or owned
// when none is given. max_block bounds m per call (K + 1 for decoding; prefill goes in chunks of it).
// The split attention's partials hold attention_rows rows (or max_block, if fewer) at the capacity's
// splits: a block of more rows runs its attention in row slices where its context is long (one launch per
// slice), so the workspace does not grow with max_block x capacity (7B dims, 64-row prefill blocks, 128k
// positions: 272 MB of partials instead of 1.1 GB).
// The constructor zeroes the arrival counters in it (the split attention's and the SwiGLU quantisation's;
// synchronously).
// Weight products of blocks of gemm_min_rows or more (prefill) run on tensor cores where the device has
// them (gemm.cuh); decoding blocks run gemv, whose rows are the same bits alone or in a block: Q, K and V
// in one launch that also applies RoPE and writes K and V into the cache (gemv_qkv_rope), gate and up
// with SwiGLU in another. With Int8Activations (policy/activations.hpp) a decoding block's activations
// are quantised to 8 bits before each of a layer's four weight launches and the LM head's, and the weight
// kernels run gemv_q8: every producer of those activations quantises its own output (the norms in
// kernels::add_rmsnorm, the attention, the gate/up launch with SwiGLU into a second 8-bit buffer, since it
// reads the first). A decoding layer is then 7 launches either way (8-bit: where the norm stages its rows,
// dim <= kernels::rmsnorm_staged_floats (12256), and heads are whole 32-value blocks; m > 8 takes a weight
// launch per 8 rows).
// launch_early(true) launches every kernel of a pass after its first early (programmatic dependent launch,
// launch.cuh): a kernel's blocks start, and the weight kernels' rows stream into L2, while the kernel before
// it finishes. The same bits either way; off by default until measured (bench/decode_step.cu).
// grouped_attention(true) runs the attention one thread block per KV head instead of per query head
// (kernels/grouped_attention.cuh); also off by default until measured. tensor_core_decoding(true) runs an
// F16 / BF16 model's weight products on tensor cores over float activations (gemv_mma), prefill blocks
// included (one launch per 64 rows, the same bits as decoding blocks); off by default until measured.
// fused_norms(true) runs a decoding layer in 5 launches: the weight launches that add to the residual stream
// leave its rows' rms scales, and those that read a norm's output normalise it as they load it (no norm
// launches; float activations on the interleaved kernel); off by default until measured.
// A model whose matrices are tiled (DeviceModel with Upload::tiled, cuda::TiledMatrix) runs its 8-bit weight
// launches on the tensor-core kernel (kernels/gemv_tiled.cuh), prefill blocks included (one launch per 64
// rows, the same bits as decoding blocks); Int8Activations only.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../model/view.hpp"
#include "../policy/activations.hpp"
#include "../policy/skip_range.hpp"
#include "buffer.cuh"
#include "gemm.cuh"
#include "gemv.cuh"
#include "kernels/attention.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/grouped_attention.cuh"
#include "kv_cache.cuh"
#include "launch.cuh"

namespace skippy::cuda {

template <class Q, class Activations = FloatActivations>
class Forward {
  static_assert(CheckActivations<Activations, Q>::ok);
  static constexpr bool int8 = std::is_same_v<Activations, Int8Activations>;
  static constexpr bool mma_type = kernels::half_mma_type_v<Q> && !int8;  // may run gemv_mma

 public:
  // Rows of the split attention's partials at the capacity's splits: a decoding block of up to 16 rows
  // (K <= 15) runs its attention in one launch at any context; more rows, in slices at long contexts.
  static constexpr int attention_rows = 16;

  // The largest cache: the attention's splits of a row (one per attention_chunk keys) are its grid's z,
  // which CUDA caps at 65535.
  static constexpr int max_capacity = 65535 * kernels::attention_chunk;

  // Bytes of device workspace for blocks of up to max_block tokens and a cache of `capacity` positions.
  static std::size_t workspace_bytes(const ModelConfig& c, int max_block, int capacity) {
    check_sizes(max_block, capacity);
    return Layout(c, max_block, capacity).floats * sizeof(float);
  }

  // model: a ModelView whose pointers are device memory (see DeviceModel). workspace: nullptr to own it.
  Forward(ModelView<Q> model, int max_block, int capacity, void* workspace = nullptr)
      : model_(std::move(model)), max_block_(max_block), capacity_(capacity) {
    model_.validate();
    require(!model_.token_embd.packed && !model_.token_embd.tiled, "CUDA forward: the token embedding must be in "
            "the ggml block layout (the embedding kernel reads its rows)");
    tiled_ = model_.any_tiled();
    require(int8 || !tiled_, "CUDA forward: tiled weight matrices need Int8Activations (the tensor-core kernel "
            "reads 8-bit activations)");
    check_sizes(max_block, capacity);
    const ModelConfig& c = model_.config;
    require(kernels::attention_fits(c.head_dim()), "CUDA forward: head_dim ", c.head_dim(),
            " needs more shared memory than the attention kernel may use (48 KiB)");
    tensor_cores_ = gemm_supported<Q>();
    const Layout L(c, max_block, capacity);
    if (workspace == nullptr) {
      owned_ = DeviceBuffer<float>(L.floats);
      workspace = owned_.data();
    }
    // Every buffer then starts 16-byte aligned: the weight kernels pick their kernel by alignment, and a
    // token's logits must not depend on which workspace computed them.
    require(reinterpret_cast<std::uintptr_t>(workspace) % 16 == 0,
            "CUDA forward: the workspace must be 16-byte aligned (cudaMalloc's pointers are)");
    float* base = static_cast<float*>(workspace);
    x_ = base + L.x;
    q8_out_ = reinterpret_cast<std::int8_t*>(base + L.q8_out);
    q8_out_scales_ = base + L.q8_out_scales;
    q8_counters_ = reinterpret_cast<unsigned*>(base + L.q8_counters);
    xn_ = base + L.xn;
    q_ = base + L.q;
    att_ = base + L.att;
    k_ = base + L.k;
    v_ = base + L.v;
    g_ = base + L.g;
    u_ = base + L.u;
    partial_ = base + L.partial;
    counters_ = reinterpret_cast<unsigned*>(base + L.counters);
    q8_ = reinterpret_cast<std::int8_t*>(base + L.q8);
    q8_scales_ = base + L.q8_scales;
    scales_ = base + L.scales;
    norm_counter_ = reinterpret_cast<unsigned*>(base + L.norm_counter);
    // The split attention's arrival counters start at zero; every launch leaves them so.
    check(cudaMemset(counters_, 0, kernels::attention_counters(max_block, c.n_heads) * sizeof(unsigned)),
          "CUDA forward: clear the attention counters");
    // So do the SwiGLU quantisation's.
    const std::size_t q8_counters = int8 ? static_cast<std::size_t>(q8_output_counters(c.ffn_dim)) : 0;
    check(cudaMemset(q8_counters_, 0, q8_counters * sizeof(unsigned)), "CUDA forward: clear the quantisation counters");
    // And the fused norm's.
    check(cudaMemset(norm_counter_, 0, int8 ? 0 : sizeof(unsigned)), "CUDA forward: clear the norm counter");
    check(cudaDeviceSynchronize(), "CUDA forward: clear the counters");  // before any stream uses them
  }

  const ModelView<Q>& model() const { return model_; }
  const ModelConfig& config() const { return model_.config; }
  int max_block() const { return max_block_; }

  KvCache make_cache() const { return KvCache(config().n_layers, capacity_, config().kv_dim()); }

  // Whether a pass launches its kernels after the first early (see above; off where early_launch_supported()
  // is false). Asked here, outside any stream capture: the first query loads a probe kernel.
  void launch_early(bool on) { early_ = on && early_launch_supported(); }
  bool launches_early() const { return early_; }

  // Whether the attention runs kernels::grouped_attention (one thread block per KV head, tile of rows and
  // chunk: a chunk of the cache read once for all its query heads and rows) where the heads allow it
  // (grouped_attention_supported), rather than kernels::attention (one per query head, row and chunk).
  // Different summation orders: a row's bits differ between the two, each the same alone or in a block.
  // Off by default until measured (bench/decode_step.cu). Set it outside any stream capture (the first call
  // sets the kernel's shared memory limit).
  void grouped_attention(bool on) {
    grouped_ = on && kernels::grouped_attention_supported(config().head_dim(), config().group_size());
  }
  bool uses_grouped_attention() const { return grouped_; }

  // Whether blocks run their weight products on tensor cores (gemv_mma: the activations split into 16-bit
  // parts, kernels/gemv_half_mma.cuh) rather than gemv (decoding) and gemm (prefill): F16 / BF16 models
  // under FloatActivations, on sm_80 or newer, with every matrix 16-byte aligned; elsewhere it stays off. A
  // row's bits differ between the two, each the same alone or in a block, prefill blocks included. F16:
  // every activation a weight product reads (normed input, attention output, SwiGLU output) must stay
  // below 65520 in magnitude (quant/split.hpp), else the logits are not finite and the decoder reports it;
  // BF16 has float's range. Off by default until measured (bench/decode_step.cu). Set it outside any stream
  // capture (the first call asks for the kernel).
  void tensor_core_decoding(bool on) {
    if constexpr (mma_type) {
      const bool aligned = !model_.any_matrix([](const MatrixView<Q>& w) { return !detail::aligned(w.data, 16); });
      mma_ = on && aligned && gemv_mma_supported<Q>();
    } else {
      mma_ = false;
    }
  }
  bool uses_tensor_core_decoding() const { return mma_; }

  // Whether decoding blocks fuse the RMSNorms into the weight launches (gemv.cuh: the launch that adds to
  // the residual stream leaves each row's scale, gemv_residual; the launches that read the norm's output
  // normalise it as they load it, quant::NormedSlices): a layer is 5 launches, not 7, and no pass writes a
  // norm's output. FloatActivations only, where every matrix fits the interleaved kernel (16-byte aligned
  // F16 / BF16 / F32 weights; Q8_0 / Q4_0 in place or packed, Q/K/V in one layout and gate/up in one) and
  // the norms' weights are 16-byte aligned; elsewhere it stays off. Not for blocks that run on tensor
  // cores (prefill, tensor_core_decoding). The norm's sum of squares has another order
  // (quant::norm_sum_squares): a row's bits differ between the two, each the same alone or in a block.
  // Off by default until measured (bench/decode_step.cu).
  void fused_norms(bool on) {
    if constexpr (int8) {
      fused_ = false;
    } else {
      const auto aligned = [](const void* p) { return detail::aligned(p, 16); };
      bool fits = !tiled_ && aligned(model_.output_norm) &&
                  !model_.any_matrix([&](const MatrixView<Q>& w) {
                    return &w != &model_.token_embd && !quant::is_int_blocks_v<Q> && !aligned(w.data);
                  });
      for (const LayerView<Q>& L : model_.layers)
        fits = fits && aligned(L.attn_norm) && aligned(L.ffn_norm) &&
               detail::layout_of(L.wk) == detail::layout_of(L.wq) && detail::layout_of(L.wv) == detail::layout_of(L.wq) &&
               detail::layout_of(L.w_up) == detail::layout_of(L.w_gate);
      fused_ = on && fits;
    }
  }
  bool uses_fused_norms() const { return fused_ && !mma_; }  // tensor-core decoding takes precedence

  // Runs the device token ids tokens[0..m) at positions start..start+m-1 (ids must be in the vocabulary:
  // the caller checks ids that come from the host). Layers in `skip` are not run; the others write K/V into
  // cache slots start..start+m-1. logits (device) receives m rows of vocab values, or is nullptr (prefill).
  void run(const int* tokens, int m, int start, KvCache& cache, LayerRange skip, float* logits, cudaStream_t stream) {
    validate(m, kernels::Position::at(start), cache, skip, 0);  // before reserve: a rejected call keeps the cache
    cache.reserve(start, m);
    run(tokens, m, kernels::Position::at(start), cache, skip, logits, stream);
  }

  // As above, with the start position read on the device when the kernels run (start.base; for a pass
  // captured in a CUDA Graph). The caller keeps start + m <= end_bound (0: the cache's capacity), and
  // end_bound within the capacity: nothing on the host can check a value that lives on the device. The
  // attention launches the splits of end_bound positions, so a tight bound launches fewer idle blocks.
  void run(const int* tokens, int m, kernels::Position start, KvCache& cache, LayerRange skip, float* logits,
           cudaStream_t stream, int end_bound = 0) {
    validate(m, start, cache, skip, end_bound);
    const ModelConfig& c = config();
    const int d = c.dim, kv = c.kv_dim(), hd = c.head_dim();
    // The pass's first kernel follows whatever the caller ran before (copies, events, other kernels):
    // always a plain launch. The rest follow a kernel of this pass.
    const dim3 rows_d(blocks(d), static_cast<unsigned>(m));
    check(launch(kernels::embed<Q>, rows_d, kernels::elementwise_threads, 0, stream, model_.token_embd.data, tokens,
                 d, x_),
          "embedding");
    const Launch on(stream, early_);
    const bool fused = fuses_norms(m);
    if (fused) check(norm_scales(x_, m, d, c.rms_eps, scales_, on), "the fused norm's scales");
    const float* residual = nullptr;  // a layer's last residual add, fused into the next norm
    for (int l = 0; l < c.n_layers; ++l) {
      if (skip.contains(l)) continue;
      const LayerView<Q>& L = model_.layers[static_cast<std::size_t>(l)];
      const GemvRope rope{start, hd, c.rope_theta, cache.k(l), cache.v(l)};
      if (fused) {  // the norms ride in the weight launches: x_ += W . in, then the scales of x_
        const MatrixView<Q> qkv_w[3] = {L.wq, L.wk, L.wv};
        check(gemv_qkv_rope(qkv_w, q_, normed(L.attn_norm), m, rope, on), "Q/K/V weight kernel with the norm and RoPE");
        attention(cache, l, m, start, end_bound, on);
        check(gemv_residual(L.wo, att_, m, x_, norm_scales_out(), on), "output weight kernel with the residual add");
        check(gemv_swiglu(L.w_gate, L.w_up, normed(L.ffn_norm), m, g_, on), "gate/up weight kernel with the norm");
        check(gemv_residual(L.w_down, g_, m, x_, norm_scales_out(), on), "down weight kernel with the residual add");
        continue;
      }
      norm(residual, L.attn_norm, m, on);
      if (!qkv_rope(L, m, rope, on)) {
        qkv(L, m, on);
        const dim3 pairs(blocks((d > kv ? d : kv) / 2), static_cast<unsigned>(m));
        check(launch(kernels::rope_store<>, pairs, kernels::elementwise_threads, 0, on, q_, k_, v_, d, kv, hd,
                     c.rope_theta, start, cache.k(l), cache.v(l)),
              "rope_store");
      }
      attention(cache, l, m, start, end_bound, on);
      gemm(L.wo, att_, m, xn_, on);
      norm(xn_, L.ffn_norm, m, on);
      gate_up(L, m, on);
      gemm(L.w_down, g_, m, xn_, on);
      residual = xn_;
    }
    if (logits == nullptr) return;  // prefill: the cache is written; the last residual add is not needed
    if (fused) {
      check(gemv(model_.output, normed(model_.output_norm), m, logits, on), "LM head weight kernel with the norm");
      return;
    }
    norm(residual, model_.output_norm, m, on);
    gemm(model_.output, xn_, m, logits, on);
  }

 private:
  static void check_sizes(int max_block, int capacity) {
    // Blocks run as grid.y of the row kernels.
    require(max_block >= 1 && max_block <= 65535, "CUDA forward: max_block must be in [1, 65535], got ", max_block);
    require(capacity >= 1 && capacity <= max_capacity, "CUDA forward: capacity must be in [1, ", max_capacity,
            "] (the attention's splits are its grid's z, at most 65535), got ", capacity);
  }

  // What the host can check of a pass. A position held on the host must lie inside the cache: the pass
  // writes K/V at it, and a slot past the capacity is the next layer's (or past the allocation).
  void validate(int m, kernels::Position start, const KvCache& cache, LayerRange skip, int end_bound) const {
    const ModelConfig& c = config();
    require(m >= 1 && m <= max_block_, "CUDA forward: block of ", m, " tokens, this forward takes 1..", max_block_);
    require(cache.n_layers() == c.n_layers && cache.kv_dim() == c.kv_dim() && cache.capacity() <= capacity_,
            "CUDA forward: KV cache shape (", cache.n_layers(), " layers, kv_dim ", cache.kv_dim(), ", capacity ",
            cache.capacity(), ") does not fit the model and workspace (", c.n_layers, ", ", c.kv_dim(), ", ",
            capacity_, ")");
    require(end_bound >= 0 && end_bound <= cache.capacity(), "CUDA forward: end bound ", end_bound,
            " is outside the cache's ", cache.capacity(), " positions");
    require(end_bound == 0 || start.offset + m <= end_bound, "CUDA forward: a block of ", m, " at offset ",
            start.offset, " passes the end bound ", end_bound);
    require(start.base != nullptr || (start.offset >= 0 && start.offset <= cache.capacity() - m),
            "CUDA forward: a block of ", m, " at position ", start.offset, " does not fit the cache's ",
            cache.capacity(), " positions");
    require(skip.begin >= 0 && skip.begin <= skip.end && skip.end <= c.n_layers, "CUDA forward: skip range [",
            skip.begin, ", ", skip.end, ") is not inside the model's ", c.n_layers, " layers");
  }

  // Offsets (in floats) of the workspace's buffers.
  struct Layout {
    std::size_t x, xn, q, att, k, v, g, u, partial, counters, q8, q8_scales, q8_counters, q8_out, q8_out_scales,
        scales, norm_counter, floats;
    Layout(const ModelConfig& c, int max_block, int capacity) {
      c.validate();
      const auto rows = [max_block](int width) { return static_cast<std::size_t>(max_block) * static_cast<std::size_t>(width); };
      std::size_t at = 0;
      const auto take = [&at](std::size_t n) {
        const std::size_t here = at;
        at += (n + 63) / 64 * 64;  // 256-byte alignment for every buffer
        return here;
      };
      x = take(rows(c.dim));
      xn = take(rows(c.dim));
      q = take(rows(c.dim));
      att = take(rows(c.dim));
      k = take(rows(c.kv_dim()));
      v = take(rows(c.kv_dim()));
      g = take(rows(c.ffn_dim));
      u = take(rows(c.ffn_dim));
      partial = take(partial_floats(c, max_block, capacity));
      counters = take(kernels::attention_counters(max_block, c.n_heads));  // unsigned, float-sized
      // Int8Activations: the widest activation rows of a block as bytes (four to a float) and their scales.
      const std::size_t widest = rows(c.ffn_dim > c.dim ? c.ffn_dim : c.dim);
      q8 = take(int8 ? (widest + 3) / 4 : 0);
      q8_scales = take(int8 ? widest / quant::qk : 0);
      // The SwiGLU output's: arrival counters (unsigned, float-sized), bytes and scales.
      q8_counters = take(int8 ? static_cast<std::size_t>(q8_output_counters(c.ffn_dim)) : 0);
      q8_out = take(int8 ? (rows(c.ffn_dim) + 3) / 4 : 0);
      q8_out_scales = take(int8 ? rows(c.ffn_dim) / quant::qk : 0);
      // The fused norm's (fused_norms): a scale per row and the residual launches' arrival counter.
      scales = take(int8 ? 0 : static_cast<std::size_t>(max_block));
      norm_counter = take(int8 ? 0 : 1);
      floats = at;
    }
  };

  static std::size_t partial_floats(const ModelConfig& c, int max_block, int capacity) {
    return kernels::attention_partial_floats(max_block < attention_rows ? max_block : attention_rows, c.n_heads,
                                             c.head_dim(), capacity);
  }
  // Splits of the block's last row; with the position on the device, those of the end bound.
  static int splits(int m, kernels::Position start, const KvCache& cache, int end_bound) {
    return start.base == nullptr ? (start.offset + m - 1) / kernels::attention_chunk + 1
                                 : kernels::attention_splits(end_bound > 0 ? end_bound : cache.capacity());
  }
  // Whether a block of m rows fuses its norms into the weight launches (fused_norms).
  bool fuses_norms(int m) const { return uses_fused_norms() && !prefill(m); }
  // The fused norm's input: the residual stream, the norm's weights w and the rows' scales.
  quant::NormedRows normed(const float* w) const { return {x_, w, scales_}; }
  NormScales norm_scales_out() const { return {scales_, norm_counter_, config().rms_eps}; }

  static unsigned blocks(long n) {
    return static_cast<unsigned>((n + kernels::elementwise_threads - 1) / kernels::elementwise_threads);
  }

  // xn = rmsnorm(x += residual) * w, the add skipped when residual is null. An 8-bit decoding block also
  // gets xn quantised into the workspace by the same launch, for the weight launches that read xn.
  void norm(const float* residual, const float* w, int m, const Launch& on) {
    const int d = config().dim;
    const bool q8 = norm_quantises(m);
    check(launch(kernels::add_rmsnorm<>, static_cast<unsigned>(m), kernels::rmsnorm_threads, kernels::rmsnorm_smem(d),
                 on, x_, residual, w, xn_, d, config().rms_eps, q8 ? q8_ : nullptr, q8 ? q8_scales_ : nullptr),
          "residual add and rmsnorm");
  }
  // Whether a block of m rows has its norm also quantise xn (8-bit decoding blocks of rows the norm stages).
  bool norm_quantises(int m) const {
    return int8 && !prefill(m) && config().dim <= kernels::rmsnorm_staged_floats;
  }
  // Whether a block of m rows has the attention also quantise its output (8-bit decoding blocks whose heads
  // are whole 32-value blocks).
  bool attention_quantises(int m) const {
    return int8 && !prefill(m) && config().head_dim() % quant::qk == 0;
  }
  // Whether a block of m rows has the gate/up launch also quantise its SwiGLU output (8-bit decoding blocks).
  bool swiglu_quantises(int m) const { return int8 && !prefill(m) && config().ffn_dim % quant::qk == 0; }
  // xn as 8-bit activations: quantised by the norm that wrote it, or now.
  quant::Q8Rows xn_q8(int m, const Launch& on) const {
    return norm_quantises(m) ? quant::Q8Rows{q8_, q8_scales_} : quantized(xn_, m, config().dim, on);
  }
  // att = attention of the block's queries over layer l's cache (quantised too where attention_quantises),
  // in slices of as many rows as the partials hold at the block's splits (each launch's partials strided by
  // its own splits). A row's bits depend on its position only, so slicing changes none.
  void attention(KvCache& cache, int l, int m, kernels::Position start, int end_bound, const Launch& on) {
    const ModelConfig& c = config();
    const std::size_t per_row =
        static_cast<std::size_t>(c.n_heads) * static_cast<std::size_t>(c.head_dim() + 2) *
        static_cast<std::size_t>(splits(m, start, cache, end_bound));
    const std::size_t fit = partial_floats(c, max_block_, capacity_) / per_row;  // >= 1: splits <= the capacity's
    const int slice = fit < static_cast<std::size_t>(m) ? static_cast<int>(fit) : m;
    for (int r0 = 0; r0 < m; r0 += slice) {
      const int rows = m - r0 < slice ? m - r0 : slice;
      const kernels::Position at{start.offset + r0, start.base};
      attention_slice(cache, l, r0, rows, at, splits(rows, at, cache, end_bound), attention_quantises(m), on);
    }
  }
  // Rows r0 .. r0 + rows - 1 of the block at position `at` (q8: also quantised): the grouped kernel
  // where it is on (and so takes these heads), else kernels::attention.
  void attention_slice(KvCache& cache, int l, int r0, int rows, kernels::Position at, int n_splits, bool q8,
                       const Launch& on) {
    const ModelConfig& c = config();
    const int hd = c.head_dim();
    const float scale = 1.0f / sqrtf(static_cast<float>(hd));
    const std::size_t o = static_cast<std::size_t>(r0) * static_cast<std::size_t>(c.dim);  // the slice's first row
    const float* q = q_ + o;
    float* out = att_ + o;
    std::int8_t* out_q8 = q8 ? q8_ + o : nullptr;
    float* out_scales = q8 ? q8_scales_ + o / quant::qk : nullptr;
    if (grouped_) {  // its heads fit (grouped_attention(bool)); a caller's cache may not be 16-byte aligned
      const cudaError_t e = kernels::launch_grouped_attention(q, cache.k(l), cache.v(l), rows, c.n_heads,
                                                              c.n_kv_heads, hd, at, n_splits, n_splits, scale,
                                                              partial_, counters_, out, out_q8, out_scales, on);
      if (e != cudaErrorNotSupported) {
        check(e, "grouped attention");
        return;
      }
    }
    const dim3 grid(static_cast<unsigned>(c.n_heads), static_cast<unsigned>(rows), static_cast<unsigned>(n_splits));
    check(launch(kernels::attention<>, grid, kernels::attention_threads, kernels::attention_smem(hd), on, q,
                 cache.k(l), cache.v(l), c.dim, c.kv_dim(), hd, c.group_size(), at, n_splits, scale, partial_,
                 counters_, out, out_q8, out_scales),
          "attention");
  }
  // Whether a block of m rows takes the tensor-core weight kernel (prefill) rather than gemv (decoding). A
  // model with tiled matrices runs every block through the 8-bit kernels (gemm reads no tiled layout), and
  // tensor-core decoding every block through gemv_mma (its prefill form reads the weights once per 64
  // rows, and gives prefill rows a decoding block's bits).
  bool prefill(int m) const { return m >= gemm_min_rows && tensor_cores_ && !tiled_ && !mma_; }
  // A decoding block's Q (rotated, to q_) and K and V (K rotated, both to the cache) in one launch with
  // RoPE and the cache write (gemv_qkv_rope). False, launching nothing, for a prefill block or operands
  // that launch cannot take: then qkv and rope_store.
  bool qkv_rope(const LayerView<Q>& L, int m, const GemvRope& rope, const Launch& on) const {
    if (prefill(m) || detail::layout_of(L.wk) != detail::layout_of(L.wq) ||
        detail::layout_of(L.wv) != detail::layout_of(L.wq))
      return false;
    const MatrixView<Q> w[3] = {L.wq, L.wk, L.wv};
    cudaError_t e;
    if constexpr (int8) e = gemv_qkv_rope_q8(w, q_, xn_q8(m, on), m, rope, on);
    else if constexpr (mma_type) e = mma_ ? gemv_qkv_rope_mma(w, q_, xn_, m, rope, on) : gemv_qkv_rope(w, q_, xn_, m, rope, on);
    else e = gemv_qkv_rope(w, q_, xn_, m, rope, on);
    if (e == cudaErrorNotSupported) return false;
    check(e, "Q/K/V weight kernel with RoPE");
    return true;
  }
  // Q, K and V from xn_ (prefill, or operands gemv_qkv_rope cannot take): one decoding launch for the three.
  void qkv(const LayerView<Q>& L, int m, const Launch& on) const {
    if (prefill(m)) {
      gemm(L.wq, xn_, m, q_, on);
      gemm(L.wk, xn_, m, k_, on);
      gemm(L.wv, xn_, m, v_, on);
      return;
    }
    const MatrixView<Q> w[3] = {L.wq, L.wk, L.wv};
    float* const y[3] = {q_, k_, v_};
    if constexpr (int8)
      check(gemv_batch_q8(w, y, 3, xn_q8(m, on), m, on), "Q/K/V weight kernel");
    else if constexpr (mma_type)
      check(mma_ ? gemv_batch_mma(w, y, 3, xn_, m, on) : gemv_batch(w, y, 3, xn_, m, on), "Q/K/V weight kernel");
    else
      check(gemv_batch(w, y, 3, xn_, m, on), "Q/K/V weight kernel");
  }
  // g_ = swiglu(gate . xn_, up . xn_): one decoding launch for the pair and SwiGLU.
  void gate_up(const LayerView<Q>& L, int m, const Launch& on) const {
    if (prefill(m)) {
      gemm(L.w_gate, xn_, m, g_, on);
      gemm(L.w_up, xn_, m, u_, on);
      check(kernels::launch_swiglu(g_, u_, static_cast<long>(m) * config().ffn_dim, on), "swiglu");
      return;
    }
    if constexpr (int8) {
      const Q8Output out = swiglu_quantises(m) ? Q8Output{q8_out_, q8_out_scales_, q8_counters_} : Q8Output{};
      check(gemv_swiglu_q8(L.w_gate, L.w_up, xn_q8(m, on), m, g_, on, out), "gate/up weight kernel with SwiGLU");
    } else if constexpr (mma_type) {
      check(mma_ ? gemv_swiglu_mma(L.w_gate, L.w_up, xn_, m, g_, on) : gemv_swiglu(L.w_gate, L.w_up, xn_, m, g_, u_, on),
            "gate/up weight kernel with SwiGLU");
    } else {
      check(gemv_swiglu(L.w_gate, L.w_up, xn_, m, g_, u_, on), "gate/up weight kernel with SwiGLU");
    }
  }
  void gemm(const MatrixView<Q>& w, const float* x, int m, float* y, const Launch& on) const {
    if (prefill(m))
      check(detail::launch_gemm(w, x, m, y, on), "tensor-core weight kernel");
    else if constexpr (int8)  // the LM head reads xn, the other products att and g
      check(gemv_q8(w, x == xn_ ? xn_q8(m, on) : quantized_by(x, m, w.cols, on), m, y, on), "weight kernel");
    else if constexpr (mma_type)
      check(mma_ ? gemv_mma(w, x, m, y, on) : gemv(w, x, m, y, on), "weight kernel");
    else
      check(gemv(w, x, m, y, on), "weight kernel");
  }
  // x as 8-bit activations: quantised by the attention or the gate/up launch that wrote it, or now.
  quant::Q8Rows quantized_by(const float* x, int m, int cols, const Launch& on) const {
    if (x == att_ && attention_quantises(m)) return {q8_, q8_scales_};
    if (x == g_ && swiglu_quantises(m)) return {q8_out_, q8_out_scales_};
    return quantized(x, m, cols, on);
  }
  // Int8Activations: m rows of cols activations quantised into the workspace (rewritten by every weight
  // launch of a block: each reads it before the next quantisation, on the same stream).
  quant::Q8Rows quantized(const float* x, int m, int cols, const Launch& on) const {
    check(quantize_activations(x, m, cols, q8_, q8_scales_, on), "activation quantisation");
    return {q8_, q8_scales_};
  }

  ModelView<Q> model_;
  int max_block_, capacity_;
  bool tensor_cores_ = false;
  bool early_ = false;
  bool grouped_ = false;
  bool mma_ = false;  // tensor_core_decoding
  bool tiled_ = false;  // some weight matrix is in the tiled layout
  bool fused_ = false;  // fused_norms
  DeviceBuffer<float> owned_;
  float *x_, *xn_, *q_, *att_, *k_, *v_, *g_, *u_, *partial_;
  unsigned* counters_;
  std::int8_t* q8_;
  float* q8_scales_;
  unsigned* q8_counters_;
  std::int8_t* q8_out_;
  float* q8_out_scales_;
  float* scales_;  // the fused norm's, a row each
  unsigned* norm_counter_;
};

}  // namespace skippy::cuda
