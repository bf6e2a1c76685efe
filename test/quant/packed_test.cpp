// The packed layout of Q8_0 / Q4_0 matrices (the weight kernel's optional one-time repack): every slice
// of every row loads the same scale and quant bytes from the packed copy as from the ggml blocks in
// place, so the kernel's arithmetic, and its bits, cannot tell the layouts apart; and the packed copy is
// exactly the matrix's size.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <skippy/host/forward.hpp>
#include <skippy/model/host_model.hpp>
#include <skippy/quant/packed.hpp>
#include <skippy/quant/quantize.hpp>
#include <string>
#include <vector>

#include "../support/models.hpp"

using namespace skippy;

namespace {

template <class Q>
void check_packed_loads(int rows, int cols, std::mt19937& rng) {
  CAPTURE(std::string(Q::name));
  CAPTURE(rows);
  CAPTURE(cols);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> wf(static_cast<std::size_t>(rows) * cols);
  for (float& v : wf) v = g(rng);
  const auto w = quant::quantize<Q>(wf);
  const std::size_t bytes = static_cast<std::size_t>(rows) * quant::row_bytes<Q>(static_cast<std::size_t>(cols));
  // The scales end where the matrix would: the same size.
  CHECK(quant::Packed<Q>::scales_offset(rows, cols) + w.size() * sizeof(half_t) == bytes);
  std::vector<unsigned char> packed(bytes + 8, 0xa5);  // bytes past the end stay untouched
  quant::pack_matrix<Q>(w.data(), rows, cols, packed.data());
  for (std::size_t i = bytes; i < packed.size(); ++i) CHECK(packed[i] == 0xa5);
  int differ = 0;
  for (int r = 0; r < rows; ++r) {
    const auto in_place = quant::InPlace<Q>::row(w.data(), r, rows, cols);
    const auto row = quant::Packed<Q>::row(packed.data(), r, rows, cols);
    for (int s = 0; s < cols / quant::Slice<Q>::values; ++s) {
      const auto a = quant::InPlace<Q>::load(in_place, s), b = quant::Packed<Q>::load(row, s);
      differ += a.d.bits != b.d.bits || a.q[0] != b.q[0] || a.q[1] != b.q[1];
    }
    // Every element dequantised from the packed bytes (the tensor-core kernel's tiles) is the block's.
    for (int k = 0; k < cols; ++k) {
      const float u = quant::InPlace<Q>::value(in_place, k), v = quant::Packed<Q>::value(row, k);
      differ += std::memcmp(&u, &v, sizeof u) != 0;
    }
  }
  CHECK(differ == 0);
}

}  // namespace

TEST_CASE("the packed layout loads every slice's scale and quant bytes, and every value, as the blocks in place do") {
  std::mt19937 rng(11);
  for (int cols : {32, 64, 288, 4096})
    for (int rows : {1, 3, 17}) {
      check_packed_loads<quant::Q8_0>(rows, cols, rng);
      check_packed_loads<quant::Q4_0>(rows, cols, rng);
    }
}

TEST_CASE("the host backend refuses a model whose weights are in the packed device layout") {
  const auto hm = HostModel<quant::Q8_0>::from_float(test::random_weights(5));
  ModelView<quant::Q8_0> v = hm.view();
  CHECK_FALSE(v.any_packed());
  v.layers[1].w_up.packed = true;
  CHECK(v.any_packed());
  CHECK_THROWS_WITH_AS(host::Forward<quant::Q8_0>{v}, doctest::Contains("packed device layout"), Error);
}
