#include <doctest/doctest.h>

#include <skippy/gguf/vocab.hpp>

using skippy::gguf::Vocabulary;

TEST_CASE("vocabulary: encode_bytes maps every byte to its byte token and text() inverts it") {
  const Vocabulary v = Vocabulary::bytes(260, 259);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::vector<int> ids = v.encode_bytes(all);
  REQUIRE(ids.size() == 256);
  for (int b = 0; b < 256; ++b) CHECK(ids[static_cast<std::size_t>(b)] == 3 + b);
  CHECK(v.text(ids) == all);
  CHECK(v.encode_bytes("").empty());
}

TEST_CASE("vocabulary: encode_bytes names a byte the vocabulary cannot encode") {
  const Vocabulary v = Vocabulary::placeholder(10);
  CHECK_THROWS_WITH(v.encode_bytes("A"), doctest::Contains("no byte token <0x41>"));
}
