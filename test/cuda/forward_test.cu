// skippy::cuda::Forward against host::Forward for every storage type (full and skipped-layer passes), a row's
// bits independent of the block it comes in (README §1), caller-owned workspace, early launches, the
// attention's 8-bit output and the argmax kernel.

#include <doctest/doctest.h>

#include <skippy/skippy.hpp>

#include "../support/gpu.hpp"
#include "../support/models.hpp"
#include "../support/row_error.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace skippy;

namespace {

const std::vector<int> tokens = {5, 17, 3, 3, 40, 22, 9, 61, 0};

template <class Q>
void check_against_host(LayerRange skip) {
  const auto hm = HostModel<Q>::from_float(test::damped_weights(21));
  const int V = hm.config().vocab, m = static_cast<int>(tokens.size()), cap = 24;
  host::Forward<Q> hf(hm.view());
  auto hc = hf.make_cache(cap);
  std::vector<float> want(static_cast<std::size_t>(m) * V);
  hf.run(tokens.data(), m, 0, hc, skip, want.data());

  skippy::cuda::DeviceModel<Q> dm(hm.view());
  // Caller-owned workspace of the size the query names.
  skippy::cuda::DeviceBuffer<char> ws(skippy::cuda::Forward<Q>::workspace_bytes(hm.config(), 16, cap));
  skippy::cuda::Forward<Q> cf(dm.view(), 16, cap, ws.data());
  auto cc = cf.make_cache();
  skippy::cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  skippy::cuda::DeviceBuffer<float> dl(want.size());
  cf.run(dt.data(), m, 0, cc, skip, dl.data(), nullptr);
  std::vector<float> got(want.size());
  dl.download(got.data(), got.size());
  const double e = test::row_error(got, want, V);
  INFO(std::string(Q::name), " skip [", skip.begin, ", ", skip.end, "): relative error ", e);
  // Same weights on both sides; only summation order and expf/sqrtf ulps differ.
  CHECK(e <= 1e-4);
}

}  // namespace

TEST_CASE_TEMPLATE("skippy::cuda::Forward equals host::Forward", Q, quant::F32, quant::F16, quant::BF16,
                   quant::F8_E4M3, quant::Q8_0, quant::Q4_0) {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward vs host");
  check_against_host<Q>(LayerRange{});
  check_against_host<Q>(LayerRange{1, 3});
}

namespace {

// Forward<Q, Int8Activations> against the host's float activations: the 8-bit activations' rounding
// (at most amax / 254 per block of 32) through 4 layers and the LM head, a few per cent at most; a
// misplaced activation or scale would be of order 1.
template <class Q>
void check_int8_against_host(const FloatWeights& weights = test::damped_weights(21), bool grouped = false,
                             skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  const auto hm = HostModel<Q>::from_float(weights);
  const int V = hm.config().vocab, m = static_cast<int>(tokens.size()), cap = 24;
  host::Forward<Q> hf(hm.view());
  auto hc = hf.make_cache(cap);
  std::vector<float> want(static_cast<std::size_t>(m) * V), got(want.size());
  hf.run(tokens.data(), m, 0, hc, LayerRange{}, want.data());
  using F = skippy::cuda::Forward<Q, Int8Activations>;
  skippy::cuda::DeviceModel<Q> dm(hm.view(), layout);
  skippy::cuda::DeviceBuffer<char> ws(F::workspace_bytes(hm.config(), 16, cap));
  F cf(dm.view(), 16, cap, ws.data());
  cf.grouped_attention(grouped);
  REQUIRE(cf.uses_grouped_attention() == grouped);
  auto cc = cf.make_cache();
  skippy::cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  skippy::cuda::DeviceBuffer<float> dl(want.size());
  cf.run(dt.data(), m, 0, cc, LayerRange{}, dl.data(), nullptr);
  dl.download(got.data(), got.size());
  const double e = test::row_error(got, want, V);
  INFO(std::string(Q::name), " with 8-bit activations", grouped ? ", grouped attention" : "",
       layout == skippy::cuda::Upload::tiled ? ", tiled weights" : "", ": relative error ", e);
  CHECK(e <= 5e-2);
  CHECK(e > 0.0);  // the activations were quantised: not the float path's bits
}

// A row's logits alone and inside a block of 5, under activation policy A.
template <class Q, class A>
void check_block_bits(const FloatWeights& weights = test::random_weights(22), bool grouped = false,
                      skippy::cuda::Upload layout = skippy::cuda::Upload::in_place) {
  const auto hm = HostModel<Q>::from_float(weights);
  const int V = hm.config().vocab, cap = 24;
  skippy::cuda::DeviceModel<Q> dm(hm.view(), layout);
  skippy::cuda::Forward<Q, A> cf(dm.view(), 8, cap);
  cf.grouped_attention(grouped);
  REQUIRE(cf.uses_grouped_attention() == grouped);
  auto cc = cf.make_cache();
  skippy::cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  skippy::cuda::DeviceBuffer<float> dl(static_cast<std::size_t>(5) * V);
  cf.run(dt.data(), 4, 0, cc, LayerRange{}, nullptr, nullptr);
  cf.run(dt.data() + 4, 5, 4, cc, LayerRange{}, dl.data(), nullptr);
  std::vector<float> block(static_cast<std::size_t>(5) * V), one(static_cast<std::size_t>(V));
  dl.download(block.data(), block.size());
  cc.set_length(4);
  for (int i = 0; i < 5; ++i) {
    cf.run(dt.data() + 4 + i, 1, 4 + i, cc, LayerRange{}, dl.data(), nullptr);
    dl.download(one.data(), one.size());
    INFO(std::string(Q::name), " ", std::string(A::name), " activations", grouped ? ", grouped attention" : "",
         layout == skippy::cuda::Upload::tiled ? ", tiled weights" : "", ", row ", i);
    CHECK(std::memcmp(one.data(), block.data() + static_cast<std::size_t>(i) * V, one.size() * sizeof(float)) == 0);
  }
}

// A model uploaded in the packed layout (DeviceModel(host, true)) gives the logits of the model in place,
// bit for bit: a prefill block (the tensor-core kernel where the device has one), a decoding block and a
// row, under activation policy A.
template <class Q, class A>
void check_packed_model() {
  const auto hm = HostModel<Q>::from_float(test::random_weights(24));
  const int V = hm.config().vocab, cap = 80;
  skippy::cuda::DeviceModel<Q> in_place(hm.view()), packed(hm.view(), true);
  CHECK(packed.view().layers[0].wq.packed);
  CHECK(packed.view().layers[0].w_down.packed);
  CHECK_FALSE(packed.view().token_embd.packed);
  CHECK_FALSE(in_place.view().any_packed());
  std::vector<int> ids(70);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>((7 * i + 3) % static_cast<std::size_t>(V));
  skippy::cuda::DeviceBuffer<int> dt(ids.size());
  dt.upload(ids.data(), ids.size());
  std::vector<float> out[2];
  for (int which = 0; which < 2; ++which) {
    skippy::cuda::Forward<Q, A> cf(which == 1 ? packed.view() : in_place.view(), 64, cap);
    auto cc = cf.make_cache();
    skippy::cuda::DeviceBuffer<float> dl(static_cast<std::size_t>(64) * V);
    const auto pass = [&](int at, int m) {
      cf.run(dt.data() + at, m, at, cc, LayerRange{}, dl.data(), nullptr);
      const std::size_t n = static_cast<std::size_t>(m) * V, old = out[which].size();
      out[which].resize(old + n);
      dl.download(out[which].data() + old, n);
    };
    pass(0, 64);
    pass(64, 5);
    pass(69, 1);
  }
  INFO(std::string(Q::name), " ", std::string(A::name), " activations");
  REQUIRE(out[0].size() == out[1].size());
  CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("skippy::cuda::Forward<Q, Int8Activations> is within 8-bit activation rounding of host::Forward",
                   Q, quant::Q8_0, quant::Q4_0) {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward 8-bit activations vs host");
  check_int8_against_host<Q>();
}

TEST_CASE("skippy::cuda::Forward<Q, Int8Activations> over heads of 32 values: the attention quantises its output "
          "for the output projection, within rounding of the host, the same bits alone or in a block") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward attention 8-bit output");
  const FloatWeights w = test::random_weights(26, test::head32_config());  // 4 heads of 32: whole 8-bit blocks
  check_int8_against_host<quant::Q8_0>(w);
  check_int8_against_host<quant::Q4_0>(w);
  check_block_bits<quant::Q4_0, Int8Activations>(w);
}

TEST_CASE("skippy::cuda::Forward over a model uploaded in the packed layout has the in-place model's bits") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward packed layout");
  check_packed_model<quant::Q8_0, FloatActivations>();
  check_packed_model<quant::Q4_0, FloatActivations>();
  check_packed_model<quant::Q8_0, Int8Activations>();
  check_packed_model<quant::Q4_0, Int8Activations>();
  // The layout is the caller's to choose for Q8_0 / Q4_0 only, and the embedding must stay in place.
  const auto hf = HostModel<quant::F16>::from_float(test::random_weights(24));
  CHECK_THROWS_WITH_AS(skippy::cuda::DeviceModel<quant::F16>(hf.view(), true),
                       doctest::Contains("packed layout holds Q8_0 and Q4_0"), skippy::Error);
  const auto hq = HostModel<quant::Q8_0>::from_float(test::random_weights(24));
  skippy::cuda::DeviceModel<quant::Q8_0> dq(hq.view(), true);
  ModelView<quant::Q8_0> bad = dq.view();
  bad.token_embd.packed = true;
  CHECK_THROWS_WITH_AS(skippy::cuda::Forward<quant::Q8_0>(bad, 8, 16), doctest::Contains("token embedding"),
                       skippy::Error);
}

TEST_CASE("skippy::cuda::Forward over a tiled model (the tensor-core kernel, 8-bit activations): within 8-bit "
          "rounding of the host, a row's bits alone or in a block, prefill blocks included") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward tiled layout");
  using skippy::cuda::Upload;
  check_int8_against_host<quant::Q8_0>(test::damped_weights(21), false, Upload::tiled);
  check_int8_against_host<quant::Q4_0>(test::damped_weights(21), false, Upload::tiled);
  const FloatWeights w32 = test::random_weights(26, test::head32_config());  // the attention's 8-bit output
  check_int8_against_host<quant::Q4_0>(w32, true, Upload::tiled);
  check_block_bits<quant::Q8_0, Int8Activations>(test::random_weights(22), false, Upload::tiled);
  check_block_bits<quant::Q4_0, Int8Activations>(w32, true, Upload::tiled);
  // A prefill block (64 rows: gemm's size where the device has tensor cores) runs the tiled kernel's prefill
  // form, one launch per matrix: its rows have the bits of the same rows run as decoding blocks of 8.
  const auto hm = HostModel<quant::Q4_0>::from_float(test::random_weights(24));
  const int V = hm.config().vocab, cap = 80;
  skippy::cuda::DeviceModel<quant::Q4_0> dm(hm.view(), Upload::tiled);
  CHECK(dm.view().layers[0].wq.tiled);
  CHECK(dm.view().output.tiled);
  CHECK_FALSE(dm.view().token_embd.tiled);
  CHECK(dm.view().any_packed());
  CHECK(dm.view().any_tiled());
  CHECK_FALSE(skippy::cuda::DeviceModel<quant::Q4_0>(hm.view(), Upload::packed).view().any_tiled());
  std::vector<int> ids(64);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>((7 * i + 3) % static_cast<std::size_t>(V));
  skippy::cuda::DeviceBuffer<int> dt(ids.size());
  dt.upload(ids.data(), ids.size());
  std::vector<float> out[2];
  for (int which = 0; which < 2; ++which) {
    skippy::cuda::Forward<quant::Q4_0, Int8Activations> cf(dm.view(), 64, cap);
    auto cc = cf.make_cache();
    skippy::cuda::DeviceBuffer<float> dl(static_cast<std::size_t>(64) * V);
    const int step = which == 0 ? 64 : 8;
    for (int at = 0; at < 64; at += step)
      cf.run(dt.data() + at, step, at, cc, LayerRange{}, dl.data() + static_cast<std::size_t>(at) * V, nullptr);
    out[which] = test::on_host(dl);
  }
  CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
  // Float activations cannot read a tiled model, nor can the host backend.
  CHECK_THROWS_WITH_AS((skippy::cuda::Forward<quant::Q4_0, FloatActivations>(dm.view(), 8, 16)),
                       doctest::Contains("need Int8Activations"), skippy::Error);
  const auto hf = HostModel<quant::F16>::from_float(test::random_weights(24));
  CHECK_THROWS_WITH_AS(skippy::cuda::DeviceModel<quant::F16>(hf.view(), Upload::tiled),
                       doctest::Contains("tiled layout holds Q8_0 and Q4_0"), skippy::Error);
}

namespace {

// The oldest architecture this file's device code was built for (nvcc's __CUDA_ARCH_LIST__), 0 if unknown.
constexpr int oldest_built_arch() {
#ifdef __CUDA_ARCH_LIST__
  constexpr int archs[] = {__CUDA_ARCH_LIST__};
  int oldest = archs[0];
  for (const int a : archs) oldest = a < oldest ? a : oldest;
  return oldest;
#else
  return 0;
#endif
}

// Kernel nodes and their edges in a captured graph, and how many of the edges are programmatic (early
// launches).
struct GraphShape {
  std::size_t nodes = 0, edges = 0, programmatic = 0;
};
GraphShape shape_of(cudaGraph_t g) {
  GraphShape s;
  skippy::cuda::check(cudaGraphGetNodes(g, nullptr, &s.nodes), "cudaGraphGetNodes");
  skippy::cuda::check(cudaGraphGetEdges(g, nullptr, nullptr, nullptr, &s.edges), "cudaGraphGetEdges");
  std::vector<cudaGraphNode_t> from(s.edges), to(s.edges);
  std::vector<cudaGraphEdgeData> data(s.edges);
  skippy::cuda::check(cudaGraphGetEdges(g, from.data(), to.data(), data.data(), &s.edges), "cudaGraphGetEdges");
  for (const cudaGraphEdgeData& e : data) s.programmatic += e.type == cudaGraphDependencyTypeProgrammatic;
  return s;
}

// Forward::launch_early gives the plain launches' logits and cache, bit for bit: a prefill block (tensor
// cores where the device has them), a decoding block, and a row replayed from a CUDA Graph at a device-side
// position. Where the device supports early launch, the row's graph is one chain of kernels whose every
// edge is programmatic (the first kernel, the embedding, is a plain launch: it has no edge in); without
// it, none is.
template <class Q, class A>
void check_early_launch(bool packed) {
  const auto hm = HostModel<Q>::from_float(test::random_weights(25));
  const ModelConfig& c = hm.config();
  const int V = c.vocab, cap = 80, n = 70;
  skippy::cuda::DeviceModel<Q> dm(hm.view(), packed);
  std::vector<int> ids(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = (11 * i + 5) % V;
  skippy::cuda::DeviceBuffer<int> dt(ids.size()), position(1);
  dt.upload(ids.data(), ids.size());
  const int last = n - 1;
  position.upload(&last, 1);
  cudaStream_t stream = nullptr;
  skippy::cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  std::vector<float> out[2], kv[2];
  for (int early = 0; early < 2; ++early) {
    INFO(std::string(Q::name), " ", std::string(A::name), " activations", packed ? ", packed" : "",
         early == 1 ? ", early launches" : ", plain launches");
    skippy::cuda::Forward<Q, A> cf(dm.view(), 64, cap);
    cf.launch_early(early == 1);
    CHECK(cf.launches_early() == (early == 1 && skippy::cuda::early_launch_supported()));
    auto cc = cf.make_cache();
    skippy::cuda::DeviceBuffer<float> dl(static_cast<std::size_t>(64) * V);
    const auto keep = [&](int m) {
      skippy::cuda::check(cudaStreamSynchronize(stream), "pass");  // download copies on the legacy stream
      const std::size_t rows = static_cast<std::size_t>(m) * V, old = out[early].size();
      out[early].resize(old + rows);
      dl.download(out[early].data() + old, rows);
    };
    cf.run(dt.data(), 64, 0, cc, LayerRange{}, dl.data(), stream);
    keep(64);
    cf.run(dt.data() + 64, 5, 64, cc, LayerRange{}, dl.data(), stream);
    keep(5);
    cc.set_length(last);
    cc.reserve(last, 1);
    cudaGraph_t g = nullptr;
    skippy::cuda::check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
    cf.run(dt.data() + last, 1, skippy::cuda::kernels::Position{0, position.data()}, cc, LayerRange{}, dl.data(),
           stream);
    skippy::cuda::check(cudaStreamEndCapture(stream, &g), "end capture");
    const GraphShape s = shape_of(g);
    CHECK(s.edges + 1 == s.nodes);  // one stream: a chain
    CHECK(s.edges > 0);
    CHECK(s.programmatic == (cf.launches_early() ? s.edges : 0));
    cudaGraphExec_t exec = nullptr;
    skippy::cuda::check(cudaGraphInstantiate(&exec, g, 0), "instantiate");
    skippy::cuda::check(cudaGraphLaunch(exec, stream), "graph launch");
    skippy::cuda::check(cudaStreamSynchronize(stream), "graph");
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(g);
    keep(1);
    for (int l = 0; l < c.n_layers; ++l)
      for (const float* p : {cc.k(l), cc.v(l)}) {
        const std::size_t floats = static_cast<std::size_t>(n) * c.kv_dim(), old = kv[early].size();
        kv[early].resize(old + floats);
        skippy::cuda::check(cudaMemcpy(kv[early].data() + old, p, floats * sizeof(float), cudaMemcpyDeviceToHost),
                            "download the cache");
      }
  }
  cudaStreamDestroy(stream);
  INFO(std::string(Q::name), " ", std::string(A::name), " activations", packed ? ", packed" : "");
  REQUIRE(out[0].size() == out[1].size());
  CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
  REQUIRE(kv[0].size() == kv[1].size());
  CHECK(std::memcmp(kv[0].data(), kv[1].data(), kv[0].size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("skippy::cuda::Forward launched early has the plain launches' bits, captured as programmatic edges") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward early launch");
  int device = 0, major = 0;
  skippy::cuda::check(cudaGetDevice(&device), "cudaGetDevice");
  skippy::cuda::check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "compute capability");
  // A build for sm_90 and newer only, on such a device, must launch early.
  if (major >= 9 && oldest_built_arch() >= 900) CHECK(skippy::cuda::early_launch_supported());
  check_early_launch<quant::F16, FloatActivations>(false);
  check_early_launch<quant::Q8_0, FloatActivations>(false);
  check_early_launch<quant::Q4_0, Int8Activations>(true);
  check_early_launch<quant::Q8_0, Int8Activations>(true);
}

TEST_CASE("skippy::cuda::Forward: a row's logits are the same bits alone or inside a block") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward block independence");
  check_block_bits<quant::F32, FloatActivations>();
  check_block_bits<quant::Q4_0, FloatActivations>();
  check_block_bits<quant::Q8_0, Int8Activations>();
  check_block_bits<quant::Q4_0, Int8Activations>();
}

namespace {

// Rows of a block of m that straddles a chunk boundary of the split attention at 2 * attention_chunk:
// within float rounding of the host; each row's bits the same computed alone; the same bits with the
// position read on the device, whatever the splits launched. Returns the block's logits.
std::vector<float> check_long_context(const FloatWeights& weights, bool grouped, int m = 5) {
  using Q = quant::F32;
  const auto hm = HostModel<Q>::from_float(weights);
  // The cache holds a fourth chunk, so a device-side position may launch a split no row needs.
  const int chunk = skippy::cuda::kernels::attention_chunk;
  const int V = hm.config().vocab, n = 2 * chunk + 3, cap = n + chunk, max_block = m > 16 ? m : 16;
  const int at = n - m;  // the block's rows straddle the chunk boundary at 2 * attention_chunk
  std::vector<int> seq(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) seq[static_cast<std::size_t>(i)] = (i * 37 + 11) % V;
  host::Forward<Q> hf(hm.view());
  auto hc = hf.make_cache(cap);
  std::vector<float> want(static_cast<std::size_t>(n) * V);
  hf.run(seq.data(), n, 0, hc, LayerRange{}, want.data());

  skippy::cuda::DeviceModel<Q> dm(hm.view());
  skippy::cuda::Forward<Q> cf(dm.view(), max_block, cap);
  cf.grouped_attention(grouped);
  REQUIRE(cf.uses_grouped_attention() == grouped);
  INFO("kernel: ", grouped ? "grouped attention" : "attention");
  auto cc = cf.make_cache();
  skippy::cuda::DeviceBuffer<int> dt(seq.size());
  dt.upload(seq.data(), seq.size());
  for (int p = 0; p < at; p += max_block)
    cf.run(dt.data() + p, at - p < max_block ? at - p : max_block, p, cc, LayerRange{}, nullptr, nullptr);
  skippy::cuda::DeviceBuffer<float> dl(static_cast<std::size_t>(m) * V);
  cf.run(dt.data() + at, m, at, cc, LayerRange{}, dl.data(), nullptr);
  std::vector<float> block(static_cast<std::size_t>(m) * V), one(static_cast<std::size_t>(V));
  dl.download(block.data(), block.size());
  const std::vector<float> host_rows(want.end() - static_cast<long>(m) * V, want.end());
  const double e = test::row_error(block, host_rows, V);
  INFO("relative error against the host at positions ", at, "..", n - 1, ": ", e);
  CHECK(e <= 1e-4);
  cc.set_length(at);
  for (int i = 0; i < m; ++i) {
    cf.run(dt.data() + at + i, 1, at + i, cc, LayerRange{}, dl.data(), nullptr);
    dl.download(one.data(), one.size());
    INFO("position ", at + i);
    CHECK(std::memcmp(one.data(), block.data() + static_cast<std::size_t>(i) * V, one.size() * sizeof(float)) == 0);
  }
  // The position read on the device (as in a replayed graph), with end bounds that launch exactly the
  // splits needed, more, or every split of the cache: the same bits.
  skippy::cuda::DeviceBuffer<int> position(1);
  position.upload(&at, 1);
  std::vector<float> again(block.size());
  for (const int bound : {n, 3 * chunk, 0, cap}) {  // 3, 3, 4 (the cache's) and 4 splits launched
    cc.set_length(at);
    cc.reserve(at, m);
    cf.run(dt.data() + at, m, skippy::cuda::kernels::Position{0, position.data()}, cc, LayerRange{}, dl.data(),
           nullptr, bound);
    dl.download(again.data(), again.size());
    INFO("device-side position, end bound ", bound);
    CHECK(std::memcmp(again.data(), block.data(), block.size() * sizeof(float)) == 0);
  }
  return block;
}

}  // namespace

TEST_CASE("skippy::cuda::Forward at a long context: the split attention equals the host's, and a row's bits "
          "do not depend on its block across a chunk boundary") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward long context");
  check_long_context(test::damped_weights(23), false);
}

TEST_CASE("skippy::cuda::Forward runs a long block's attention in row slices its partials hold: the same "
          "bits as each row alone") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward attention row slices");
  // 24 rows at positions 235..258 of a 4-split cache: the partials hold 16 rows at 4 splits, so the block's
  // attention runs in slices of 21 rows (what fits at the block's 3 splits) and 3, and of 16 and 8 at the
  // 4 splits a device-side position with the cache's end bound launches.
  using Forward = skippy::cuda::Forward<quant::F32>;
  static_assert(Forward::attention_rows == 16, "the slices above assume 16 rows of partials");
  const FloatWeights w = test::damped_weights(29, test::head32_config());
  for (const bool grouped : {false, true}) check_long_context(w, grouped, 24);
}

TEST_CASE("skippy::cuda::Forward's workspace: the attention partials do not grow with max_block past "
          "attention_rows (no GPU needed)") {
  using Forward = skippy::cuda::Forward<quant::F32>;
  const ModelConfig c = test::head32_config();
  const int chunk = skippy::cuda::kernels::attention_chunk, rows = Forward::attention_rows;
  // What a longer cache adds: the partials of min(max_block, attention_rows) rows at its extra splits.
  const auto growth = [&](int max_block) {
    return Forward::workspace_bytes(c, max_block, 64 * chunk) - Forward::workspace_bytes(c, max_block, 32 * chunk);
  };
  const std::size_t per_split_row = static_cast<std::size_t>(c.n_heads) * (c.head_dim() + 2) * sizeof(float);
  CHECK(growth(rows) == 32 * rows * per_split_row);
  CHECK(growth(64) == growth(rows));
  CHECK(growth(5) == 32 * 5 * per_split_row);
}

TEST_CASE("skippy::cuda::Forward's workspace query checks the block and the capacity as the constructor does "
          "(no GPU needed)") {
  using Forward = skippy::cuda::Forward<quant::F32>;
  const ModelConfig c = test::head32_config();
  // The capacity whose attention splits fill the grid's z (65535) is the largest.
  CHECK(skippy::cuda::kernels::attention_splits(Forward::max_capacity) == 65535);
  CHECK(skippy::cuda::kernels::attention_splits(Forward::max_capacity + 1) == 65536);
  CHECK(Forward::workspace_bytes(c, 16, Forward::max_capacity) > Forward::workspace_bytes(c, 16, 1));
  const auto rejects = [&](int max_block, int capacity, const char* message) {
    CHECK_THROWS_WITH_AS(Forward::workspace_bytes(c, max_block, capacity), doctest::Contains(message), Error);
  };
  rejects(16, Forward::max_capacity + 1, "capacity must be in [1, 8388480]");
  rejects(16, 0, "capacity must be in");
  rejects(16, std::numeric_limits<int>::max(), "capacity must be in");
  rejects(0, 64, "max_block must be in [1, 65535], got 0");
  rejects(-5, 64, "max_block must be in [1, 65535], got -5");
}

TEST_CASE("skippy::cuda::Forward with the grouped attention: within rounding of the host and of kernels::attention, "
          "a row's bits the same alone or in a block, 8-bit output quantised by it") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward grouped attention");
  {
    // Heads of 16 values: not a multiple of 32, so the forward keeps kernels::attention.
    const auto hm = HostModel<quant::F32>::from_float(test::random_weights(27));
    skippy::cuda::DeviceModel<quant::F32> dm(hm.view());
    skippy::cuda::Forward<quant::F32> cf(dm.view(), 8, 16);
    cf.grouped_attention(true);
    CHECK_FALSE(cf.uses_grouped_attention());
  }
  const FloatWeights w = test::damped_weights(27, test::head32_config());
  const std::vector<float> grouped = check_long_context(w, true), plain = check_long_context(w, false);
  const double e = test::row_error(grouped, plain, test::head32_config().vocab);
  INFO("grouped against kernels::attention: relative error ", e);
  CHECK(e <= 1e-4);
  CHECK(std::memcmp(grouped.data(), plain.data(), grouped.size() * sizeof(float)) != 0);  // another kernel ran
  check_block_bits<quant::F32, FloatActivations>(w, true);
  check_block_bits<quant::Q4_0, Int8Activations>(w, true);
  check_int8_against_host<quant::Q8_0>(w, true);
  check_int8_against_host<quant::Q4_0>(w, true);
}

TEST_CASE_TEMPLATE("skippy::cuda::Forward prefills blocks of gemm_min_rows or more on tensor cores, within "
                   "TF32 rounding of the host",
                   Q, quant::F32, quant::Q8_0) {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward tensor-core prefill");
  const auto hm = HostModel<Q>::from_float(test::damped_weights(24));
  const int V = hm.config().vocab, m = 80, cap = 96;
  static_assert(80 >= skippy::cuda::gemm_min_rows);
  std::vector<int> seq(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i) seq[static_cast<std::size_t>(i)] = (i * 29 + 3) % V;
  host::Forward<Q> hf(hm.view());
  auto hc = hf.make_cache(cap);
  std::vector<float> want(static_cast<std::size_t>(m) * V), got(want.size());
  hf.run(seq.data(), m, 0, hc, LayerRange{}, want.data());
  skippy::cuda::DeviceModel<Q> dm(hm.view());
  skippy::cuda::Forward<Q> cf(dm.view(), m, cap);
  auto cc = cf.make_cache();
  skippy::cuda::DeviceBuffer<int> dt(seq.size());
  dt.upload(seq.data(), seq.size());
  skippy::cuda::DeviceBuffer<float> dl(want.size());
  cf.run(dt.data(), m, 0, cc, LayerRange{}, dl.data(), nullptr);
  dl.download(got.data(), got.size());
  const double e = test::row_error(got, want, V);
  INFO(std::string(Q::name), ": relative error ", e,
       skippy::cuda::gemm_supported<Q>() ? " (tensor cores)" : " (gemv: no tensor cores)");
  // TF32 keeps 10 mantissa bits: ~1e-3 per product, through 4 layers and the LM head.
  CHECK(e <= 1e-2);
}

TEST_CASE("kernels::attention_fits counts the kernel's static shared memory (no GPU needed)") {
  namespace k = skippy::cuda::kernels;
  CHECK(k::attention_fits(128));
  CHECK(k::attention_fits(4096));
  // 6140: the dynamic part alone (8 * 6140 = 49120 bytes) is under 48 KiB, with the static arrays it is not.
  CHECK(k::attention_smem(6140) <= 48 * 1024);
  CHECK_FALSE(k::attention_fits(6140));
  CHECK(k::attention_static_smem > k::attention_chunk * sizeof(float));
  if (skippy::cuda::device_available()) {  // the compiler's count of the kernel's static arrays (0 emulated)
    cudaFuncAttributes a{};
    REQUIRE(cudaFuncGetAttributes(&a, k::attention<>) == cudaSuccess);
    CHECK(a.sharedSizeBytes <= k::attention_static_smem);
  }
}

TEST_CASE("kernels::attention's 8-bit output has quantize_activations' bits over its float output") {
  SKIPPY_SKIP_WITHOUT_GPU("attention 8-bit output");
  namespace k = skippy::cuda::kernels;
  // 4 query heads of 64 over 2 KV heads; 3 query rows at positions 5.. (one split) and 300.. (three
  // splits: the merging split quantises).
  constexpr int hd = 64, heads = 4, d = heads * hd, kv = 2 * hd, m = 3, capacity = 320;
  std::vector<float> q(static_cast<std::size_t>(m) * d), cache(static_cast<std::size_t>(capacity) * kv);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.23f * static_cast<float>(i));
  for (std::size_t i = 0; i < cache.size(); ++i) cache[i] = std::cos(0.071f * static_cast<float>(i)) * 1.5f;
  skippy::cuda::DeviceBuffer<float> dq(q.size()), kc(cache.size()), vc(cache.size());
  dq.upload(q.data(), q.size());
  kc.upload(cache.data(), cache.size());
  std::reverse(cache.begin(), cache.end());
  vc.upload(cache.data(), cache.size());
  const int splits_cap = k::attention_splits(capacity);
  skippy::cuda::DeviceBuffer<float> partial(k::attention_partial_floats(m, heads, hd, capacity));
  skippy::cuda::DeviceBuffer<unsigned> counters(k::attention_counters(m, heads));
  REQUIRE(cudaMemset(counters.data(), 0, counters.size() * sizeof(unsigned)) == cudaSuccess);
  const std::size_t n = static_cast<std::size_t>(m) * d;
  skippy::cuda::DeviceBuffer<float> out(n), out2(n), s(n / quant::qk), s2(n / quant::qk);
  skippy::cuda::DeviceBuffer<std::int8_t> q8(n), q82(n);
  for (const int start : {5, 300}) {
    CAPTURE(start);
    const dim3 grid(heads, m, static_cast<unsigned>((start + m - 1) / k::attention_chunk + 1));
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    k::attention<<<grid, k::attention_threads, k::attention_smem(hd)>>>(
        dq.data(), kc.data(), vc.data(), d, kv, hd, heads / 2, k::Position::at(start), splits_cap, scale,
        partial.data(), counters.data(), out.data(), q8.data(), s.data());
    k::attention<<<grid, k::attention_threads, k::attention_smem(hd)>>>(
        dq.data(), kc.data(), vc.data(), d, kv, hd, heads / 2, k::Position::at(start), splits_cap, scale,
        partial.data(), counters.data(), out2.data());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(skippy::cuda::quantize_activations(out2.data(), m, d, q82.data(), s2.data()) == cudaSuccess);
    CHECK(test::same_bytes(out, out2));  // the float output is unchanged
    CHECK(test::same_bytes(s, s2));
    CHECK(test::same_bytes(q8, q82));
    const std::vector<float> scales = test::on_host(s);
    CHECK(*std::max_element(scales.begin(), scales.end()) > 0.0f);  // not an output of zeros
  }
}

TEST_CASE("skippy::cuda::Forward rejects blocks that do not fit, leaving the cache as it was; the grouped attention "
          "falls back over a cache that is not 16-byte aligned") {
  SKIPPY_SKIP_WITHOUT_GPU("skippy::cuda::Forward rejections");
  const auto hm = HostModel<quant::F32>::from_float(test::damped_weights(29, test::head32_config()));
  const ModelConfig& c = hm.config();
  const int cap = 16, V = c.vocab;
  skippy::cuda::DeviceModel<quant::F32> dm(hm.view());
  skippy::cuda::Forward<quant::F32> cf(dm.view(), 4, cap);
  auto cc = cf.make_cache();
  skippy::cuda::DeviceBuffer<int> dt(tokens.size());
  dt.upload(tokens.data(), tokens.size());
  skippy::cuda::DeviceBuffer<float> dl(static_cast<std::size_t>(4) * V);
  cf.run(dt.data(), 4, 0, cc, LayerRange{}, dl.data(), nullptr);
  cc.set_length(4);
  // Checked before the cache reserves the block: its committed prefix and filled slots stay.
  CHECK_THROWS_WITH_AS(cf.run(dt.data(), 5, 4, cc, LayerRange{}, dl.data(), nullptr),
                       doctest::Contains("block of 5 tokens, this forward takes 1..4"), Error);
  CHECK_THROWS_WITH_AS(cf.run(dt.data(), 1, 4, cc, LayerRange{0, c.n_layers + 1}, dl.data(), nullptr),
                       doctest::Contains("skip range"), Error);
  CHECK(cc.length() == 4);
  CHECK(cc.filled() == 4);
  // A position held on the host is checked against the capacity when no reservation is made: the slot
  // past the end is the next layer's.
  using skippy::cuda::kernels::Position;
  CHECK_THROWS_WITH_AS(cf.run(dt.data(), 1, Position::at(cap), cc, LayerRange{}, dl.data(), nullptr),
                       doctest::Contains("a block of 1 at position 16 does not fit the cache's 16 positions"), Error);
  CHECK_THROWS_WITH_AS(cf.run(dt.data(), 2, Position::at(-1), cc, LayerRange{}, dl.data(), nullptr),
                       doctest::Contains("at position -1 does not fit"), Error);
  CHECK_NOTHROW(cf.run(dt.data(), 2, Position::at(cap - 2), cc, LayerRange{}, dl.data(), nullptr));

  // A caller's cache 4 bytes past an aligned address: the grouped kernel cannot take it, so the pass runs
  // kernels::attention, as it does with the grouped attention off.
  const std::size_t n = static_cast<std::size_t>(c.n_layers) * cap * c.kv_dim() + 1;
  skippy::cuda::DeviceBuffer<float> kb(n), vb(n);
  std::vector<float> with, without;
  for (bool grouped : {true, false}) {
    cf.grouped_attention(grouped);
    CHECK(cf.uses_grouped_attention() == grouped);
    skippy::cuda::KvCache odd(c.n_layers, cap, c.kv_dim(), kb.data() + 1, vb.data() + 1);
    cf.run(dt.data(), 4, 0, odd, LayerRange{}, dl.data(), nullptr);
    (grouped ? with : without) = test::on_host(dl);
  }
  REQUIRE(with.size() == without.size());
  CHECK(std::memcmp(with.data(), without.data(), with.size() * sizeof(float)) == 0);
  CHECK(std::any_of(with.begin(), with.end(), [](float x) { return x != 0.0f; }));
}

TEST_CASE("cuda argmax kernel: ties go to the lowest id, non-finite logits raise the flag; the greedy verdict") {
  SKIPPY_SKIP_WITHOUT_GPU("argmax kernel");
  const int rows = 6;
  // One block a row (1000), and rows over 8 and 32 blocks that meet in the scratch.
  for (const int n : {1000, 32000, 128256}) {
    INFO("n ", n);
    std::vector<float> x(static_cast<std::size_t>(rows) * n);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 4.0f;
    for (int r = 0; r < rows; ++r) {  // a tie between two ids far apart (other blocks) in every row
      const std::size_t base = static_cast<std::size_t>(r) * n;
      x[base + static_cast<std::size_t>(n - 1 - 97 * r)] = 9.0f;
      x[base + static_cast<std::size_t>(100 + 30 * r)] = 9.0f;
    }
    const std::size_t last = static_cast<std::size_t>(rows - 1) * n;
    // The last row: -inf (not finite: the flag) but for a -0 and a +0, which tie (the lower id wins).
    std::fill(x.begin() + static_cast<long>(last), x.end(), -INFINITY);
    x[last + static_cast<std::size_t>(n / 2)] = -0.0f;
    x[last + static_cast<std::size_t>(n - 1)] = 0.0f;
    skippy::cuda::DeviceBuffer<float> dx(x.size());
    dx.upload(x.data(), x.size());
    skippy::cuda::DeviceBuffer<int> out(static_cast<std::size_t>(rows) + 1);
    skippy::cuda::check(cudaMemset(out.data(), 0, (rows + 1) * sizeof(int)), "memset");
    const skippy::cuda::ArgmaxScratchBuffer scratch(rows);
    std::vector<int> got(static_cast<std::size_t>(rows) + 1);
    for (int repeat = 0; repeat < 2; ++repeat) {  // the scratch is left clear for the next launch
      skippy::cuda::check(skippy::cuda::kernels::launch_argmax(dx.data(), n, rows, out.data(), 1, out.data() + rows,
                                                               scratch.get()),
                          "argmax");
      out.download(got.data(), got.size());
      for (int r = 0; r < rows; ++r)
        CHECK(got[static_cast<std::size_t>(r)] == sampling::argmax(x.data() + static_cast<std::size_t>(r) * n, n));
      CHECK(got[static_cast<std::size_t>(rows) - 1] == n / 2);
    }
    CHECK(got[static_cast<std::size_t>(rows)] == 1);  // the -inf row is not finite
    x.resize(last);  // drop it: finite rows leave the flag alone
    dx.upload(x.data(), x.size());
    skippy::cuda::check(cudaMemset(out.data(), 0, (rows + 1) * sizeof(int)), "memset");
    CHECK(skippy::cuda::kernels::launch_argmax(dx.data(), n, rows - 1, out.data(), 1, out.data() + rows,
                                               scratch.get()) == cudaSuccess);
    out.download(got.data(), got.size());
    CHECK(got[static_cast<std::size_t>(rows)] == 0);
    x[12345 % x.size()] = NAN;
    dx.upload(x.data(), x.size());
    CHECK(skippy::cuda::kernels::launch_argmax(dx.data(), n, rows - 1, out.data(), 1, out.data() + rows,
                                               scratch.get()) == cudaSuccess);
    out.download(got.data(), got.size());
    CHECK(got[static_cast<std::size_t>(rows)] == 1);
    // Several blocks a row need the scratch.
    CHECK(skippy::cuda::kernels::launch_argmax(dx.data(), n, 1, out.data(), 1, out.data() + rows, {}) ==
          (n > skippy::cuda::kernels::argmax_chunk ? cudaErrorInvalidValue : cudaSuccess));
    // The greedy verdict over rows 0..3 (k = 3) that the last row's thread writes: drafts that agree with
    // the argmax before them up to each place, over the same scratch.
    const int k = 3;
    std::vector<int> want(static_cast<std::size_t>(k) + 1);
    for (int r = 0; r <= k; ++r)
      want[static_cast<std::size_t>(r)] = sampling::argmax(x.data() + static_cast<std::size_t>(r) * n, n);
    for (int agree = 0; agree <= k; ++agree) {
      std::vector<int> block = {5, 0, 0, 0, -1, -1, -1};  // x_t d_1..d_3 | verdict n, next | pending1
      for (int i = 0; i < k; ++i) {
        const int a = want[static_cast<std::size_t>(i)];
        block[static_cast<std::size_t>(i) + 1] = i < agree ? a : (a + 1) % n;
      }
      skippy::cuda::DeviceBuffer<int> db(block.size());
      db.upload(block.data(), block.size());
      const skippy::cuda::kernels::GreedyVerdict then{db.data(), k, db.data() + 4, db.data(), db.data() + 6};
      skippy::cuda::check(skippy::cuda::kernels::launch_argmax(dx.data(), n, k + 1, out.data(), 1, out.data() + rows,
                                                               scratch.get(), nullptr, then),
                          "argmax and greedy verdict");
      db.download(block.data(), block.size());
      INFO("drafts agreeing ", agree);
      CHECK(block[4] == agree);
      CHECK(block[5] == want[static_cast<std::size_t>(agree)]);
      CHECK((block[0] == block[5] && block[6] == block[5]));  // the next step's pending token
    }
  }
}
