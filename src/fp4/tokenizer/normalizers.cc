// Normalizers: text → text rewrites applied before added normalized tokens and pre-tokenization.
#include <utility>

#include "fp4/tokenizer/pipeline.h"
#include "fp4/tokenizer/unicode.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {

std::string single_char_field(const Json& object, std::string_view key, const JsonPath& path,
                              std::string_view fallback) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string(fallback);
  if (!it->is_string()) fail("{}: expected a one-character string, found {}", (path / key).str(), it->dump());
  const std::string value = it->get<std::string>();
  std::size_t pos = 0;
  if (value.empty() || find_invalid_utf8(value) != std::string_view::npos ||
      (next_code_point(value, pos), pos != value.size())) {
    fail("{}: expected exactly one character, found {:?}", (path / key).str(), value);
  }
  return value;
}

namespace {

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  bool normalize(std::string& text) const override {
    text = normalize_unicode(text, form_);
    return false;
  }

 private:
  NormalForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  bool normalize(std::string& text) const override {
    text = to_lowercase(text);
    return false;
  }
};

// Replace every match of a literal string or an Oniguruma regex by `content`.
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  bool normalize(std::string& text) const override {
    std::vector<MatchSpan> matches;
    pattern_.find_all(text, matches);
    if (matches.empty()) return false;
    const bool start_removed = content_.empty() && matches.front().start == 0 && matches.front().end > 0;
    std::string out;
    out.reserve(text.size());
    std::size_t last = 0;
    for (const MatchSpan& m : matches) {
      out.append(text, last, m.start - last);
      out += content_;
      last = m.end;
    }
    out.append(text, last, std::string::npos);
    text = std::move(out);
    return start_removed;
  }

 private:
  Regex pattern_;
  std::string content_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  bool normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
    return false;
  }

 private:
  std::string prefix_;
};

// Strips White_Space characters from either end.
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  bool normalize(std::string& text) const override {
    std::size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        std::size_t next = begin;
        if (!is_white_space(next_code_point(text, next))) break;
        begin = next;
      }
    }
    if (right_) {
      while (end > begin) {
        std::size_t prev = end;
        if (!is_white_space(previous_code_point(text, prev))) break;
        end = prev;
      }
    }
    text = text.substr(begin, end - begin);
    return begin > 0;
  }

 private:
  bool left_, right_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  bool normalize(std::string& text) const override {
    bool start_removed = false;
    for (const auto& step : steps_) start_removed |= step->normalize(text);
    return start_removed;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

// A {"String": "..."} or {"Regex": "..."} pattern object (Split, Replace).
Regex make_pattern(const Json& value, const JsonPath& path) {
  require_object(value, path);
  if (value.contains("Regex")) return Regex::from_oniguruma(string_field(value, "Regex", path), (path / "Regex").str());
  if (value.contains("String")) return Regex::from_literal(string_field(value, "String", path), (path / "String").str());
  fail("{}: expected {{\"String\": ...}} or {{\"Regex\": ...}}, found {}", path.str(), value.dump());
}

std::unique_ptr<Normalizer> make_normalizer(const Json& value, const JsonPath& path) {
  const std::string type = component_type(value, path);
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfkd);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(make_pattern(require_field(value, "pattern", path), path / "pattern"),
                                               string_field(value, "content", path));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(string_field(value, "prepend", path));
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(bool_field(value, "strip_left", path, true),
                                             bool_field(value, "strip_right", path, true));
  }
  if (type == "Sequence") {
    const Json& list = require_field(value, "normalizers", path);
    if (!list.is_array()) fail("{}: expected an array", (path / "normalizers").str());
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (std::size_t i = 0; i < list.size(); ++i) steps.push_back(make_normalizer(list[i], (path / "normalizers")[i]));
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  fail("{}: unsupported normalizer type \"{}\" (supported: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, "
       "Strip, Sequence)",
       path.str(), type);
}

}  // namespace fp4::tokenizer
