// Pre-tokenizers: split normalized text into the words the model encodes one by one.
#include <algorithm>
#include <utility>

#include "fp4/tokenizer/byte_level.h"
#include "fp4/tokenizer/pipeline.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {
namespace {

// GPT-2's word pattern, used by ByteLevel when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Part {
  std::size_t start, end;
  bool is_match;
};

SplitBehavior parse_behavior(const Json& value, const JsonPath& path) {
  const std::string name = string_field(value, "behavior", path);
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail("{}: unknown split behavior \"{}\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
       "Contiguous)",
       (path / "behavior").str(), name);
}

// Applies `behavior` to the alternating list of parts; returns the kept [start, end) ranges in `kept`.
void apply_behavior(const std::vector<Part>& parts, SplitBehavior behavior, std::vector<MatchSpan>& kept) {
  kept.clear();
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) kept.push_back({p.start, p.end});
      return;
    case SplitBehavior::kRemoved:
      for (const Part& p : parts) {
        if (!p.is_match) kept.push_back({p.start, p.end});
      }
      return;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.is_match && !previous_match && !kept.empty()) {
          kept.back().end = p.end;
        } else {
          kept.push_back({p.start, p.end});
        }
        previous_match = p.is_match;
      }
      return;
    }
    case SplitBehavior::kMergedWithNext: {
      // Walk backwards: a match joins the part that follows it.
      bool previous_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) {
          kept.back().start = it->start;
        } else {
          kept.push_back({it->start, it->end});
        }
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      return;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.is_match == previous_match && !kept.empty()) {
          kept.back().end = p.end;
        } else {
          kept.push_back({p.start, p.end});
        }
        previous_match = p.is_match;
      }
      return;
    }
  }
}

}  // namespace

void split_pieces(std::vector<Piece>& pieces, const Regex& pattern, SplitBehavior behavior, bool invert) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  std::vector<MatchSpan> matches;
  std::vector<Part> parts;
  std::vector<MatchSpan> kept;
  for (const Piece& piece : pieces) {
    const std::string_view text = piece.text;
    matches.clear();
    parts.clear();
    pattern.find_all(text, matches);
    std::size_t previous = 0;
    for (const MatchSpan& m : matches) {
      if (previous != m.start) parts.push_back({previous, m.start, false});
      parts.push_back({m.start, m.end, true});
      previous = m.end;
    }
    if (previous != text.size() || parts.empty()) parts.push_back({previous, text.size(), false});
    if (invert) {
      for (Part& p : parts) p.is_match = !p.is_match;
    }
    apply_behavior(parts, behavior, kept);
    for (const MatchSpan& k : kept) {
      if (k.end > k.start) out.push_back({text.substr(k.start, k.end - k.start), piece.at_origin && k.start == 0});
    }
  }
  pieces = std::move(out);
}

namespace {

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces, PieceArena&, bool) const override {
    split_pieces(pieces, pattern_, behavior_, invert_);
  }

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Optionally prepends a space, optionally splits with the GPT-2 pattern, then spells every byte as its
// table character (unless the caller defers that to the model).
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        use_regex_(use_regex),
        pattern_(Regex::from_oniguruma(kGpt2Pattern, "ByteLevel pattern")) {}

  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena, bool defer_byte_level) const override {
    if (add_prefix_space_) {
      for (Piece& piece : pieces) {
        if (piece.text.empty() || piece.text.front() != ' ') {
          std::string spaced;
          spaced.reserve(piece.text.size() + 1);
          spaced.push_back(' ');
          spaced.append(piece.text);
          piece.text = arena.keep(std::move(spaced));
        }
      }
    }
    if (use_regex_) split_pieces(pieces, pattern_, SplitBehavior::kIsolated, false);
    if (defer_byte_level) return;
    for (Piece& piece : pieces) {
      std::string mapped;
      byte_level_encode(piece.text, mapped);
      piece.text = arena.keep(std::move(mapped));
    }
  }
  bool ends_with_byte_level() const override { return true; }

 private:
  bool add_prefix_space_, use_regex_;
  Regex pattern_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

// Replaces spaces by the replacement character, prepends one as the scheme says, and splits before each.
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)),
        scheme_(scheme),
        split_(split),
        pattern_(Regex::from_literal(replacement_, "Metaspace replacement")) {}

  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena, bool) const override {
    for (Piece& piece : pieces) {
      std::string text;
      text.reserve(piece.text.size() + replacement_.size());
      const bool starts_with_replacement = piece.text.substr(0, replacement_.size()) == replacement_ ||
                                           (!piece.text.empty() && piece.text.front() == ' ');
      const bool prepend = !starts_with_replacement &&
                           (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && piece.at_origin));
      if (prepend) text += replacement_;
      for (char c : piece.text) {
        if (c == ' ') {
          text += replacement_;
        } else {
          text.push_back(c);
        }
      }
      piece.text = arena.keep(std::move(text));
    }
    if (split_) split_pieces(pieces, pattern_, SplitBehavior::kMergedWithNext, false);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
  Regex pattern_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena, bool defer_byte_level) const override {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      steps_[i]->pre_tokenize(pieces, arena, defer_byte_level && i + 1 == steps_.size());
    }
  }
  bool ends_with_byte_level() const override { return !steps_.empty() && steps_.back()->ends_with_byte_level(); }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// Oniguruma-syntax class bodies for the character predicates HF uses.
constexpr std::string_view kPunctuationClass = R"([\p{P}!-/:-@\[-`{-~])";  // Rust: ASCII or Unicode punctuation

std::unique_ptr<PreTokenizer> split_step(std::string_view pattern, std::string_view what, SplitBehavior behavior,
                                         bool invert) {
  return std::make_unique<SplitPreTokenizer>(Regex::from_oniguruma(pattern, what), behavior, invert);
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& value, const JsonPath& path) {
  const std::string type = component_type(value, path);
  if (type == "Split") {
    return std::make_unique<SplitPreTokenizer>(make_pattern(require_field(value, "pattern", path), path / "pattern"),
                                               parse_behavior(value, path), bool_field(value, "invert", path, false));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(bool_field(value, "add_prefix_space", path, true),
                                                   bool_field(value, "use_regex", path, true));
  }
  if (type == "Digits") {
    // Each numeric character (Rust's char::is_numeric: \p{N}) alone, or runs of them together.
    const bool individual = bool_field(value, "individual_digits", path, false);
    return split_step(individual ? R"(\p{N})" : R"(\p{N}+)", path.str(), SplitBehavior::kIsolated, false);
  }
  if (type == "Punctuation") {
    const SplitBehavior behavior =
        value.contains("behavior") ? parse_behavior(value, path) : SplitBehavior::kIsolated;
    return split_step(kPunctuationClass, path.str(), behavior, false);
  }
  if (type == "Whitespace") return split_step(kRustWordsOrSymbols, path.str(), SplitBehavior::kRemoved, true);
  if (type == "WhitespaceSplit") return split_step(R"(\s+)", path.str(), SplitBehavior::kRemoved, false);
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(split_step(R"(\s+)", path.str(), SplitBehavior::kRemoved, false));
    steps.push_back(split_step(kPunctuationClass, path.str(), SplitBehavior::kIsolated, false));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "CharDelimiterSplit") {
    const std::string delimiter = single_char_field(value, "delimiter", path, "");
    if (delimiter.empty()) fail("{}: missing field \"delimiter\"", path.str());
    return std::make_unique<SplitPreTokenizer>(Regex::from_literal(delimiter, path.str()), SplitBehavior::kRemoved,
                                               false);
  }
  if (type == "Metaspace") {
    const std::string replacement = single_char_field(value, "replacement", path, "\xE2\x96\x81");
    PrependScheme scheme = bool_field(value, "add_prefix_space", path, true) ? PrependScheme::kAlways
                                                                             : PrependScheme::kNever;
    if (value.contains("prepend_scheme")) {
      const std::string name = string_field(value, "prepend_scheme", path);
      if (name == "always") {
        scheme = PrependScheme::kAlways;
      } else if (name == "first") {
        scheme = PrependScheme::kFirst;
      } else if (name == "never") {
        scheme = PrependScheme::kNever;
      } else {
        fail("{}: unknown prepend_scheme \"{}\" (expected always, first or never)", (path / "prepend_scheme").str(),
             name);
      }
    }
    return std::make_unique<MetaspacePreTokenizer>(replacement, scheme, bool_field(value, "split", path, true));
  }
  if (type == "Sequence") {
    const Json& list = require_field(value, "pretokenizers", path);
    if (!list.is_array()) fail("{}: expected an array", (path / "pretokenizers").str());
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (std::size_t i = 0; i < list.size(); ++i) {
      steps.push_back(make_pre_tokenizer(list[i], (path / "pretokenizers")[i]));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  fail("{}: unsupported pre_tokenizer type \"{}\" (supported: Split, ByteLevel, Digits, Punctuation, Whitespace, "
       "WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit, Metaspace, Sequence)",
       path.str(), type);
}

}  // namespace fp4::tokenizer
