// Emulated (test/emulation/README.md): the argmax kernel (kernels::argmax_rows through launch_argmax)
// against sampling::argmax, with rows of one block and rows spread over several blocks that meet in the
// scratch (blocks in a random order, the last to arrive writing the id): ties between blocks to the lowest
// id, -0 and +0 equal, rows of -inf, the non-finite flag, the scratch left clear for the next launch, and
// the refusal of a launch without scratch; ids inside the vocabulary over rows of negative NaNs; and the
// greedy verdict the argmax's last row writes. The CUDA
// test forward_test.cu checks the same on a GPU.

#include <skippy/cuda/kernels/select.cuh>
#include <skippy/sampling/argmax.hpp>

#include "check.hpp"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace skippy;
namespace kernels = skippy::cuda::kernels;

namespace {

void check(int n, int rows, std::uint32_t seed) {
  char where[64];
  std::snprintf(where, sizeof where, "n %d rows %d seed %u", n, rows, seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(0, 40);  // coarse values: ties across blocks
  std::vector<float> x(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n));
  for (float& v : x) v = static_cast<float>(level(rng)) - 20.0f;
  // Row 1: -inf but for a -0 and a +0 in other blocks (they tie: the lower id, wherever it lies).
  if (rows > 1) {
    for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = -INFINITY;
    x[static_cast<std::size_t>(n) + static_cast<std::size_t>(n - 1)] = 0.0f;
    x[static_cast<std::size_t>(n) + static_cast<std::size_t>(n / 3)] = -0.0f;
  }
  std::vector<unsigned long long> best(static_cast<std::size_t>(rows), 0);
  std::vector<unsigned> arrived(static_cast<std::size_t>(rows), 0);
  const kernels::ArgmaxScratch scratch{best.data(), arrived.data()};
  std::vector<int> out(static_cast<std::size_t>(rows) + 1, -1);
  for (int repeat = 0; repeat < 3; ++repeat) {  // other block orders; the scratch must be clear each time
    out[static_cast<std::size_t>(rows)] = 0;
    EXPECT(kernels::launch_argmax(x.data(), n, rows, out.data(), 1, out.data() + rows, scratch) == cudaSuccess, where);
    for (int r = 0; r < rows; ++r)
      EXPECT(out[static_cast<std::size_t>(r)] == sampling::argmax(x.data() + static_cast<long>(r) * n, n), where);
    if (rows > 1) EXPECT(out[1] == n / 3, where);
    EXPECT(out[static_cast<std::size_t>(rows)] == (rows > 1 ? 1 : 0), where);  // row 1 is not finite
    for (int r = 0; r < rows; ++r) {
      EXPECT(best[static_cast<std::size_t>(r)] == 0, where);
      EXPECT(arrived[static_cast<std::size_t>(r)] == 0, where);
    }
  }
  // A row of several blocks needs the scratch.
  EXPECT(kernels::launch_argmax(x.data(), n, rows, out.data(), 1, out.data() + rows, {}) ==
             (n > kernels::argmax_chunk ? cudaErrorInvalidValue : cudaSuccess), where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

// The greedy verdict the last row's thread writes (launch_argmax with a GreedyVerdict) against the
// drafts' prefix that equals the host's argmaxes: drafts agreeing up to each place, over the same scratch
// (its rows-done counter cleared each time).
void check_verdict(int n, std::uint32_t seed) {
  char where[64];
  std::snprintf(where, sizeof where, "verdict n %d seed %u", n, seed);
  const int k = 3, rows = k + 1;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 2.0f);
  std::vector<float> x(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n));
  for (float& v : x) v = g(rng);
  std::vector<int> argmax(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r)
    argmax[static_cast<std::size_t>(r)] = sampling::argmax(x.data() + static_cast<long>(r) * n, n);
  std::vector<unsigned long long> best(static_cast<std::size_t>(rows), 0);
  std::vector<unsigned> arrived(static_cast<std::size_t>(rows) + 1, 0);
  const kernels::ArgmaxScratch scratch{best.data(), arrived.data(), arrived.data() + rows};
  for (int agree = 0; agree <= k; ++agree) {  // drafts d_1..d_agree equal the argmaxes before them
    std::vector<int> block = {5, 0, 0, 0}, out(static_cast<std::size_t>(rows) + 1, -1), verdict(2, -1), pending1(1, -1);
    for (int i = 0; i < k; ++i) {
      const int a = argmax[static_cast<std::size_t>(i)];
      block[static_cast<std::size_t>(i) + 1] = i < agree ? a : (a + 1) % n;
    }
    const kernels::GreedyVerdict then{block.data(), k, verdict.data(), block.data(), pending1.data()};
    EXPECT(kernels::launch_argmax(x.data(), n, rows, out.data(), 1, out.data() + rows, scratch, nullptr, then) ==
               cudaSuccess, where);
    EXPECT(verdict[0] == agree && verdict[1] == argmax[static_cast<std::size_t>(agree)], where);
    EXPECT(block[0] == verdict[1] && pending1[0] == verdict[1], where);  // the next step's pending token
    EXPECT(arrived[static_cast<std::size_t>(rows)] == 0, where);
  }
  // A verdict needs its counter and k + 1 rows.
  std::vector<int> block(k + 1, 0), out(static_cast<std::size_t>(rows) + 1), verdict(2);
  const kernels::GreedyVerdict then{block.data(), k, verdict.data(), block.data(), nullptr};
  const kernels::ArgmaxScratch no_counter{best.data(), arrived.data()};
  EXPECT(kernels::launch_argmax(x.data(), n, rows, out.data(), 1, out.data() + rows, no_counter, nullptr, then) ==
             cudaErrorInvalidValue, where);
  EXPECT(kernels::launch_argmax(x.data(), n, rows - 1, out.data(), 1, out.data() + rows, scratch, nullptr, then) ==
             cudaErrorInvalidValue, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

// Rows of negative NaNs (flagged): a thread that owns no element (n < the block's threads, or a last chunk
// shorter than them) keeps {-inf, n}, which outranks them; the id written stays below n.
void check_negative_nan(int n) {
  char where[64];
  std::snprintf(where, sizeof where, "negative NaN n %d", n);
  const int rows = 2;
  const std::vector<float> x(static_cast<std::size_t>(rows) * static_cast<std::size_t>(n), -std::nanf(""));
  std::vector<unsigned long long> best(rows, 0);
  std::vector<unsigned> arrived(rows, 0);
  std::vector<int> out(rows + 1, -1);
  out[rows] = 0;
  EXPECT(kernels::launch_argmax(x.data(), n, rows, out.data(), 1, out.data() + rows, {best.data(), arrived.data()}) ==
             cudaSuccess, where);
  for (int r = 0; r < rows; ++r) EXPECT(out[static_cast<std::size_t>(r)] >= 0 && out[static_cast<std::size_t>(r)] < n,
                                        where);
  EXPECT(out[rows] == 1, where);
  std::printf("%s: %d failures so far\n", where, emulation::failures);
}

}  // namespace

int main() {
  check_negative_nan(100);                          // fewer ids than threads
  check_negative_nan(kernels::argmax_chunk + 100);  // a last chunk shorter than the block
  check_verdict(1000, 6);   // one block a row
  check_verdict(20000, 7);  // five
  check(1000, 3, 1);                       // one block a row
  check(kernels::argmax_chunk, 2, 2);      // exactly one
  check(kernels::argmax_chunk + 1, 2, 3);  // a second block of one id
  check(20000, 3, 4);                      // five blocks, the last partial
  check(20000, 1, 5);
  std::printf("emulate_select: %d failures\n", emulation::failures);
  return emulation::failures == 0 ? 0 : 1;
}
