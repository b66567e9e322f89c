#include "fp4/tokenizer/utf8.h"

#include <cstring>

namespace fp4::tokenizer {
namespace {

// Number of bytes of a valid sequence that starts at text[pos], counting only as far as the bytes go
// (a truncated but otherwise well-formed prefix returns how many of its bytes are present), and whether
// the sequence is complete. This is the "maximal subpart" of Unicode §3.9, table 3-7.
struct SubpartScan {
  std::size_t length;  // bytes that belong to the (possibly truncated) sequence; ≥ 1
  bool complete;
  bool truncated = false;  // valid so far but cut off by the end of the text
};

SubpartScan scan_sequence(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {1, true};
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;  // no overlong forms
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;  // no overlong forms
    if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false};
  }
  std::size_t have = 1;
  while (have < need) {
    if (pos + have >= text.size()) return {have, false, true};
    const unsigned char b = byte(pos + have);
    const bool ok = have == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {have, false};
    ++have;
  }
  return {need, true};
}

}  // namespace

std::size_t valid_sequence_length(std::string_view text, std::size_t pos) {
  const SubpartScan scan = scan_sequence(text, pos);
  return scan.complete ? scan.length : 0;
}

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t pos = 0;
  const std::size_t n = text.size();
  while (pos < n) {
    // ASCII runs are by far the most common; skip eight bytes at a time while they last.
    while (pos + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + pos, 8);
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= n) break;
    const SubpartScan scan = scan_sequence(text, pos);
    if (!scan.complete) return pos;
    pos += scan.length;
  }
  return std::string_view::npos;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const SubpartScan scan = scan_sequence(bytes, pos);
    if (scan.complete) {
      out.append(bytes.substr(pos, scan.length));
    } else {
      append_utf8(out, kReplacementChar);
    }
    pos += scan.length;
  }
  return out;
}

std::size_t complete_utf8_prefix(std::string_view bytes) {
  // Look back at most three bytes for a lead byte whose sequence is cut off by the end.
  const std::size_t n = bytes.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const std::size_t pos = n - back;
    const auto b = static_cast<unsigned char>(bytes[pos]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    const SubpartScan scan = scan_sequence(bytes, pos);
    if (scan.truncated) return pos;  // valid so far, cut off by the end
    return n;
  }
  return n;
}

}  // namespace fp4::tokenizer
