// One completion's token stream as the scheduler sees it: the prompt followed by the generated tokens,
// how many of them already have KV rows in the cache, and the block table holding those rows.
//
// A sequence always has at least one token without KV rows while it runs (the last sampled token, or the
// prompt before prefill): the next step feeds tokens [num_computed, size()) — all of them for a decode
// row, a chunk of them for a prefill — and samples a new token once none is left.
// Preemption drops every row (num_computed = 0); recompute later feeds prompt and generated tokens again.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fp4::runtime {

class Sequence {
 public:
  enum class State : uint8_t { kWaiting, kRunning, kFinished };

  Sequence(uint64_t id, std::vector<int32_t> prompt, std::vector<uint64_t> prompt_block_hashes)
      : id_(id), tokens_(std::move(prompt)), prompt_len_(static_cast<int64_t>(tokens_.size())),
        prompt_hashes_(std::move(prompt_block_hashes)) {}

  uint64_t id() const { return id_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t prompt_len() const { return prompt_len_; }
  int64_t generated() const { return size() - prompt_len_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  std::span<const int32_t> prompt() const { return std::span<const int32_t>(tokens_).first(static_cast<size_t>(prompt_len_)); }
  void append(int32_t token) { tokens_.push_back(token); }

  // Tokens whose KV rows are in the cache: always < size() while the sequence runs.
  int64_t num_computed = 0;
  int64_t uncomputed() const { return size() - num_computed; }
  // A decode row: the prompt is done (a token was sampled after it) and exactly one token is pending.
  bool in_decode() const { return generated() > 0 && uncomputed() == 1; }

  std::vector<int32_t> blocks;        // block table: position p lives in blocks[p / block_size]
  const std::vector<uint64_t>& prompt_block_hashes() const { return prompt_hashes_; }
  int64_t published_blocks = 0;       // leading prompt blocks already registered in the prefix cache
  int64_t cached_tokens = 0;          // prompt tokens mapped from the prefix cache at the last admission

  State state = State::kWaiting;
  uint64_t admitted_order = 0;        // larger: admitted more recently (preempted first)
  int64_t preemptions = 0;            // times this sequence was preempted and recomputed

 private:
  uint64_t id_;
  std::vector<int32_t> tokens_;  // [prompt_len + generated]
  int64_t prompt_len_;
  std::vector<uint64_t> prompt_hashes_;  // [prompt_len / block_size] chain hashes of the full prompt blocks
};

}  // namespace fp4::runtime
