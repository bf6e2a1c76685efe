// Greedy S3D == greedy AR for K = 2, both drafting modes, every storage type and skip range.

#include "../support/greedy_grid.hpp"

TEST_CASE("greedy S3D equals greedy autoregressive decoding over the policy grid, K = 2") {
  skippy::test::grid::check_grid<2>();
}
