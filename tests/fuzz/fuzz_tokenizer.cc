// Fuzzes the tokenizer. The first byte picks what the rest is:
//   0: text for a byte-level tokenizer (DeepSeek-style Split pre-tokenizers, added tokens). Invalid UTF-8
//      must raise fp4::Error; valid text must round-trip through encode/decode, and the streaming
//      detokenizer must give the same text as decode.
//   1: a tokenizer.json. Loading and encoding may fail only with fp4::Error.
//   2: text for a Metaspace tokenizer with NFKC, Lowercase, byte fallback and an unknown token; the normal
//      forms must be idempotent.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/tokenizer/tokenizer.h"
#include "fp4/tokenizer/unicode.h"
#include "fp4/tokenizer/utf8.h"

namespace {

using fp4::tokenizer::Tokenizer;

std::string byte_level_vocab() {
  // The 256 GPT-2 byte characters: printable Latin-1 bytes as themselves, the rest from U+0100 on.
  std::string vocab;
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    std::string ch;
    fp4::tokenizer::append_utf8(ch, printable ? char32_t(b) : next++);
    std::string escaped;
    for (char c : ch) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    vocab += "\"" + escaped + "\": " + std::to_string(b) + ", ";
  }
  return vocab + "\"he\": 256, \"ll\": 257, \"hell\": 258, \"\xC4\xA0t\": 259";
}

const Tokenizer& byte_level_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_json(
      R"({"added_tokens": [{"id": 260, "content": "<think>", "special": false, "normalized": true},
                           {"id": 261, "content": "<|end|>", "special": true, "normalized": false}],
          "normalizer": {"type": "Sequence", "normalizers": []},
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "[一-龥぀-ゟ゠-ヿ]+"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
          "decoder": {"type": "ByteLevel"},
          "model": {"type": "BPE", "vocab": {)" +
      byte_level_vocab() + R"(}, "merges": [["h", "e"], ["l", "l"], "he ll", "Ġ t"]}})");
  return tokenizer;
}

const Tokenizer& metaspace_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_json(R"({
      "added_tokens": [{"id": 7, "content": "[MASK]", "special": true, "lstrip": true, "rstrip": true,
                        "normalized": false}],
      "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"},
                                                         {"type": "Strip", "strip_left": true, "strip_right": true}]},
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
      "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                   {"type": "ByteFallback"}, {"type": "Fuse"},
                                                   {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
      "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
                "vocab": {"<unk>": 0, "▁": 1, "a": 2, "b": 3, "▁a": 4, "<0xC3>": 5, "<0xA9>": 6},
                "merges": ["▁ a"]}})");
  return tokenizer;
}

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const Tokenizer& tok = byte_level_tokenizer();
      std::string text(input);
      if (fp4::tokenizer::find_invalid_utf8(text) != std::string_view::npos) {
        bool rejected = false;
        try {
          tok.encode(text);
        } catch (const fp4::Error&) {
          rejected = true;
        }
        check(rejected);
        text = fp4::tokenizer::to_valid_utf8(text);
      }
      const std::vector<std::uint32_t> ids = tok.encode(text, false);
      const std::string decoded = tok.decode(ids);
      check(decoded == text);
      fp4::tokenizer::StreamDecoder stream(tok);
      std::string streamed;
      for (std::uint32_t id : ids) streamed += stream.step(id);
      streamed += stream.flush();
      check(streamed == decoded);
      break;
    }
    case 1: {
      try {
        const Tokenizer tok = Tokenizer::from_json(input, "fuzz.json");
        const std::vector<std::uint32_t> ids = tok.encode("Hello, world! 123 한국어 😀 <think>");
        tok.decode(ids);
      } catch (const fp4::Error&) {
      }
      break;
    }
    default: {
      const std::string text = fp4::tokenizer::to_valid_utf8(input);
      const Tokenizer& tok = metaspace_tokenizer();
      tok.decode(tok.encode(text));
      for (auto form : {fp4::tokenizer::NormalForm::kNfc, fp4::tokenizer::NormalForm::kNfd,
                        fp4::tokenizer::NormalForm::kNfkc, fp4::tokenizer::NormalForm::kNfkd}) {
        const std::string once = fp4::tokenizer::normalize_unicode(text, form);
        check(fp4::tokenizer::normalize_unicode(once, form) == once);
      }
      break;
    }
  }
  return 0;
}
