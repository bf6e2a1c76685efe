#pragma once
// y[i][r] = W[r] . x[i] for m activation rows: one pass over the weights serves every row, each chunk of
// a weight row is decoded once per tile of activation rows, and each (r, i) result is accumulated with
// exactly dot_row's operations, so it is the same whatever m is (S3D's bit-exactness, README §1).

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../model/view.hpp"
#include "../quant/dot.hpp"
#include "../quant/q8_slice.hpp"

namespace skippy::host {

namespace detail {
// What both products assume: whole chunks per row (a tail would be dropped silently) and the ggml block
// layout (a packed or tiled view is the device's). A model's checks already ensure it; a bare view may not.
template <class Q>
void require_host_matrix(const MatrixView<Q>& w, int m, const char* who) {
  require(w.cols % quant::dot_chunk == 0 && w.rows >= 0 && m >= 0, who, ": a ", w.rows, " x ", w.cols,
          " matrix times ", m, " rows; columns must be a multiple of ", quant::dot_chunk);
  require(!w.packed && !w.tiled, who, ": the host reads the ggml block layout, not a packed or tiled view");
}
}  // namespace detail

template <class Q>
void matmul(const MatrixView<Q>& w, const float* x, int m, float* y) {
  detail::require_host_matrix(w, m, "host::matmul");
  constexpr int tile = 8;
  constexpr int blocks_per_chunk = quant::dot_chunk / Q::block_size;
  const int chunks = w.cols / quant::dot_chunk;
  for (int r = 0; r < w.rows; ++r) {
    const auto* row = w.row(r);
    for (int i0 = 0; i0 < m; i0 += tile) {
      const int n = std::min(tile, m - i0);
      const float* xt = x + static_cast<long>(i0) * w.cols;
      float sum[tile] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int c = 0; c < chunks; ++c) {
        float v[quant::dot_chunk];
        const float scale = quant::decode_chunk(row + c * blocks_per_chunk, v);
        for (int t = 0; t < n; ++t)
          sum[t] += scale * quant::chunk_dot(v, xt + static_cast<long>(t) * w.cols + c * quant::dot_chunk);
      }
      for (int t = 0; t < n; ++t) y[static_cast<long>(i0 + t) * w.rows + r] = sum[t];
    }
  }
}

// Activations quantised to 8 bits for matmul_q8, the buffers grown on demand: quantise once, then
// every product that reads the same activations takes the view.
class Q8Activations {
 public:
  quant::Q8Rows quantize(const float* x, int m, int cols) {
    const std::size_t n = static_cast<std::size_t>(m) * static_cast<std::size_t>(cols);
    if (q_.size() < n) {
      q_.resize(n);
      d_.resize(n / quant::qk);
    }
    quant::quantize_activations(x, m, cols, q_.data(), d_.data());
    return {q_.data(), d_.data()};
  }

 private:
  std::vector<std::int8_t> q_;
  std::vector<float> d_;
};

// y[i][r] = W[r] . x[i] over m rows of 8-bit activations (Q8_0 / Q4_0 weights): the arithmetic of
// cuda::gemv_q8, bit for bit (quant::interleaved_dot<Q8Slices<Q>>), so the host runs a decoder under the
// Int8Activations policy with the device's products. Each row was quantised on its own: a result does
// not depend on m.
template <class Q>
void matmul_q8(const MatrixView<Q>& w, const quant::Q8Rows& x, int m, float* y) {
  detail::require_host_matrix(w, m, "host::matmul_q8");
  using A = quant::Q8Slices<Q>;
  for (int r = 0; r < w.rows; ++r)
    for (int i = 0; i < m; ++i)
      y[static_cast<long>(i) * w.rows + r] = quant::interleaved_dot<A>(w.row(r), A::advance(x, i, w.cols), w.cols);
}

}  // namespace skippy::host
