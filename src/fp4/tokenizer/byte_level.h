// The GPT-2 byte ↔ character table used by the ByteLevel pre-tokenizer and decoder: every byte value is
// shown as a printable character (printable Latin-1 bytes as themselves, the rest as U+0100 upwards).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace fp4::tokenizer {

// UTF-8 spelling of the character that stands for each byte.
const std::array<std::string, 256>& byte_level_chars();

// The byte a character stands for, or -1 when the character is not in the table.
int byte_level_byte(char32_t cp);

// Appends the character spelling of every byte of `bytes`.
void byte_level_encode(std::string_view bytes, std::string& out);

}  // namespace fp4::tokenizer
