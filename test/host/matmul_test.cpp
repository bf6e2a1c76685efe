// host::matmul and matmul_q8: a product equals its row-by-row dot whatever the number of rows, and a view
// the host cannot multiply (a column tail, a device layout) is refused instead of read short.

#include <doctest/doctest.h>

#include <skippy/host/matmul.hpp>
#include <skippy/quant/quantize.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace skippy;

// Where the row-vector path exists, make sure it is the one under test (not only the by-row fallback).
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__aarch64__)) && !defined(__FAST_MATH__) && \
    (defined(__clang__) || __GNUC__ >= 8) && !defined(SKIPPY_HOST_ROW_VECTORS)
#error "host::matmul's row-vector path is not compiled on this target"
#endif

namespace {

// Every (row, activation) result equals quant::dot_row (the contract) bit for bit, for every weight row
// count around the 4- and 8-row vectors (a partial last group included), activation counts around the
// 8-row tiles and the 64-row passes, and row lengths under, past and far past the 512-column decoded
// tile; and the two loops (by row, by row vectors) agree.
template <class Q>
void check_against_dot_row(int rows, int cols, std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), x(static_cast<std::size_t>(130) * cols);
  for (float& v : wf) v = normal(gen);
  for (float& v : x) v = normal(gen);
  const auto w = quant::quantize<Q>(wf);
  const MatrixView<Q> view{w.data(), rows, cols};
  for (int m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 64, 65, 130}) {
    std::vector<float> y(static_cast<std::size_t>(m) * rows), by_row(y.size());
    host::matmul(view, x.data(), m, y.data());
    host::detail::matmul_by_row(view, x.data(), m, by_row.data());
    int differ = 0;
    for (int i = 0; i < m; ++i)
      for (int r = 0; r < rows; ++r) {
        const float want = quant::dot_row<Q>(view.row(r), x.data() + static_cast<long>(i) * cols, cols);
        differ += std::memcmp(&want, &y[static_cast<std::size_t>(i * rows + r)], sizeof want) != 0;
      }
    INFO(std::string(Q::name), ": ", rows, " x ", cols, ", m = ", m);
    CHECK(differ == 0);
    CHECK(std::memcmp(y.data(), by_row.data(), y.size() * sizeof(float)) == 0);
  }
}

template <class Q>
void check_against_dot_row() {
  std::mt19937 gen(7);
  for (int cols : {96, 544, 1056})
    for (int rows : {1, 7, 8, 9, 17, 24}) check_against_dot_row<Q>(rows, cols, gen);
}

}  // namespace

TEST_CASE("host::matmul is dot_row bit for bit for every storage type, row count and activation count") {
  check_against_dot_row<quant::F32>();
  check_against_dot_row<quant::F16>();
  check_against_dot_row<quant::BF16>();
  check_against_dot_row<quant::F8_E4M3>();
  check_against_dot_row<quant::Q8_0>();
  check_against_dot_row<quant::Q4_0>();
}

TEST_CASE("host::matmul: every row count gives each row's own result; bad views are refused") {
  const int rows = 5, cols = 64;
  std::vector<float> w(static_cast<std::size_t>(rows) * cols), x(static_cast<std::size_t>(9) * cols);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.3f * static_cast<float>(i));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.7f * static_cast<float>(i));
  const MatrixView<quant::F32> v{w.data(), rows, cols};
  std::vector<float> all(static_cast<std::size_t>(9) * rows), one(static_cast<std::size_t>(rows));
  host::matmul(v, x.data(), 9, all.data());
  for (int i = 0; i < 9; ++i) {
    host::matmul(v, x.data() + static_cast<long>(i) * cols, 1, one.data());
    for (int r = 0; r < rows; ++r) {
      CHECK(one[static_cast<std::size_t>(r)] == all[static_cast<std::size_t>(i * rows + r)]);
      double ref = 0;
      for (int c = 0; c < cols; ++c) {
        const auto wi = static_cast<std::size_t>(r * cols + c), xi = static_cast<std::size_t>(i * cols + c);
        ref += static_cast<double>(w[wi]) * x[xi];
      }
      CHECK(one[static_cast<std::size_t>(r)] == doctest::Approx(ref).epsilon(1e-5));
    }
  }
  // 40 columns: one whole chunk of 32 and a tail the product would drop.
  const MatrixView<quant::F32> tail{v.data, 1, 40};
  CHECK_THROWS_WITH_AS(host::matmul(tail, x.data(), 1, one.data()), doctest::Contains("multiple of 32"), Error);
  MatrixView<quant::F32> tiled = v;
  tiled.tiled = true;
  CHECK_THROWS_WITH_AS(host::matmul(tiled, x.data(), 1, one.data()), doctest::Contains("not a packed or tiled"), Error);
  std::vector<quant::Q8_0::block> q(static_cast<std::size_t>(rows) * (cols / 32));
  MatrixView<quant::Q8_0> packed{q.data(), rows, cols};
  packed.packed = true;
  const quant::Q8Rows none{nullptr, nullptr};
  CHECK_THROWS_WITH_AS(host::matmul_q8(packed, none, 1, one.data()), doctest::Contains("host::matmul_q8"), Error);
}

// matmul_q8 decodes a weight row once for every activation row and sums each slice's bytes its own way;
// every result must still be the kernel's account, interleaved_dot<Q8Slices<Q>>, bit for bit: rows of
// fewer slices than the kernel's 128 threads (warps without a slice), of more (threads summing up to five
// slices), activation blocks holding a NaN, and all-zero rows.
namespace {
template <class Q>
void check_q8_against_interleaved_dot() {
  using A = quant::Q8Slices<Q>;
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int m_max = 9;
  for (int cols : {32, 96, 128, 1056, 2080, 4128}) {
    const int rows = 5;
    std::vector<float> wf(static_cast<std::size_t>(rows) * cols), x(static_cast<std::size_t>(m_max) * cols);
    for (float& v : wf) v = normal(gen);
    for (float& v : x) v = normal(gen);
    for (int c = 0; c < cols; ++c) wf[static_cast<std::size_t>(cols) + c] = 0.0f;  // row 1: zeros
    x[static_cast<std::size_t>(2 * cols + cols / 2)] = std::nanf("");               // activation row 2
    const auto w = quant::quantize<Q>(wf);
    const MatrixView<Q> view{w.data(), rows, cols};
    host::Q8Activations qa;
    const quant::Q8Rows xq = qa.quantize(x.data(), m_max, cols);
    for (int m : {1, 2, 5, m_max}) {
      std::vector<float> y(static_cast<std::size_t>(m) * rows);
      host::matmul_q8(view, xq, m, y.data());
      int differ = 0, nan = 0;
      for (int i = 0; i < m; ++i)
        for (int r = 0; r < rows; ++r) {
          const float want = quant::interleaved_dot<A>(view.row(r), A::advance(xq, i, cols), cols);
          const float got = y[static_cast<std::size_t>(i * rows + r)];
          nan += std::isnan(got);
          differ += std::isnan(want) ? !std::isnan(got) : std::memcmp(&want, &got, sizeof want) != 0;
        }
      INFO(std::string(Q::name), ": ", rows, " x ", cols, ", m = ", m);
      CHECK(differ == 0);
      CHECK(nan == (m > 2 ? rows : 0));
    }
  }
}
}  // namespace

TEST_CASE("host::matmul_q8 is the 8-bit kernel's arithmetic bit for bit (Q8_0, Q4_0)") {
  check_q8_against_interleaved_dot<quant::Q8_0>();
  check_q8_against_interleaved_dot<quant::Q4_0>();
}
