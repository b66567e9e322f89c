#include "fp4/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "fp4/tokenizer/unicode.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {

void TokenMatcher::add(std::string_view content, std::size_t token_index) {
  if (content.empty()) return;
  std::uint32_t node = 0;
  for (unsigned char byte : content) {
    auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it != children.end() && it->first == byte) {
      node = it->second;
      continue;
    }
    const auto next = static_cast<std::uint32_t>(nodes_.size());
    children.insert(it, {byte, next});
    nodes_.emplace_back();
    node = next;
  }
  // The first token registered with a given content keeps it (HF's trie reports the first pattern).
  if (nodes_[node].token < 0) nodes_[node].token = static_cast<std::int64_t>(token_index);
  first_byte_[static_cast<unsigned char>(content[0])] = true;
}

std::optional<std::pair<std::size_t, std::size_t>> TokenMatcher::longest_at(std::string_view text,
                                                                           std::size_t pos) const {
  std::optional<std::pair<std::size_t, std::size_t>> best;
  std::uint32_t node = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const auto& children = nodes_[node].children;
    const auto byte = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (nodes_[node].token >= 0) best = {{i + 1, static_cast<std::size_t>(nodes_[node].token)}};
  }
  return best;
}

AddedVocabulary::AddedVocabulary()
    : word_char_(Regex::from_oniguruma(kRustWordChar, "added-token word character")),
      white_space_(Regex::from_oniguruma(R"(\s)", "added-token white space")) {}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const BpeModel& model) {
  tokens_.clear();
  match_order_.clear();
  by_id_.clear();
  by_content_.clear();
  special_contents_.clear();
  std::vector<std::size_t> specials, others;
  for (AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    if (token.special) special_contents_.insert(token.content);
    // Same id rule as HF's AddedVocabulary::add_tokens.
    std::uint32_t id;
    if (const auto existing = by_content_.find(token.content); existing != by_content_.end()) {
      id = existing->second;
    } else if (const auto in_model = model.token_to_id(token.content)) {
      id = *in_model;
    } else {
      std::optional<std::uint32_t> max_added;
      for (const auto& [content, added_id] : by_content_) max_added = std::max(max_added.value_or(0), added_id);
      const auto vocab_size = static_cast<std::uint32_t>(model.vocab_size());
      id = !max_added ? vocab_size : (*max_added >= vocab_size || vocab_size == 0 ? *max_added + 1 : vocab_size);
    }
    token.id = id;
    by_content_[token.content] = id;
    if (const auto old = by_id_.find(id); old != by_id_.end()) {
      tokens_[old->second] = token;  // a later entry with the same id replaces the earlier one
      continue;
    }
    by_id_[id] = tokens_.size();
    (token.special ? specials : others).push_back(tokens_.size());
    tokens_.push_back(std::move(token));
  }
  match_order_ = specials;
  match_order_.insert(match_order_.end(), others.begin(), others.end());
  raw_matcher_ = TokenMatcher();
  for (std::size_t i : match_order_) {
    if (!tokens_[i].normalized) raw_matcher_.add(tokens_[i].content, i);
  }
  build_normalized_matcher([](const std::string& content) { return content; });
}

const AddedToken* AddedVocabulary::find_id(std::uint32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<std::uint32_t> AddedVocabulary::find_content(std::string_view content) const {
  const auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

void AddedVocabulary::split(std::string_view text, bool normalized_tokens, std::vector<AddedSplit>& out) const {
  out.clear();
  const TokenMatcher& matcher = normalized_tokens ? normalized_matcher_ : raw_matcher_;
  if (matcher.empty() || text.empty()) {
    out.push_back({0, text.size(), std::nullopt});
    return;
  }
  const auto is_word_char_before = [&](std::size_t pos) {
    if (pos == 0) return false;
    std::size_t p = pos;
    previous_code_point(text, p);
    return word_char_.matches_at(text, p);
  };
  const auto is_space_at = [&](std::size_t pos) { return white_space_.matches_at(text, pos); };

  std::size_t covered = 0;  // end of the last emitted part
  std::size_t pos = 0;      // where the search for the next match resumes
  while (pos < text.size()) {
    if (!matcher.may_start(static_cast<unsigned char>(text[pos]))) {
      ++pos;
      continue;
    }
    const auto match = matcher.longest_at(text, pos);
    if (!match) {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    std::size_t stop = match->first;
    const AddedToken& token = tokens_[match->second];
    pos = stop;
    if (token.single_word) {
      const bool space_before = start == 0 || !is_word_char_before(start);
      const bool space_after = stop == text.size() || !word_char_.matches_at(text, stop);
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      std::size_t new_start = start;
      while (new_start > 0) {
        std::size_t p = new_start;
        if (!is_white_space(previous_code_point(text, p))) break;
        new_start = p;
      }
      start = std::max(new_start, covered);
    }
    if (token.rstrip) {
      while (stop < text.size() && is_space_at(stop)) {
        std::size_t p = stop;
        next_code_point(text, p);
        stop = p;
      }
    }
    if (covered < start) out.push_back({covered, start, std::nullopt});
    out.push_back({start, stop, token.id});
    covered = stop;
  }
  if (covered != text.size()) out.push_back({covered, text.size(), std::nullopt});
}

}  // namespace fp4::tokenizer
