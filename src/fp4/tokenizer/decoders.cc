#include "fp4/tokenizer/decoders.h"

#include <utility>

#include "fp4/tokenizer/byte_level.h"
#include "fp4/tokenizer/pipeline.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {
namespace {

std::vector<char32_t> code_points(std::string_view text) {
  std::vector<char32_t> cps;
  for (std::size_t pos = 0; pos < text.size();) cps.push_back(next_code_point(text, pos));
  return cps;
}

char32_t single_code_point(const std::string& text) {
  std::size_t pos = 0;
  return next_code_point(text, pos);
}

// Turns every token back into bytes through the ByteLevel table (a token with a character outside the
// table keeps its own UTF-8 bytes), joins them and replaces invalid UTF-8 with U+FFFD.
class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      const std::size_t mark = bytes.size();
      bool all_mapped = true;
      for (std::size_t pos = 0; pos < token.size();) {
        const int b = byte_level_byte(next_code_point(token, pos));
        if (b < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!all_mapped) {
        bytes.resize(mark);
        bytes += token;
      }
    }
    tokens.assign(1, to_valid_utf8(bytes));
  }
};

enum class PrependScheme { kAlways, kFirst, kNever };

// Replacement character → space; in the first token every replacement character is dropped when the
// pre-tokenizer prepends one (scheme other than "never").
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, PrependScheme scheme)
      : replacement_(single_code_point(replacement)), scheme_(scheme) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& token = tokens[i];
      for (std::size_t pos = 0; pos < token.size();) {
        const std::size_t start = pos;
        if (next_code_point(token, pos) == replacement_) {
          if (!(i == 0 && scheme_ != PrependScheme::kNever)) out.push_back(' ');
        } else {
          out.append(token, start, pos - start);
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  char32_t replacement_;
  PrependScheme scheme_;
};

// Runs of "<0xXX>" tokens become their bytes; a run that is not valid UTF-8 becomes one U+FFFD per byte.
class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    const auto flush = [&] {
      if (pending.empty()) return;
      if (find_invalid_utf8(pending) == std::string_view::npos) {
        out.push_back(pending);
      } else {
        for (std::size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& token : tokens) {
      const int byte = parse_byte_token(token);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int parse_byte_token(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
    const int hi = hex_digit(token[3]), lo = hex_digit(token[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& t : tokens) joined += t;
    tokens.assign(1, std::move(joined));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, std::size_t start, std::size_t stop)
      : content_(single_code_point(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      const std::vector<char32_t> cps = code_points(token);
      std::size_t begin = 0;
      while (begin < start_ && begin < cps.size() && cps[begin] == content_) ++begin;
      std::size_t end = cps.size();
      for (std::size_t cut = 0; cut < stop_ && end > begin && cps[end - 1] == content_; ++cut) --end;
      std::string out;
      for (std::size_t i = begin; i < end; ++i) append_utf8(out, cps[i]);
      token = std::move(out);
    }
  }

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<MatchSpan> matches;
    for (std::string& token : tokens) {
      matches.clear();
      pattern_.find_all(token, matches);
      if (matches.empty()) continue;
      std::string out;
      std::size_t last = 0;
      for (const MatchSpan& m : matches) {
        out.append(token, last, m.start - last);
        out += content_;
        last = m.end;
      }
      out.append(token, last, std::string::npos);
      token = std::move(out);
    }
  }

 private:
  Regex pattern_;
  std::string content_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

PrependScheme metaspace_scheme(const Json& value, const JsonPath& path) {
  if (value.contains("prepend_scheme")) {
    const std::string name = string_field(value, "prepend_scheme", path);
    if (name == "always") return PrependScheme::kAlways;
    if (name == "first") return PrependScheme::kFirst;
    if (name == "never") return PrependScheme::kNever;
    fail("{}: unknown prepend_scheme \"{}\" (expected always, first or never)", (path / "prepend_scheme").str(), name);
  }
  return bool_field(value, "add_prefix_space", path, true) ? PrependScheme::kAlways : PrependScheme::kNever;
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& value, const JsonPath& path) {
  const std::string type = component_type(value, path);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    return std::make_unique<MetaspaceDecoder>(single_char_field(value, "replacement", path, "\xE2\x96\x81"),
                                              metaspace_scheme(value, path));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    return std::make_unique<StripDecoder>(single_char_field(value, "content", path, " "),
                                          uint_field(value, "start", path, 0), uint_field(value, "stop", path, 0));
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(make_pattern(require_field(value, "pattern", path), path / "pattern"),
                                            string_field(value, "content", path));
  }
  if (type == "Sequence") {
    const Json& list = require_field(value, "decoders", path);
    if (!list.is_array()) fail("{}: expected an array", (path / "decoders").str());
    std::vector<std::unique_ptr<Decoder>> steps;
    for (std::size_t i = 0; i < list.size(); ++i) steps.push_back(make_decoder(list[i], (path / "decoders")[i]));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  fail("{}: unsupported decoder type \"{}\" (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, "
       "Sequence)",
       path.str(), type);
}

}  // namespace fp4::tokenizer
