#pragma once
// y[i][r] = W[r] . x[i] for m activation rows: one pass over the weights serves every row, each chunk of
// a weight row is decoded once for several activation rows, and each (r, i) result is accumulated with
// exactly dot_row's operations, so it is the same whatever m is and whichever loop computes it (S3D's
// bit-exactness, README §1).

#include <algorithm>
#include <cstdint>
#include <cstring>
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
// chunk_dot's lanes fill one SIMD register (then a horizontal join). The portable loop, and the reference
// the row-vector loop is tested against.
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
// A group of weight rows at a time, as many as math::row_vector holds (8 with AVX, AVX-512 included; else 4). The
// group's chunks are decoded 16 at a time (512 columns) into an L1 tile that serves every activation row of a pass
// of up to 64; for each, a chunk's 8 dot lanes of every row of the group run in registers (one vector per row with
// AVX, two otherwise), join_lanes_of_rows joins them into one vector of the rows' chunk dots, and one vector madd
// adds them to the rows' sums with their scales. Per element these are dot_row's operations in its order (madd and
// the join's additions), so y is bit for bit matmul_by_row's (NaN payloads aside), with no horizontal step per dot
// and no transposed copy of the weights.
template <class Q>
void matmul_by_row_vectors(const MatrixView<Q>& w, const float* x, int m, float* y) {
  using math::row_vector;
  constexpr int rows = math::row_vector_size, per_row = quant::dot_lanes / rows;
  static_assert(rows * per_row == quant::dot_lanes, "a group's dot lanes must fill whole vectors");
  // Up to 64 activation rows per pass over the weights (their sums on the stack); a prefill block of more
  // decodes the weights once per 64 rows, a small cost beside 64 rows of products.
  constexpr int tile_chunks = 16, tile_rows = 64;
  constexpr int blocks_per_chunk = quant::dot_chunk / Q::block_size;
  const int chunks = w.cols / quant::dot_chunk;
  for (int i0 = 0; i0 < m; i0 += tile_rows) {
    const int mt = std::min(tile_rows, m - i0);
    const float* xi = x + static_cast<long>(i0) * w.cols;
    float* yi = y + static_cast<long>(i0) * w.rows;
    for (int r0 = 0; r0 < w.rows; r0 += rows) {
      const int nr = std::min(rows, w.rows - r0);
      row_vector sum[tile_rows];
      for (int t = 0; t < mt; ++t) sum[t] = row_vector{};
      for (int c0 = 0; c0 < chunks; c0 += tile_chunks) {
        const int nc = std::min(tile_chunks, chunks - c0);
        float v[tile_chunks][rows][quant::dot_chunk];
        float scale[tile_chunks][rows];
        for (int j = 0; j < rows; ++j) {
          // A last partial group repeats its last row; those sums are dropped.
          const auto* row = w.row(r0 + std::min(j, nr - 1)) + c0 * blocks_per_chunk;
          for (int c = 0; c < nc; ++c) scale[c][j] = quant::decode_chunk(row + c * blocks_per_chunk, v[c][j]);
        }
        for (int t = 0; t < mt; ++t) {
          const float* xt = xi + static_cast<long>(t) * w.cols + c0 * quant::dot_chunk;
          row_vector s = sum[t];
          for (int c = 0; c < nc; ++c) {
            const float* xc = xt + c * quant::dot_chunk;
            row_vector lanes[quant::dot_lanes] = {};  // lanes[j * per_row + p]: row j's lanes p*W .. p*W+W-1
#pragma GCC unroll 8
            for (int i = 0; i < quant::dot_chunk; i += quant::dot_lanes)
#pragma GCC unroll 8
              for (int j = 0; j < rows; ++j)
#pragma GCC unroll 2
                for (int p = 0; p < per_row; ++p) {
                  const int k = i + p * rows;
                  row_vector& acc = lanes[j * per_row + p];
                  acc = math::madd(math::load_row_vector(&v[c][j][k]), math::load_row_vector(xc + k), acc);
                }
            s = math::madd(math::load_row_vector(scale[c]), math::join_lanes_of_rows(lanes), s);
          }
          sum[t] = s;
        }
      }
      for (int t = 0; t < mt; ++t)
        for (int j = 0; j < nr; ++j) yi[static_cast<long>(t) * w.rows + r0 + j] = sum[t][j];
    }
  }
}
#endif

}  // namespace detail

// y[i][r] = W[r] . x[i] for m activation rows, each (r, i) accumulated with exactly dot_row's operations.
template <class Q>
void matmul(const MatrixView<Q>& w, const float* x, int m, float* y) {
  detail::require_host_matrix(w, m, "host::matmul");
#if defined(SKIPPY_HOST_ROW_VECTORS)
  detail::matmul_by_row_vectors(w, x, m, y);
#else
  detail::matmul_by_row(w, x, m, y);
#endif
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
//
// A weight row is decoded once for all m activation rows, into its slices' scales and its int8 weights
// laid out as the activations' bytes (A::offset), so each slice's exact integer sum takes a few vector
// instructions over contiguous bytes (dot_bytes; dot4's byte extraction per weight and activation row made
// this product ~95% of the 8-bit greedy grid test). Each slice then enters its thread's sum in slice order,
// the order of interleaved_thread_sum, and interleaved_join joins the threads as the kernel does.
template <class Q>
void matmul_q8(const MatrixView<Q>& w, const quant::Q8Rows& x, int m, float* y) {
  detail::require_host_matrix(w, m, "host::matmul_q8");
  using A = quant::Q8Slices<Q>;
  using S = quant::Slice<Q>;
  constexpr int threads = quant::interleaved_threads;
  const int slices = w.cols / S::values;
  // Threads that get a slice, and the sums interleaved_join reads (whole warps).
  constexpr int lanes = math::warp_lanes;
  const int used = std::min(slices, threads), zeroed = (used + lanes - 1) / lanes * lanes;
  std::vector<std::int8_t> wq(static_cast<std::size_t>(w.cols));
  std::vector<float> scale(static_cast<std::size_t>(slices));
  for (int r = 0; r < w.rows; ++r) {
    for (int s = 0; s < slices; ++s) {
      const typename A::Weights d = A::decode(S::load(w.row(r), s));
      scale[s] = d.scale;
      for (int j = 0; j < A::words; ++j)  // word by word: one 8- or 16-byte copy stalled on forwarding
        std::memcpy(wq.data() + A::offset(s) + 4 * j, &d.q[j], 4);
    }
    for (int i = 0; i < m; ++i) {
      const quant::Q8Rows xi = A::advance(x, i, w.cols);
      float sum[threads];
      std::fill(sum, sum + zeroed, 0.0f);
      for (int s = 0; s < slices; ++s) {
        const int o = A::offset(s);
        const int dot = quant::detail::dot_bytes<S::values>(wq.data() + o, xi.q + o);
        sum[s % threads] = A::step(sum[s % threads], scale[s], xi.d[S::first(s, 0) / quant::qk], dot);
      }
      y[static_cast<long>(i) * w.rows + r] = quant::interleaved_join(sum, used);
    }
  }
}

}  // namespace skippy::host
