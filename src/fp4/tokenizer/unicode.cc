#include "fp4/tokenizer/unicode.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {

namespace unicode_data {
extern const char kUnicodeVersion[];
extern const std::uint32_t kCombiningClass[];
extern const std::size_t kCombiningClassSize;
extern const std::uint32_t kDecompositionRows[];
extern const std::size_t kDecompositionRowsSize;
extern const std::uint32_t kDecompositionData[];
extern const std::uint32_t kCompositions[];
extern const std::size_t kCompositionsSize;
extern const std::uint32_t kNfcUnstableRanges[];
extern const std::size_t kNfcUnstableRangesSize;
extern const std::uint32_t kNfkcUnstableRanges[];
extern const std::size_t kNfkcUnstableRangesSize;
extern const std::uint32_t kLowercaseRows[];
extern const std::size_t kLowercaseRowsSize;
extern const std::uint32_t kLowercaseData[];
}  // namespace unicode_data

namespace {

constexpr char32_t kMaxCodePoint = 0x110000;

// Hangul syllables compose and decompose by arithmetic (Unicode §3.12).
constexpr char32_t kHangulBase = 0xAC00, kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr char32_t kLeadCount = 19, kVowelCount = 21, kTrailCount = 28;
constexpr char32_t kSyllableCount = kLeadCount * kVowelCount * kTrailCount;  // 11172

// One bit per code point, built once from the range lists.
class CodePointSet {
 public:
  CodePointSet(const std::uint32_t* ranges, std::size_t size) : bits_(kMaxCodePoint / 64, 0) {
    for (std::size_t i = 0; i + 1 < size; i += 2) {
      for (std::uint32_t cp = ranges[i]; cp <= ranges[i + 1]; ++cp) bits_[cp >> 6] |= 1ull << (cp & 63);
    }
  }
  bool contains(char32_t cp) const { return cp < kMaxCodePoint && (bits_[cp >> 6] >> (cp & 63)) & 1; }

 private:
  std::vector<std::uint64_t> bits_;
};

struct Decomposition {
  std::uint32_t nfd_offset, nfd_length, nfkd_offset, nfkd_length;
};

// All lookup structures, built on first use from the generated arrays.
struct Tables {
  std::vector<std::uint8_t> combining_class;  // [kMaxCodePoint]
  std::unordered_map<char32_t, Decomposition> decompositions;
  std::unordered_map<std::uint64_t, char32_t> compositions;  // (first << 21 | second) → composite
  CodePointSet nfc_unstable{unicode_data::kNfcUnstableRanges, unicode_data::kNfcUnstableRangesSize};
  CodePointSet nfkc_unstable{unicode_data::kNfkcUnstableRanges, unicode_data::kNfkcUnstableRangesSize};
  std::unordered_map<char32_t, std::pair<std::uint32_t, std::uint32_t>> lowercase;  // offset, length

  Tables() : combining_class(kMaxCodePoint, 0) {
    using namespace unicode_data;
    for (std::size_t i = 0; i + 1 < kCombiningClassSize; i += 2) {
      combining_class[kCombiningClass[i]] = static_cast<std::uint8_t>(kCombiningClass[i + 1]);
    }
    decompositions.reserve(kDecompositionRowsSize / 5);
    for (std::size_t i = 0; i + 4 < kDecompositionRowsSize; i += 5) {
      decompositions[kDecompositionRows[i]] = {kDecompositionRows[i + 1], kDecompositionRows[i + 2],
                                               kDecompositionRows[i + 3], kDecompositionRows[i + 4]};
    }
    for (std::size_t i = 0; i + 2 < kCompositionsSize; i += 3) {
      compositions[(std::uint64_t(kCompositions[i]) << 21) | kCompositions[i + 1]] = kCompositions[i + 2];
    }
    for (std::size_t i = 0; i + 2 < kLowercaseRowsSize; i += 3) {
      lowercase[kLowercaseRows[i]] = {kLowercaseRows[i + 1], kLowercaseRows[i + 2]};
    }
  }
};

const Tables& tables() {
  static const Tables instance;
  return instance;
}

bool is_compatibility(NormalForm form) { return form == NormalForm::kNfkc || form == NormalForm::kNfkd; }
bool composes(NormalForm form) { return form == NormalForm::kNfc || form == NormalForm::kNfkc; }

void decompose_into(char32_t cp, bool compat, const Tables& t, std::vector<char32_t>& out) {
  if (cp >= kHangulBase && cp < kHangulBase + kSyllableCount) {
    const char32_t index = cp - kHangulBase;
    out.push_back(kLeadBase + index / (kVowelCount * kTrailCount));
    out.push_back(kVowelBase + (index % (kVowelCount * kTrailCount)) / kTrailCount);
    if (index % kTrailCount != 0) out.push_back(kTrailBase + index % kTrailCount);
    return;
  }
  const auto it = t.decompositions.find(cp);
  if (it != t.decompositions.end()) {
    const std::uint32_t offset = compat ? it->second.nfkd_offset : it->second.nfd_offset;
    const std::uint32_t length = compat ? it->second.nfkd_length : it->second.nfd_length;
    if (length > 0) {
      out.insert(out.end(), unicode_data::kDecompositionData + offset,
                 unicode_data::kDecompositionData + offset + length);
      return;
    }
  }
  out.push_back(cp);
}

// Canonical ordering: a stable sort of every run of non-starters by combining class.
void reorder_marks(std::vector<char32_t>& cps, const Tables& t) {
  std::size_t i = 0;
  while (i < cps.size()) {
    if (t.combining_class[cps[i]] == 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < cps.size() && t.combining_class[cps[end]] != 0) ++end;
    std::stable_sort(cps.begin() + i, cps.begin() + end, [&](char32_t a, char32_t b) {
      return t.combining_class[a] < t.combining_class[b];
    });
    i = end;
  }
}

char32_t compose_pair(char32_t first, char32_t second, const Tables& t) {
  if (first >= kLeadBase && first < kLeadBase + kLeadCount && second >= kVowelBase &&
      second < kVowelBase + kVowelCount) {
    return kHangulBase + ((first - kLeadBase) * kVowelCount + (second - kVowelBase)) * kTrailCount;
  }
  if (first >= kHangulBase && first < kHangulBase + kSyllableCount && (first - kHangulBase) % kTrailCount == 0 &&
      second > kTrailBase && second < kTrailBase + kTrailCount) {
    return first + (second - kTrailBase);
  }
  const auto it = t.compositions.find((std::uint64_t(first) << 21) | second);
  return it == t.compositions.end() ? 0 : it->second;
}

// Canonical composition (UAX #15 §1.3): a mark combines with the last starter unless a character of the
// same or higher combining class (or a starter) stands between them. `last_class` is the class of the
// last character kept; 0 means that character is the starter itself.
void compose(std::vector<char32_t>& cps, const Tables& t) {
  if (cps.empty()) return;
  std::size_t starter = 0;
  int last_class = t.combining_class[cps[0]];
  if (last_class != 0) last_class = 256;  // text that opens with a mark has no starter to compose with
  std::size_t write = 1;
  for (std::size_t read = 1; read < cps.size(); ++read) {
    const char32_t cp = cps[read];
    const int cls = t.combining_class[cp];
    if (last_class < cls || last_class == 0) {
      const char32_t composite = compose_pair(cps[starter], cp, t);
      if (composite != 0) {
        cps[starter] = composite;
        continue;
      }
    }
    if (cls == 0) starter = write;
    last_class = cls;
    cps[write++] = cp;
  }
  cps.resize(write);
}

}  // namespace

std::string_view unicode_tables_version() { return unicode_data::kUnicodeVersion; }

std::string normalize_unicode(std::string_view text, NormalForm form) {
  const Tables& t = tables();
  const CodePointSet& unstable = is_compatibility(form) ? t.nfkc_unstable : t.nfc_unstable;
  // Fast path: composed forms of text made only of stable code points are the text itself. For the
  // decomposed forms the check is stricter (nothing that decomposes, no marks) and done below.
  bool already = true;
  for (std::size_t pos = 0; pos < text.size();) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const char32_t cp = next_code_point(text, pos);
    if (unstable.contains(cp) || (!composes(form) && (t.decompositions.count(cp) != 0 ||
                                                       (cp >= kHangulBase && cp < kHangulBase + kSyllableCount)))) {
      already = false;
      break;
    }
  }
  if (already) return std::string(text);

  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) decompose_into(next_code_point(text, pos), is_compatibility(form), t, cps);
  reorder_marks(cps, t);
  if (composes(form)) compose(cps, t);
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

std::string to_lowercase(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const unsigned char byte = static_cast<unsigned char>(text[pos]);
    if (byte < 0x80) {
      out.push_back(static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
      ++pos;
      continue;
    }
    const std::size_t start = pos;
    const char32_t cp = next_code_point(text, pos);
    const auto it = t.lowercase.find(cp);
    if (it == t.lowercase.end()) {
      out.append(text.substr(start, pos - start));
    } else {
      for (std::uint32_t i = 0; i < it->second.second; ++i) {
        append_utf8(out, unicode_data::kLowercaseData[it->second.first + i]);
      }
    }
  }
  return out;
}

bool is_white_space(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace fp4::tokenizer
