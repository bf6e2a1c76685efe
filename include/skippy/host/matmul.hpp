#pragma once
// y[i][r] = W[r] . x[i] for m activation rows: one pass over the weights serves every row, each chunk of
// a weight row is decoded once for several activation rows, and each (r, i) result is accumulated with
// exactly dot_row's operations, so it is the same whatever m is and whichever loop computes it (S3D's
// bit-exactness, README §1).

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

// One row at a time: each chunk of the row is decoded once for a tile of up to 8 activation rows, and
// chunk_dot's lanes fill one SIMD register (then a horizontal join). Best for m = 1: nothing to transpose.
template <class Q>
void matmul_by_row(const MatrixView<Q>& w, const float* x, int m, float* y) {
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
        for (int t = 0; t < n; ++t) {
          const float* xc = xt + static_cast<long>(t) * w.cols + c * quant::dot_chunk;
          sum[t] = math::madd(scale, quant::chunk_dot(v, xc), sum[t]);
        }
      }
      for (int t = 0; t < n; ++t) y[static_cast<long>(i0 + t) * w.rows + r] = sum[t];
    }
  }
}

#if defined(SKIPPY_HOST_ROW_VECTORS)
// A SIMD register of weight rows at a time (math::row_vector: 8 rows with AVX, else 4), for m >= 2. The rows
// are decoded 512 columns at a time, each row's segment read front to back, into a transposed tile (position
// k of every row in one vector; 16 KB with AVX, so it stays in L1) that serves all m activation rows; the
// dot's lanes and join then run on whole vectors, with no horizontal step. Per element these are exactly
// the scalar operations (decoded_chunk_dot, join_lanes and madd are the same functions) in the same chunk
// order, so y is bit for bit matmul_by_row's (NaN payloads aside), and 5 activation rows cost 1.2-2x one
// (4096 x 4096 on a 2-core EPYC, bench/results/host-2026-12-07.md) instead of 2.2-3.8x.
template <class Q>
void matmul_by_row_vectors(const MatrixView<Q>& w, const float* x, int m, float* y) {
  using math::row_vector;
  constexpr int rows = math::row_vector_size, tile_chunks = 16;
  constexpr int blocks_per_chunk = quant::dot_chunk / Q::block_size;
  const int chunks = w.cols / quant::dot_chunk;
  std::vector<row_vector> sum(static_cast<std::size_t>(m));
  for (int r0 = 0; r0 < w.rows; r0 += rows) {
    const int nr = std::min(rows, w.rows - r0);
    std::fill(sum.begin(), sum.end(), row_vector{});
    for (int c0 = 0; c0 < chunks; c0 += tile_chunks) {
      const int nc = std::min(tile_chunks, chunks - c0);
      row_vector v[tile_chunks][quant::dot_chunk], scale[tile_chunks];
      for (int j = 0; j < rows; ++j) {
        // A last partial group repeats its last row; those sums are dropped.
        const auto* row = w.row(r0 + std::min(j, nr - 1)) + c0 * blocks_per_chunk;
        for (int c = 0; c < nc; ++c) {
          float vj[quant::dot_chunk];
          scale[c][j] = quant::decode_chunk(row + c * blocks_per_chunk, vj);
          for (int k = 0; k < quant::dot_chunk; ++k) v[c][k][j] = vj[k];
        }
      }
      for (int t = 0; t < m; ++t) {
        const float* xt = x + static_cast<long>(t) * w.cols + c0 * quant::dot_chunk;
        row_vector s = sum[static_cast<std::size_t>(t)];
        for (int c = 0; c < nc; ++c)
          s = math::madd(scale[c], quant::decoded_chunk_dot(v[c], xt + c * quant::dot_chunk), s);
        sum[static_cast<std::size_t>(t)] = s;
      }
    }
    for (int t = 0; t < m; ++t)
      for (int j = 0; j < nr; ++j) y[static_cast<long>(t) * w.rows + r0 + j] = sum[static_cast<std::size_t>(t)][j];
  }
}
#endif

}  // namespace detail

// y[i][r] = W[r] . x[i] for m activation rows, each (r, i) accumulated with exactly dot_row's operations.
template <class Q>
void matmul(const MatrixView<Q>& w, const float* x, int m, float* y) {
  detail::require_host_matrix(w, m, "host::matmul");
#if defined(SKIPPY_HOST_ROW_VECTORS)
  if (m >= 2) return detail::matmul_by_row_vectors(w, x, m, y);
#endif
  detail::matmul_by_row(w, x, m, y);
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
