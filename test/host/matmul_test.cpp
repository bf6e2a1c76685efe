// host::matmul and matmul_q8: a product equals its row-by-row dot whatever the number of rows, and a view
// the host cannot multiply (a column tail, a device layout) is refused instead of read short.

#include <doctest/doctest.h>

#include <skippy/host/matmul.hpp>
#include <skippy/quant/quantize.hpp>

#include <cmath>
#include <vector>

using namespace skippy;

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
