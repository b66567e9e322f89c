#include "fp4/tokenizer/byte_level.h"

#include <vector>

#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {
namespace {

struct ByteLevelTable {
  std::array<std::string, 256> chars;
  std::array<int, 512> byte_of_char;  // every table character is below U+0200

  ByteLevelTable() {
    byte_of_char.fill(-1);
    std::array<char32_t, 256> cp_of_byte{};
    // Bytes that are printable Latin-1 keep their own code point.
    std::vector<bool> printable(256, false);
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) cp_of_byte[b] = printable[b] ? char32_t(b) : next++;
    for (int b = 0; b < 256; ++b) {
      append_utf8(chars[b], cp_of_byte[b]);
      byte_of_char[cp_of_byte[b]] = b;
    }
  }
};

const ByteLevelTable& table() {
  static const ByteLevelTable instance;
  return instance;
}

}  // namespace

const std::array<std::string, 256>& byte_level_chars() { return table().chars; }

int byte_level_byte(char32_t cp) { return cp < 512 ? table().byte_of_char[cp] : -1; }

void byte_level_encode(std::string_view bytes, std::string& out) {
  const auto& chars = table().chars;
  for (unsigned char b : bytes) out += chars[b];
}

}  // namespace fp4::tokenizer
