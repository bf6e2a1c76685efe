#pragma once
// Joining streamed bytes into valid UTF-8 (README §1: byte tokens are joined into valid UTF-8).
// A byte model emits one byte per token, so a character arrives over up to four tokens; the stream holds
// an incomplete sequence back and replaces invalid bytes with U+FFFD, as a terminal expects.

#include <string>

namespace skippy::text {

class Utf8Stream {
 public:
  // Appends `bytes` and returns the text that is now complete: whole, valid characters, and U+FFFD for
  // every byte that can not start or continue a valid sequence (overlong forms, surrogates, > U+10FFFF).
  std::string push(const std::string& bytes) {
    std::string out;
    for (const char ch : bytes) push_byte(static_cast<unsigned char>(ch), out);
    return out;
  }

  // Ends the stream: an incomplete trailing sequence becomes U+FFFD.
  std::string finish() {
    std::string out;
    if (!pending_.empty()) out += replacement;
    pending_.clear();
    need_ = 0;
    return out;
  }

  static constexpr const char* replacement = "\xEF\xBF\xBD";

 private:
  void push_byte(unsigned char b, std::string& out) {
    if (need_ > 0) {
      if (continues(b)) {
        pending_ += static_cast<char>(b);
        if (--need_ == 0) {
          out += pending_;
          pending_.clear();
        }
        return;
      }
      out += replacement;  // the sequence broke off; b starts afresh
      pending_.clear();
      need_ = 0;
    }
    if (b < 0x80) {
      out += static_cast<char>(b);
    } else if (b >= 0xC2 && b <= 0xF4) {
      pending_ = std::string(1, static_cast<char>(b));
      need_ = b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
    } else {
      out += replacement;  // a stray continuation byte, C0/C1 (overlong) or F5..FF
    }
  }

  // Whether b may follow what is pending: a continuation byte, with the second byte's range restricted
  // after E0 (overlong), ED (surrogates), F0 (overlong) and F4 (> U+10FFFF).
  bool continues(unsigned char b) const {
    if ((b & 0xC0) != 0x80) return false;
    if (pending_.size() != 1) return true;
    const auto lead = static_cast<unsigned char>(pending_[0]);
    if (lead == 0xE0) return b >= 0xA0;
    if (lead == 0xED) return b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90;
    if (lead == 0xF4) return b <= 0x8F;
    return true;
  }

  std::string pending_;
  int need_ = 0;
};

}  // namespace skippy::text
