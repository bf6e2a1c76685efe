// The tiled layout and the tensor-core kernel's arithmetic (quant/tiled.hpp), on the host: the kernel's
// per-lane work simulated over the tiled bytes, with the instruction's product written from PTX's
// fragment table, equals quant::tiled_dot bit for bit; tiled_dot is the exact dot product to float
// rounding; padding adds nothing; the exact small-integer conversion.

#include <doctest/doctest.h>

#include <skippy/host/forward.hpp>
#include <skippy/model/host_model.hpp>
#include <skippy/quant/dequantize.hpp>
#include <skippy/quant/q8_activations.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/quant/tiled.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../support/models.hpp"

using namespace skippy;

namespace {

std::uint8_t byte_of(std::uint32_t w, int i) { return static_cast<std::uint8_t>(w >> (8 * i)); }

// PTX mma m16n8k32 (int8): element (row, k) of A and (k, col) of B from the 32 lanes' fragments, as the
// ISA's table places them, and D = A B.
void mma_table(const std::uint32_t (&a)[32][4], const std::uint32_t (&b)[32][2], int (&d)[32][4]) {
  const auto A = [&](int row, int k) {
    return static_cast<std::int8_t>(byte_of(a[4 * (row % 8) + k % 16 / 4][row / 8 + 2 * (k / 16)], k % 4));
  };
  const auto B = [&](int k, int col) {
    return static_cast<std::int8_t>(byte_of(b[4 * col + k % 16 / 4][k / 16], k % 4));
  };
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int row = lane / 4 + 8 * (i / 2), col = 2 * (lane % 4) + i % 2;
      int s = 0;
      for (int k = 0; k < 32; ++k) s += A(row, k) * B(k, col);
      d[lane][i] = s;
    }
}

// The kernel (cuda/gemv_tiled.cuh) over tiled bytes, lane by lane, for m <= 8 activation rows: y[i][r].
template <class Q>
std::vector<float> simulate(const std::vector<unsigned char>& tiled, int rows, int cols, const std::int8_t* xq,
                            const float* xd, int m) {
  using T = quant::Tiled<Q>;
  const int blocks = cols / quant::qk;
  std::vector<float> y(static_cast<std::size_t>(m) * rows);
  for (int tile = 0; tile < T::tiles(rows); ++tile) {
    float sums[quant::tiled_warps][16][8] = {};
    for (int warp = 0; warp < quant::tiled_warps; ++warp) {
      float acc[32][4] = {};
      for (int c = warp; c < T::chunks(cols); c += quant::tiled_warps) {
        const unsigned char* p = tiled.data() + (static_cast<long>(tile) * T::chunks(cols) + c) * T::chunk_bytes;
        for (int j = 0; j < T::chunk_blocks; ++j) {
          const int b = std::min(c * T::chunk_blocks + j, blocks - 1);
          std::uint32_t a[32][4], xb[32][2], s[32][4];
          for (int lane = 0; lane < 32; ++lane) {
            const int g = lane / 4, t = lane % 4;
            std::uint32_t q[T::loads][4];
            for (int l = 0; l < T::loads; ++l) std::memcpy(q[l], p + l * 512 + lane * 16, 16);
            std::memcpy(s[lane], p + T::quant_bytes + g * 16, 16);
            T::fragment(q, j, a[lane]);
            std::memcpy(xb[lane], xq + static_cast<long>(std::min(g, m - 1)) * cols + b * quant::qk + 8 * t, 8);
          }
          int d[32][4];
          mma_table(a, xb, d);
          for (int lane = 0; lane < 32; ++lane) {
            const int t = lane % 4;
            for (int i = 0; i < 4; ++i) {
              const int token = std::min(2 * t + i % 2, m - 1);
              acc[lane][i] = quant::tiled_step(acc[lane][i], T::scale(s[lane], i / 2, j),
                                               xd[static_cast<long>(token) * blocks + b], d[lane][i]);
            }
          }
        }
      }
      for (int lane = 0; lane < 32; ++lane)
        for (int i = 0; i < 4; ++i) {
          const int row = lane / 4 + 8 * (i / 2), col = 2 * (lane % 4) + i % 2;
          if (col < m) sums[warp][row][col] = acc[lane][i];
        }
    }
    for (int rr = 0; rr < 16; ++rr)
      for (int i = 0; i < m; ++i) {
        const int r = tile * 16 + rr;
        if (r >= rows) continue;
        float sum = sums[0][rr][i];
        for (int k = 1; k < quant::tiled_warps; ++k) sum += sums[k][rr][i];
        y[static_cast<std::size_t>(i) * rows + r] = sum * T::unit;
      }
  }
  return y;
}

struct Case {
  int rows, cols;
};

template <class Q>
void check_tiled(Case shape, int m, float scale_spread) {
  const int rows = shape.rows, cols = shape.cols, blocks = cols / quant::qk;
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), x(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < wf.size(); ++i)
    wf[i] = std::sin(0.37f * static_cast<float>(i)) * (1.0f + scale_spread * static_cast<float>(i % 7));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.29f * static_cast<float>(i)) * (1.0f + i % 5);
  const auto w = quant::quantize<Q>(wf);
  std::vector<std::int8_t> xq(x.size());
  std::vector<float> xd(x.size() / quant::qk);
  quant::quantize_activations(x.data(), m, cols, xq.data(), xd.data());
  std::vector<unsigned char> tiled(quant::Tiled<Q>::bytes(rows, cols), 0xee);
  quant::tile_matrix<Q>(w.data(), rows, cols, tiled.data());
  const auto y = simulate<Q>(tiled, rows, cols, xq.data(), xd.data(), m);
  INFO(std::string(Q::name) << " " << rows << "x" << cols << " m=" << m);
  int mismatches = 0;
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < rows; ++r) {
      const float account = quant::tiled_dot<Q>(w.data() + static_cast<long>(r) * blocks,
                                                xq.data() + static_cast<long>(i) * cols,
                                                xd.data() + static_cast<long>(i) * blocks, cols);
      const float kernel = y[static_cast<std::size_t>(i) * rows + r];
      mismatches += std::memcmp(&account, &kernel, sizeof(float)) != 0;
      // The exact dot product of the dequantised weights and activations, in double.
      double exact = 0.0, magnitude = 0.0;
      for (int k = 0; k < cols; ++k) {
        const auto& blk = w[static_cast<std::size_t>(r) * blocks + k / quant::qk];
        const double wv = quant::dequantize(blk, k % quant::qk);  // the host's formula, not the layout's
        const double xv = xq[static_cast<std::size_t>(i) * cols + (k / quant::qk) * quant::qk +
                             quant::q8_stored(k % quant::qk)] *
                          static_cast<double>(xd[static_cast<std::size_t>(i) * blocks + k / quant::qk]);
        exact += wv * xv;
        magnitude += std::fabs(wv * xv);
      }
      CHECK(std::fabs(account - exact) <= 1e-5 * magnitude + 1e-30);
    }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("quant::Tiled: the kernel's lanes over the tiled bytes give tiled_dot's bits, within rounding of the "
          "exact dot product") {
  const Case shapes[] = {{16, 32}, {40, 288}, {33, 4096 + 96}, {16, 512}};
  for (const Case& s : shapes)
    for (int m : {1, 2, 5, 8}) {
      check_tiled<quant::Q8_0>(s, m, 0.5f);
      check_tiled<quant::Q4_0>(s, m, 0.5f);
    }
}

TEST_CASE("quant::Tiled: padding rows and blocks hold zero weights and scales") {
  using T = quant::Tiled<quant::Q4_0>;
  const int rows = 20, cols = 160;  // 4 padding rows in tile 1, 3 padding blocks in chunk 1
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols, 0.25f);
  const auto w = quant::quantize<quant::Q4_0>(wf);
  std::vector<unsigned char> tiled(T::bytes(rows, cols), 0xee);
  quant::tile_matrix<quant::Q4_0>(w.data(), rows, cols, tiled.data());
  REQUIRE(T::bytes(rows, cols) == 2u * 2u * T::chunk_bytes);
  int real_scales = 0;
  for (int tile = 0; tile < 2; ++tile)
    for (int c = 0; c < 2; ++c)
      for (int rr = 0; rr < 16; ++rr)
        for (int j = 0; j < 4; ++j) {
          const unsigned char* chunk = tiled.data() + (tile * 2 + c) * T::chunk_bytes;
          const bool real = tile * 16 + rr < rows && c * 4 + j < cols / 32;
          std::uint16_t d;
          std::memcpy(&d, chunk + T::scale_offset(rr / 8, rr % 8, j), 2);
          real_scales += d != 0;
          CHECK((d != 0) == real);
          for (int t = 0; t < 4; ++t)
            for (int i = 0; i < T::lane_bytes; ++i)
              if (!real) CHECK(chunk[T::quant_offset(rr / 8, rr % 8, t, j, i)] == 0x88);
        }
  CHECK(real_scales == rows * (cols / 32));
}

TEST_CASE("quant::small_int_float is the exact conversion for |v| < 2^22") {
  for (int v : {0, 1, -1, 7, -128, 520192, -520192, (1 << 22) - 1, -(1 << 22) + 1, 123457, -99991})
    CHECK(quant::small_int_float(v) == static_cast<float>(v));
}

TEST_CASE("ModelView::any_tiled finds a tiled matrix anywhere, and the host backend refuses it") {
  const auto hm = HostModel<quant::Q4_0>::from_float(test::random_weights(5));
  ModelView<quant::Q4_0> v = hm.view();
  CHECK_FALSE(v.any_tiled());
  v.layers[1].w_down.tiled = true;
  CHECK(v.any_tiled());
  CHECK(v.any_packed());  // a device layout either way
  CHECK_THROWS_WITH_AS(host::Forward<quant::Q4_0>{v}, doctest::Contains("the tiled one"), Error);
  v.layers[1].w_down.tiled = false;
  v.output.tiled = true;
  CHECK(v.any_tiled());
  v.output.tiled = false;
  v.layers[0].w_up.packed = true;
  CHECK_FALSE(v.any_tiled());
}
