// UTF-8 text handled the way Python's str handles it: templates index, slice, strip, split and case-map
// strings by code point, and Python's notion of whitespace and of printable characters decides what
// split(), strip() and repr() do.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fp4::chat::unicode {

// Decodes UTF-8 into code points; an invalid byte becomes U+FFFD (the strings a template sees come from
// JSON, which is valid UTF-8, so this only guards against misuse).
std::u32string decode(std::string_view text);
void append_utf8(char32_t code_point, std::string& out);
std::string encode(std::u32string_view code_points);

// Python str.isspace() for one code point.
bool is_space(char32_t c);
// Python str.isprintable() for one code point (what repr() leaves unescaped), for the ranges that occur
// in practice: control and format characters, separators other than ' ', surrogates and private use.
bool is_printable(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);

// Simple (one-to-one) case mappings.
char32_t to_lower(char32_t c);
char32_t to_upper(char32_t c);
bool is_lower(char32_t c);
bool is_upper(char32_t c);

// Python's str.upper()/lower()/capitalize(): full case mappings, where one character may become
// several (ß → SS, ﬁ → FI, İ → i̇) and a capital sigma at the end of a word lowers to ς.
std::u32string upper(std::u32string_view text);
std::u32string lower(std::u32string_view text);
std::u32string capitalize(std::u32string_view text);

}  // namespace fp4::chat::unicode
