#include <doctest/doctest.h>

#include <skippy/decode/repetition.hpp>

using skippy::repeated_ngram_share;

TEST_CASE("repeated n-gram share: no repeats, a loop, and short input") {
  CHECK(repeated_ngram_share({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 8) == 0.0);
  // Period-2 loop of 12 tokens: 5 8-gram positions; every 8-gram after the first two repeats (3 of 5).
  std::vector<int> loop;
  for (int i = 0; i < 12; ++i) loop.push_back(i % 2);
  CHECK(repeated_ngram_share(loop, 8) == doctest::Approx(3.0 / 5.0));
  CHECK(repeated_ngram_share({1, 2, 3}, 8) == 0.0);
  CHECK(repeated_ngram_share({1, 1, 1}, 1) == doctest::Approx(2.0 / 3.0));
  CHECK_THROWS_WITH(repeated_ngram_share({1}, 0), doctest::Contains("n must be >= 1"));
}
