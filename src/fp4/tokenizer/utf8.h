// UTF-8 helpers shared by the tokenizer: decoding one code point, encoding, validation and the
// replacement rule for invalid input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fp4/base/utf8.h"

namespace fp4::tokenizer {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Length in bytes of the UTF-8 sequence whose lead byte is `lead` (1 for a stray continuation byte,
// so that callers walking possibly-broken text always advance).
inline std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// Decodes the code point at text[pos] and advances pos past it. The text must be valid UTF-8
// (every string the encoder handles has been validated on entry).
inline char32_t next_code_point(std::string_view text, std::size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  if (p[0] < 0x80) {
    pos += 1;
    return p[0];
  }
  if (p[0] < 0xE0) {
    pos += 2;
    return (char32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (p[0] < 0xF0) {
    pos += 3;
    return (char32_t(p[0] & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  pos += 4;
  return (char32_t(p[0] & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) | (char32_t(p[2] & 0x3F) << 6) |
         (p[3] & 0x3F);
}

// Decodes the code point that ends at text[pos) and moves pos back to its first byte.
inline char32_t previous_code_point(std::string_view text, std::size_t& pos) {
  std::size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  std::size_t cursor = start;
  pos = start;
  return next_code_point(text, cursor);
}

using fp4::append_utf8;  // base/utf8.h

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when the bytes there are not one
// (overlong forms, surrogates, code points above U+10FFFF and truncated sequences are all invalid).
std::size_t valid_sequence_length(std::string_view text, std::size_t pos);

// Byte offset of the first invalid UTF-8 sequence, or std::string_view::npos when the text is valid.
std::size_t find_invalid_utf8(std::string_view text);

// Replaces every maximal invalid subpart with U+FFFD (Unicode §3.9 "best practice", which is what
// Python's bytes.decode(errors="replace") and Rust's String::from_utf8_lossy do).
std::string to_valid_utf8(std::string_view bytes);

// Length of the longest prefix that ends on a character boundary, leaving out an incomplete (but so far
// valid) sequence at the very end. Used by the streaming detokenizer.
std::size_t complete_utf8_prefix(std::string_view bytes);

}  // namespace fp4::tokenizer
