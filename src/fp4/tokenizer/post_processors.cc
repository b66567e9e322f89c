#include "fp4/tokenizer/post_processors.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace fp4::tokenizer {
namespace {

class NoOpProcessor final : public PostProcessor {
 public:
  void process(std::vector<std::uint32_t>&) const override {}
  void process_parts(EncodedParts&, bool) const override {}
  bool is_identity() const override { return true; }
};

// One entry of a TemplateProcessing template: one of the two sequences, or a special token's ids.
struct TemplateEntry {
  enum class Kind { kSequenceA, kSequenceB, kSpecial };
  Kind kind = Kind::kSpecial;
  std::vector<std::uint32_t> ids;  // kSpecial: what the token stands for (special_tokens[...].ids)
};

// A template applied to the encoded parts, as HF's TemplateProcessing.apply_template: every entry becomes
// one part (a sequence entry copies that sequence, a special-token entry is its ids, dropped when special
// tokens are off).
class TemplateProcessor final : public PostProcessor {
 public:
  // `pair_error`: why the pair template cannot be used: no "pair" field (HF refuses such a file; this
  // accepts it for single texts), or a special token missing from special_tokens (HF loads the file and
  // panics only when it adds that token to a pair); `pair_error_needs_special` tells which.
  TemplateProcessor(std::vector<TemplateEntry> single, std::vector<TemplateEntry> pair, std::string pair_error,
                    bool pair_error_needs_special, std::string where)
      : single_(std::move(single)),
        pair_(std::move(pair)),
        pair_error_(std::move(pair_error)),
        pair_error_needs_special_(pair_error_needs_special),
        where_(std::move(where)) {
    // The single template holds exactly one sequence (checked by the callers): split it around that entry.
    bool after = false;
    for (const TemplateEntry& entry : single_) {
      if (entry.kind != TemplateEntry::Kind::kSpecial) {
        after = true;
        continue;
      }
      auto& target = after ? suffix_ : prefix_;
      target.insert(target.end(), entry.ids.begin(), entry.ids.end());
    }
  }

  void process(std::vector<std::uint32_t>& ids) const override {
    ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
    ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  }

  void process_parts(EncodedParts& parts, bool add_special_tokens) const override {
    if (parts.size() != 1 && parts.size() != 2) {
      fail("{}: a TemplateProcessing takes one or two sequences, but an earlier post-processor left {} parts",
           where_, parts.size());
    }
    const bool is_pair = parts.size() == 2;
    if (is_pair && !pair_error_.empty() && (add_special_tokens || !pair_error_needs_special_)) fail("{}", pair_error_);
    EncodedParts out;
    for (const TemplateEntry& entry : is_pair ? pair_ : single_) {
      switch (entry.kind) {
        case TemplateEntry::Kind::kSequenceA:
          out.push_back(parts[0]);
          break;
        case TemplateEntry::Kind::kSequenceB:
          // Only the pair template has $B (the single template's one sequence is always stored as $A).
          out.push_back(parts[1]);
          break;
        case TemplateEntry::Kind::kSpecial:
          if (add_special_tokens) out.push_back(entry.ids);
          break;
      }
    }
    parts = std::move(out);
  }

  bool splits_parts() const override { return true; }

 private:
  std::vector<TemplateEntry> single_, pair_;
  std::string pair_error_;
  bool pair_error_needs_special_;
  std::string where_;
  std::vector<std::uint32_t> prefix_, suffix_;  // the single template's special ids before / after $A
};

// RobertaProcessing ("<s> A </s>", pair "<s> A </s> </s> B </s>") and BertProcessing ("[CLS] A [SEP]", pair
// "[CLS] A [SEP] B [SEP]"): the first part gets cls … sep, every later one sep … sep (Roberta) or … sep (Bert).
class ClsSepProcessor final : public PostProcessor {
 public:
  ClsSepProcessor(bool roberta, std::uint32_t cls, std::uint32_t sep) : roberta_(roberta), cls_(cls), sep_(sep) {}

  void process(std::vector<std::uint32_t>& ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
  }

  void process_parts(EncodedParts& parts, bool add_special_tokens) const override {
    if (!add_special_tokens) return;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i == 0) {
        process(parts[i]);
      } else {
        if (roberta_) parts[i].insert(parts[i].begin(), sep_);
        parts[i].push_back(sep_);
      }
    }
  }

 private:
  bool roberta_;
  std::uint32_t cls_, sep_;
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {
    // After a TemplateProcessing, a later step that is not ByteLevel sees the template's entries as
    // separate parts (a Roberta step wraps each of them), which the single-text shortcut cannot express.
    bool split = false;
    for (const auto& step : steps_) {
      if (split && !step->is_identity()) single_shortcut_ = false;
      split = split || step->splits_parts();
    }
  }
  void process(std::vector<std::uint32_t>& ids) const override {
    if (single_shortcut_) {
      for (const auto& step : steps_) step->process(ids);
      return;
    }
    EncodedParts parts{std::move(ids)};
    process_parts(parts, /*add_special_tokens=*/true);
    ids.clear();
    for (const auto& part : parts) ids.insert(ids.end(), part.begin(), part.end());
  }
  void process_parts(EncodedParts& parts, bool add_special_tokens) const override {
    for (const auto& step : steps_) step->process_parts(parts, add_special_tokens);
  }
  bool is_identity() const override {
    return std::all_of(steps_.begin(), steps_.end(), [](const auto& step) { return step->is_identity(); });
  }
  bool splits_parts() const override {
    return std::any_of(steps_.begin(), steps_.end(), [](const auto& step) { return step->splits_parts(); });
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
  bool single_shortcut_ = true;
};

using SpecialIds = std::map<std::string, std::vector<std::uint32_t>>;

SpecialIds parse_special_tokens(const Json& value, const JsonPath& path) {
  const Json& special = require_field(value, "special_tokens", path);
  require_object(special, path / "special_tokens");
  SpecialIds special_ids;
  for (auto it = special.begin(); it != special.end(); ++it) {
    const JsonPath entry_path = path / "special_tokens" / it.key();
    const Json& ids = require_field(it.value(), "ids", entry_path);
    if (!ids.is_array()) fail("{}: expected an array of ids", (entry_path / "ids").str());
    std::vector<std::uint32_t> list;
    for (const Json& id : ids) {
      if (!is_non_negative_integer(id)) {
        fail("{}: expected non-negative integers, found {}", (entry_path / "ids").str(), id.dump());
      }
      list.push_back(id.get<std::uint32_t>());
    }
    special_ids[it.key()] = std::move(list);
  }
  return special_ids;
}

// Parses one template ("single" or "pair"). A special token missing from special_tokens is an error at
// once when `missing` is null, else the first such problem is recorded there and the entry left empty.
std::vector<TemplateEntry> parse_template(const Json& pieces, const JsonPath& path, const SpecialIds& special_ids,
                                          std::string* missing) {
  if (!pieces.is_array()) fail("{}: expected an array of template pieces", path.str());
  std::vector<TemplateEntry> entries;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const JsonPath piece_path = path[i];
    const Json& piece = pieces[i];
    TemplateEntry entry;
    if (piece.is_object() && piece.contains("Sequence")) {
      const std::string id = string_field(piece["Sequence"], "id", piece_path / "Sequence");
      if (id != "A" && id != "B") {
        fail("{}: a sequence id is \"A\" or \"B\", found {:?}", (piece_path / "Sequence" / "id").str(), id);
      }
      entry.kind = id == "A" ? TemplateEntry::Kind::kSequenceA : TemplateEntry::Kind::kSequenceB;
    } else if (piece.is_object() && piece.contains("SpecialToken")) {
      const std::string id = string_field(piece["SpecialToken"], "id", piece_path / "SpecialToken");
      const auto found = special_ids.find(id);
      if (found != special_ids.end()) {
        entry.ids = found->second;
      } else if (missing == nullptr) {
        fail("{}: special token {:?} is not listed in special_tokens", piece_path.str(), id);
      } else if (missing->empty()) {
        *missing = fmt::format("{}: special token {:?} is not listed in special_tokens", piece_path.str(), id);
      }
    } else {
      fail("{}: expected {{\"SpecialToken\": ...}} or {{\"Sequence\": ...}}, found {}", piece_path.str(), piece.dump());
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::unique_ptr<PostProcessor> make_template(const Json& value, const JsonPath& path) {
  const SpecialIds special_ids = parse_special_tokens(value, path);
  const JsonPath single_path = path / "single";
  std::vector<TemplateEntry> single =
      parse_template(require_field(value, "single", path), single_path, special_ids, /*missing=*/nullptr);
  std::size_t sequences = 0;
  for (TemplateEntry& entry : single) {
    if (entry.kind == TemplateEntry::Kind::kSpecial) continue;
    if (++sequences > 1) fail("{}: the single template may use the sequence only once", single_path.str());
    entry.kind = TemplateEntry::Kind::kSequenceA;  // a single text fills the one sequence, whatever its id
  }
  if (sequences == 0) fail("{}: the single template has no {{\"Sequence\": ...}} piece", single_path.str());

  std::vector<TemplateEntry> pair;
  std::string pair_error;
  const auto it = value.find("pair");
  const bool has_pair = it != value.end() && !it->is_null();
  if (has_pair) {
    pair = parse_template(*it, path / "pair", special_ids, &pair_error);
  } else {
    pair_error = fmt::format("{}: the TemplateProcessing has no pair template, so it cannot encode a pair", path.str());
  }
  return std::make_unique<TemplateProcessor>(std::move(single), std::move(pair), std::move(pair_error),
                                             /*pair_error_needs_special=*/has_pair, path.str());
}

std::uint32_t token_pair_id(const Json& value, std::string_view key, const JsonPath& path) {
  const Json& pair = require_field(value, key, path);
  if (!pair.is_array() || pair.size() != 2 || !is_non_negative_integer(pair[1])) {
    fail("{}: expected [\"token\", id], found {}", (path / key).str(), pair.dump());
  }
  return pair[1].get<std::uint32_t>();
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const Json& value, const JsonPath& path) {
  const std::string type = component_type(value, path);
  if (type == "ByteLevel") return std::make_unique<NoOpProcessor>();
  if (type == "TemplateProcessing") return make_template(value, path);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return std::make_unique<ClsSepProcessor>(type == "RobertaProcessing", token_pair_id(value, "cls", path),
                                             token_pair_id(value, "sep", path));
  }
  if (type == "Sequence") {
    const Json& list = require_field(value, "processors", path);
    if (!list.is_array()) fail("{}: expected an array", (path / "processors").str());
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (std::size_t i = 0; i < list.size(); ++i) {
      steps.push_back(make_post_processor(list[i], (path / "processors")[i]));
    }
    return std::make_unique<SequenceProcessor>(std::move(steps));
  }
  fail("{}: unsupported post_processor type \"{}\" (supported: ByteLevel, TemplateProcessing, RobertaProcessing, "
       "BertProcessing, Sequence)",
       path.str(), type);
}

std::unique_ptr<PostProcessor> make_bos_eos_processor(std::vector<std::uint32_t> bos, std::vector<std::uint32_t> eos) {
  using Kind = TemplateEntry::Kind;
  const auto special = [](const std::vector<std::uint32_t>& ids) { return TemplateEntry{Kind::kSpecial, ids}; };
  std::vector<TemplateEntry> single, pair;
  for (const Kind sequence : {Kind::kSequenceA, Kind::kSequenceB}) {
    std::vector<TemplateEntry>& entries = sequence == Kind::kSequenceA ? single : pair;
    if (!bos.empty()) entries.push_back(special(bos));
    entries.push_back(TemplateEntry{sequence, {}});
    if (!eos.empty()) entries.push_back(special(eos));
  }
  pair.insert(pair.begin(), single.begin(), single.end());  // pair = single, then <bos> $B <eos>
  return std::make_unique<TemplateProcessor>(std::move(single), std::move(pair), std::string(), false,
                                             "tokenizer_config.json add_bos_token/add_eos_token");
}

}  // namespace fp4::tokenizer
