// Added tokens ("added_tokens" of tokenizer.json): matched in the text before the model sees it, the way
// HF does: tokens with normalized=false are found in the raw input, the others in the normalized pieces;
// the leftmost match wins and, among matches starting there, the longest; lstrip / rstrip swallow the
// whitespace beside a match; single_word tokens only match between non-word characters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fp4/tokenizer/bpe.h"
#include "fp4/tokenizer/regex.h"

namespace fp4::tokenizer {

struct AddedToken {
  std::string content;
  std::uint32_t id = 0;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  // What id → token gives: HF reports a normalized token by its normalized content (the text it matches),
  // so decoding and skip_special_tokens see that spelling too.
  std::string token_text;
};

// A byte trie over token contents that finds leftmost-longest, non-overlapping matches.
class TokenMatcher {
 public:
  void add(std::string_view content, std::size_t token_index);
  // Longest token that starts exactly at `pos`, as (end, token index).
  std::optional<std::pair<std::size_t, std::size_t>> longest_at(std::string_view text, std::size_t pos) const;
  bool empty() const { return nodes_.size() <= 1; }
  bool may_start(unsigned char byte) const { return first_byte_[byte]; }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::uint32_t>> children;  // sorted by byte
    std::int64_t token = -1;
  };
  std::vector<Node> nodes_{Node{}};
  bool first_byte_[256] = {};
};

// One part of the text after added-token matching: plain text for the pipeline, or a matched token.
struct AddedSplit {
  std::size_t start, end;         // byte range in the searched text
  std::optional<std::uint32_t> id;  // set for a matched added token
};

class AddedVocabulary {
 public:
  AddedVocabulary();
  // Registers the tokens in file order, assigning ids the way HF does: a token already in the model's
  // vocabulary keeps that id, others get the next free id above the vocabulary.
  void build(std::vector<AddedToken> tokens, const BpeModel& model);
  // Rebuilds the matcher of normalized tokens from their normalized contents.
  template <typename NormalizeFn>
  void build_normalized_matcher(NormalizeFn&& normalize) {
    normalized_matcher_ = TokenMatcher();
    for (std::size_t i : match_order_) {
      AddedToken& token = tokens_[i];
      token.token_text = token.normalized ? normalize(token.content) : token.content;
      if (token.normalized) normalized_matcher_.add(token.token_text, i);
    }
  }

  // Splits `text` with the raw (normalized=false) or the normalized tokens.
  void split(std::string_view text, bool normalized_tokens, std::vector<AddedSplit>& out) const;

  const AddedToken* find_id(std::uint32_t id) const;
  std::optional<std::uint32_t> find_content(std::string_view content) const;
  bool is_special(std::string_view content) const { return special_contents_.count(std::string(content)) != 0; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  std::vector<std::size_t> match_order_;  // special tokens first, then the others (HF's trie order)
  std::unordered_map<std::uint32_t, std::size_t> by_id_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> by_content_;
  std::unordered_set<std::string> special_contents_;
  TokenMatcher raw_matcher_, normalized_matcher_;
  Regex word_char_;   // one character of Rust regex's \w
  Regex white_space_;  // one White_Space character
};

}  // namespace fp4::tokenizer
