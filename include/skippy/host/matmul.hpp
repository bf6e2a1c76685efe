#pragma once
// y[i][r] = W[r] . x[i] for m activation rows: one pass over the weights serves every row, and each
// (r, i) product is the same dot_row call whatever m is.

#include "../model/view.hpp"
#include "../quant/dot.hpp"

namespace skippy::host {

template <class Q>
void matmul(const MatrixView<Q>& w, const float* x, int m, float* y) {
  for (int r = 0; r < w.rows; ++r) {
    const auto* row = w.row(r);
    for (int i = 0; i < m; ++i)
      y[static_cast<long>(i) * w.rows + r] = quant::dot_row<Q>(row, x + static_cast<long>(i) * w.cols, w.cols);
  }
}

}  // namespace skippy::host
