#include <doctest/doctest.h>

#include <skippy/rng/philox.hpp>
#include <skippy/text/utf8.hpp>

#include <string>

using skippy::text::Utf8Stream;

namespace {

// Strict validity per RFC 3629 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int n = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0 || (n > 0 && i + static_cast<std::size_t>(n) >= s.size())) return false;
    std::uint32_t cp = n == 0 ? b : b & (0x3Fu >> n);
    for (int j = 1; j <= n; ++j) {
      const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(j)]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

std::string stream_bytewise(const std::string& in) {
  Utf8Stream s;
  std::string out;
  for (char c : in) out += s.push(std::string(1, c));
  return out + s.finish();
}

}  // namespace

TEST_CASE("utf8 stream: valid text passes unchanged, byte by byte, and is held back until complete") {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a é € 😀 z
  CHECK(stream_bytewise(text) == text);
  Utf8Stream s;
  CHECK(s.push("\xE2") == "");
  CHECK(s.push("\x82") == "");
  CHECK(s.push("\xAC") == "\xE2\x82\xAC");
  CHECK(s.finish() == "");
}

TEST_CASE("utf8 stream: invalid bytes become U+FFFD, and a broken sequence does not swallow the next byte") {
  const std::string r = Utf8Stream::replacement;
  CHECK(stream_bytewise("\x80") == r);                // stray continuation
  CHECK(stream_bytewise("\xC0\xAF") == r + r);        // overlong lead C0, then a stray continuation
  CHECK(stream_bytewise("\xE0\x80\x80") == r + r + r);  // overlong 3-byte form
  CHECK(stream_bytewise("\xED\xA0\x80") == r + r + r);  // surrogate U+D800
  CHECK(stream_bytewise("\xF4\x90\x80\x80") == r + r + r + r);  // > U+10FFFF
  CHECK(stream_bytewise("\xC3" "A") == r + "A");      // sequence broken by ASCII
  CHECK(stream_bytewise("x\xE2\x82") == "x" + r);     // incomplete at the end
}

TEST_CASE("utf8 stream: any byte string comes out valid, and valid input comes out unchanged") {
  for (std::uint32_t trial = 0; trial < 2000; ++trial) {
    std::string in;
    const int n = 1 + static_cast<int>(skippy::rng::uniform(7, {0, trial, skippy::rng::Purpose::evaluation, 1}) * 24);
    for (int i = 0; i < n; ++i) {
      const float u = skippy::rng::uniform(7, {static_cast<std::uint32_t>(i + 1), trial, skippy::rng::Purpose::evaluation, 1});
      in += static_cast<char>(u < 0.5f ? 0x20 + static_cast<int>(u * 190) : 0x80 + static_cast<int>((u - 0.5f) * 256));
    }
    const std::string out = stream_bytewise(in);
    CHECK(valid_utf8(out));
    if (valid_utf8(in)) CHECK(out == in);
  }
}
