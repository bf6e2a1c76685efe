// Emulated (test/emulation/README.md): the prefill weight kernel (kernels::gemm_tf32, gemm.cuh) over
// shim.hpp's warp matrix operations, against a host account of the same TF32-rounded operands, for every
// weight type, Q8_0 / Q4_0 also packed, at shapes with partial tiles of weight rows, activation rows or
// both, one row each, and several k tiles, in both tiles of weight rows (64 and 32 a block: the same
// bits). Checks the kernel's staging (which thread loads which element, the software pipeline's k tiles,
// padding) and output indexing; the CUDA test gemm_test.cu checks the same on a GPU.

#include <skippy/cuda/gemm.cuh>
#include <skippy/quant/dequantize.hpp>
#include <skippy/quant/packed.hpp>
#include <skippy/quant/quantize.hpp>

#include "check.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace skippy;
using emulation::aligned;

namespace {

template <class Q>
void check(int rows, int cols, int m, bool packed) {
  const std::string where = std::string(Q::name) + (packed ? " packed " : " ") + std::to_string(rows) + "x" +
                            std::to_string(cols) + " m=" + std::to_string(m);
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols), xf(static_cast<std::size_t>(m) * cols);
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = std::sin(0.37f * static_cast<float>(i) + 0.2f);
  for (std::size_t i = 0; i < xf.size(); ++i) xf[i] = std::cos(0.11f * static_cast<float>(i)) * 1.5f;
  const std::vector<typename Q::block> blocks = quant::quantize<Q>(wf);
  const std::size_t bytes = blocks.size() * sizeof(blocks[0]);
  auto w = aligned<unsigned char>(bytes);
  if constexpr (quant::is_int_blocks_v<Q>) {
    if (packed) quant::pack_matrix<Q>(blocks.data(), rows, cols, w.get());
  }
  if (!packed) std::memcpy(w.get(), blocks.data(), bytes);
  auto x = aligned<float>(xf.size());
  std::memcpy(x.get(), xf.data(), xf.size() * sizeof(float));
  auto y = aligned<float>(static_cast<std::size_t>(m) * rows);
  for (int i = 0; i < m * rows; ++i) y[static_cast<std::size_t>(i)] = NAN;  // every output is written

  MatrixView<Q> view{reinterpret_cast<const typename Q::block*>(w.get()), rows, cols};
  view.packed = packed;
  EXPECT(cuda::detail::launch_gemm(view, x.get(), m, y.get(), cuda::Launch{}, cuda::kernels::gemm_tile_r) ==
             cudaSuccess,
         where.c_str());
  // The narrow tile (32 weight rows a block): the same bits.
  auto narrow = aligned<float>(static_cast<std::size_t>(m) * rows);
  EXPECT(cuda::detail::launch_gemm(view, x.get(), m, narrow.get(), cuda::Launch{},
                                   cuda::kernels::gemm_narrow_tile_r) == cudaSuccess,
         where.c_str());
  EXPECT(std::memcmp(narrow.get(), y.get(), static_cast<std::size_t>(m) * rows * sizeof(float)) == 0,
         (where + ": the narrow tile's bits").c_str());
  EXPECT(cuda::detail::launch_gemm(view, x.get(), m, narrow.get(), cuda::Launch{}, 48) == cudaErrorInvalidValue,
         (where + ": a tile of 48 rows is refused").c_str());

  // The account: the operands rounded to TF32 (the dequantised weights from the ggml blocks), summed in
  // double; the kernel sums in float, 8 products a step.
  int bad = 0;
  double worst = 0;
  const int per_row = cols / Q::block_size;
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < rows; ++r) {
      double sum = 0, mag = 0;
      for (int k = 0; k < cols; ++k) {
        const float wv = quant::dequantize(blocks[static_cast<std::size_t>(r) * per_row + k / Q::block_size],
                                           k % Q::block_size);
        const double p = static_cast<double>(nvcuda::wmma::__float_to_tf32(wv)) *
                         nvcuda::wmma::__float_to_tf32(xf[static_cast<std::size_t>(i) * cols + k]);
        sum += p;
        mag += std::fabs(p);
      }
      const double got = y[static_cast<std::size_t>(i) * rows + r], err = std::fabs(got - sum);
      worst = std::fmax(worst, err / (mag + 1e-30));
      if (!(err <= 1e-5 * mag + 1e-6)) ++bad;
    }
  if (bad > 0) std::printf("  %s: %d of %d outputs off (worst relative error %.3g)\n", where.c_str(), bad, m * rows, worst);
  EXPECT(bad == 0, where.c_str());
}

template <class Q>
void check_type() {
  constexpr bool int_blocks = quant::is_int_blocks_v<Q>;
  for (bool packed : {false, true}) {
    if (packed && !int_blocks) continue;
    check<Q>(200, 256, 100, packed);  // partial tiles both ways, 8 k tiles
    check<Q>(64, 128, 64, packed);    // exact tiles
    check<Q>(1, 32, 1, packed);       // one row each, one k tile: the rest of the tile is padding
    check<Q>(70, 96, 130, packed);    // three activation tiles, an odd number of k tiles
  }
}

}  // namespace

int main() {
  check_type<quant::F32>();
  check_type<quant::F16>();
  check_type<quant::BF16>();
  check_type<quant::F8_E4M3>();
  check_type<quant::Q8_0>();
  check_type<quant::Q4_0>();
  std::printf("emulate_gemm: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
