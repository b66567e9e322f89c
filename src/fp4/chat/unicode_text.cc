#include "fp4/chat/unicode_text.h"

#include "fp4/base/utf8.h"

#include <locale.h>
#include <wctype.h>

namespace fp4::chat::unicode {

namespace {

// towlower_l and friends with a UTF-8 locale give the simple Unicode case mappings independent of the
// process locale. C.UTF-8 is built into glibc; if it is missing, ASCII mapping is used.
locale_t utf8_locale() {
  static locale_t locale = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    return l;
  }();
  return locale;
}

}  // namespace

std::u32string decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int length = 0;
    char32_t cp = 0;
    char32_t minimum = 0;
    if ((b0 & 0xE0) == 0xC0) {
      length = 2, cp = b0 & 0x1F, minimum = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      length = 3, cp = b0 & 0x0F, minimum = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      length = 4, cp = b0 & 0x07, minimum = 0x10000;
    }
    bool ok = length > 0 && i + length <= text.size();
    for (int k = 1; ok && k < length; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    ok = ok && cp >= minimum && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.push_back(cp);
      i += length;
    } else {
      out.push_back(0xFFFD);
      ++i;
    }
  }
  return out;
}

void append_utf8(char32_t cp, std::string& out) { fp4::append_utf8(out, cp); }

std::string encode(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(c, out);
  return out;
}

bool is_space(char32_t c) {
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return true;
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_printable(char32_t c) {
  if (c == ' ') return true;
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  if (c >= 0x80 && c <= 0xA0) return false;  // C1 controls and NO-BREAK SPACE (Zs)
  if (c == 0xAD) return false;               // SOFT HYPHEN (Cf)
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x206F) || c == 0x3000)
    return false;  // separators and format characters (incl. ZWJ U+200D)
  if (c >= 0x0600 && c <= 0x0605) return false;
  if (c == 0x061C || c == 0x06DD || c == 0x070F || c == 0x180E) return false;
  if (c >= 0xD800 && c <= 0xF8FF) return false;  // surrogates and private use
  if (c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF) return false;
  if (c >= 0xE0000 && c <= 0xE007F) return false;  // tags (Cf) and unassigned
  if (c >= 0xF0000) return false;                   // supplementary private use
  return true;
}

bool is_alpha(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  locale_t l = utf8_locale();
  return l != nullptr && iswalpha_l(static_cast<wint_t>(c), l);
}

bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  locale_t l = utf8_locale();
  return l != nullptr && iswdigit_l(static_cast<wint_t>(c), l);
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  locale_t l = utf8_locale();
  return l != nullptr ? static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), l)) : c;
}

char32_t to_upper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  locale_t l = utf8_locale();
  return l != nullptr ? static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), l)) : c;
}

bool is_lower(char32_t c) { return to_upper(c) != c || c == 0xDF || (c >= 0xFB00 && c <= 0xFB06); }
bool is_upper(char32_t c) { return to_lower(c) != c; }

namespace {

// The unconditional one-to-many mappings of Unicode's SpecialCasing.txt that occur in practice.
std::u32string_view special_upper(char32_t c) {
  switch (c) {
    case 0x00DF: return U"SS";
    case 0x0149: return U"\u02BCN";
    case 0x01F0: return U"J\u030C";
    case 0x0390: return U"\u0399\u0308\u0301";
    case 0x03B0: return U"\u03A5\u0308\u0301";
    case 0x0587: return U"\u0535\u0552";
    case 0x1E96: return U"H\u0331";
    case 0x1E97: return U"T\u0308";
    case 0x1E98: return U"W\u030A";
    case 0x1E99: return U"Y\u030A";
    case 0x1E9A: return U"A\u02BE";
    case 0xFB00: return U"FF";
    case 0xFB01: return U"FI";
    case 0xFB02: return U"FL";
    case 0xFB03: return U"FFI";
    case 0xFB04: return U"FFL";
    case 0xFB05: return U"ST";
    case 0xFB06: return U"ST";
    default: return {};
  }
}

// Title case of the same characters (used by capitalize for the first character).
std::u32string_view special_title(char32_t c) {
  switch (c) {
    case 0x00DF: return U"Ss";
    case 0xFB00: return U"Ff";
    case 0xFB01: return U"Fi";
    case 0xFB02: return U"Fl";
    case 0xFB03: return U"Ffi";
    case 0xFB04: return U"Ffl";
    case 0xFB05: return U"St";
    case 0xFB06: return U"St";
    case 0x0587: return U"\u0535\u0582";
    default: return special_upper(c);
  }
}

bool is_cased(char32_t c) { return is_lower(c) || is_upper(c); }

// Greek capital sigma lowers to final sigma when it ends a word: preceded by a cased letter and not
// followed by one (combining marks are skipped in real Unicode rules; plain adjacency covers text).
char32_t lower_one(std::u32string_view text, size_t i) {
  const char32_t c = text[i];
  if (c == 0x03A3) {
    const bool after_cased = i > 0 && is_cased(text[i - 1]);
    const bool before_cased = i + 1 < text.size() && is_cased(text[i + 1]);
    return after_cased && !before_cased ? 0x03C2 : 0x03C3;
  }
  return to_lower(c);
}

}  // namespace

std::u32string upper(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    const auto special = special_upper(c);
    if (!special.empty()) {
      out += special;
    } else {
      out.push_back(to_upper(c));
    }
  }
  return out;
}

std::u32string lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == 0x0130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE → i + COMBINING DOT ABOVE
      out += U"i\u0307";
    } else {
      out.push_back(lower_one(text, i));
    }
  }
  return out;
}

std::u32string capitalize(std::u32string_view text) {
  if (text.empty()) return {};
  std::u32string out;
  const auto special = special_title(text[0]);
  if (!special.empty()) {
    out += special;
  } else {
    out.push_back(to_upper(text[0]));
  }
  out += lower(text.substr(1));
  return out;
}

}  // namespace fp4::chat::unicode
