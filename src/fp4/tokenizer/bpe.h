// The BPE model of tokenizer.json: vocabulary, ranked merges, byte fallback, unknown token, the
// continuing-subword prefix and end-of-word suffix, ignore_merges, and a word → ids cache.
//
// `dropout` is read and ignored: at inference HF's BPE with dropout would skip merges at random, and a
// serving engine wants the deterministic segmentation (dropout = 0), which is what this model computes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fp4/tokenizer/json_fields.h"

namespace fp4::tokenizer {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocabulary = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;

// Ranked merges keyed by the pair of token ids, in an open-addressing table (the inner loop of BPE).
class MergeTable {
 public:
  struct Merge {
    std::uint32_t rank;
    std::uint32_t merged_id;
  };
  void build(const std::vector<std::pair<std::uint64_t, Merge>>& entries);
  const Merge* find(std::uint32_t left, std::uint32_t right) const {
    if (mask_ == 0) return nullptr;
    const std::uint64_t key = (std::uint64_t(left) << 32) | right;
    for (std::size_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
      if (keys_[slot] == key) return &values_[slot];
      if (keys_[slot] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::size_t hash(std::uint64_t key) { return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 17); }
  std::vector<std::uint64_t> keys_;
  std::vector<Merge> values_;
  std::size_t mask_ = 0;
};

// Word → ids memo shared by all threads (sharded locks). Like HF, it stops growing when full and only
// words shorter than 256 bytes are kept.
class WordCache {
 public:
  static constexpr std::size_t kMaxWordBytes = 256;
  bool lookup(std::string_view word, std::vector<std::uint32_t>& out) const;
  void store(std::string_view word, const std::uint32_t* ids, std::size_t count);

 private:
  static constexpr std::size_t kShards = 32;
  static constexpr std::size_t kMaxEntriesPerShard = 4096;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>> map;
  };
  std::array<Shard, kShards> shards_;
};

class BpeModel {
 public:
  // Builds the model from tokenizer.json's "model" object. Throws fp4::Error naming the field.
  static std::unique_ptr<BpeModel> from_json(const Json& model, const JsonPath& path);

  // Appends the ids of one pre-tokenized word. With `map_bytes`, the word is raw text whose bytes the
  // ByteLevel table still has to spell (the deferred last step of the pre-tokenizer).
  void tokenize(std::string_view word, bool map_bytes, std::vector<std::uint32_t>& ids) const;

  std::optional<std::uint32_t> token_to_id(std::string_view token) const;
  // nullptr when the id is not in the vocabulary.
  const std::string* id_to_token(std::uint32_t id) const;
  std::size_t vocab_size() const { return vocab_.size(); }
  // One more than the largest id in the vocabulary.
  std::uint32_t id_limit() const { return static_cast<std::uint32_t>(id_to_token_.size()); }

  // Applies the merges to `symbols` in place (lowest rank first, leftmost first among equal ranks).
  // Public for tests, which check the two strategies against each other.
  void merge_short(std::vector<std::uint32_t>& symbols) const;
  void merge_long(std::vector<std::uint32_t>& symbols) const;

 private:
  void initial_symbols(std::string_view word, std::vector<std::uint32_t>& symbols) const;
  void tokenize_uncached(std::string_view word, bool map_bytes, std::vector<std::uint32_t>& ids) const;

  Vocabulary vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> id_present_;
  MergeTable merges_;
  std::optional<std::uint32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  std::array<std::int64_t, 256> byte_char_ids_{};  // id of each ByteLevel character (-1 when absent)
  mutable WordCache cache_;
};

}  // namespace fp4::tokenizer
