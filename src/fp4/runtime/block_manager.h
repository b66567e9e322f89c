// KV block accounting for the serving engine: which of the cache's blocks are in use, by how many
// sequences, and which hold a full block of prompt tokens that a later request may reuse.
//
// Reference counts: a block is shared when several sequences map the same prompt prefix (prefix caching,
// or the n completions of one request). It returns to the pool when its last reference is released.
//
// Prefix caching: a full block of prompt tokens is identified by the hash chain
//   hash(block i) = H(hash(block i-1), tokens of block i)        (block -1: a fixed seed)
// so one hash names the whole prefix up to and including that block. A sequence publishes a prompt block
// once its rows are computed; a later sequence looks its prompt's block hashes up in order and maps every
// hit instead of recomputing it. Entries also keep the block's tokens and parent hash and a lookup compares
// them, so a 64-bit collision can only alias two prefixes whose parent hashes collide as well.
//
// Released blocks that carry a hash are not forgotten: they wait in an LRU list, still findable by hash,
// and are evicted (their hash dropped, oldest first) only when a fresh block is needed and no never-hashed
// block is free. used_blocks() counts only blocks with references.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace fp4::runtime {

class BlockManager {
 public:
  // Throws fp4::Error when a size is not positive.
  BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching);

  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  bool prefix_caching() const { return prefix_caching_; }
  // Blocks allocate() can hand out now: never-hashed free blocks plus cached blocks nobody references.
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size() + evictable_.size()); }
  // Blocks with at least one reference.
  int64_t used_blocks() const { return num_blocks_ - free_blocks(); }
  // Cached blocks nobody references (reusable by hash until evicted).
  int64_t cached_free_blocks() const { return static_cast<int64_t>(evictable_.size()); }
  int32_t ref_count(int32_t block) const;

  // A block with one reference (evicting the least recently released cached block when no never-hashed
  // block is free), or -1 when every block is referenced.
  int32_t allocate();
  // Adds a reference to a block that already has one (sharing it with another sequence).
  void share(int32_t block);
  // Drops one reference; at zero the block becomes free (cached blocks go to the LRU list).
  // Throws fp4::Error for a block without references.
  void release(int32_t block);
  // Releases every block of a table (in reverse, so the prefix's head is evicted last) and clears it.
  void release_all(std::vector<int32_t>& blocks);

  // The hash of a full block of `tokens` following the block whose hash is `parent`
  // (kRootHash for the first block of a sequence).
  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);
  static constexpr uint64_t kRootHash = 0x6a09e667f3bcc909ull;

  // The hash of every full block of `prompt`, in order.
  std::vector<uint64_t> prompt_block_hashes(std::span<const int32_t> prompt) const;

  // Finds the cached block for `hash` (with the given parent hash and tokens) and takes a reference to
  // it; -1 when absent. Statistics are counted separately by count_lookup(), once per admitted sequence.
  int32_t lookup(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens);
  // Registers a computed full block under `hash`. A no-op when prefix caching is off, when the block is
  // already registered, or when another block already holds that hash (two sequences computed the same
  // prefix at once; the first one stays the cached copy).
  void publish(int32_t block, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens);

  int64_t query_tokens() const { return query_tokens_; }  // prompt tokens looked up
  int64_t hit_tokens() const { return hit_tokens_; }      // of those, tokens found
  void count_lookup(int64_t queried_tokens, int64_t hit_tokens) {
    query_tokens_ += queried_tokens;
    hit_tokens_ += hit_tokens;
  }

 private:
  struct Entry {
    int32_t refs = 0;
    bool hashed = false;
    uint64_t hash = 0;
    uint64_t parent = 0;
    std::vector<int32_t> tokens;             // [block_size] when hashed
    std::list<int32_t>::iterator lru;        // position in evictable_ while refs == 0 and hashed
  };
  void unhash(int32_t block);

  int64_t num_blocks_, block_size_;
  bool prefix_caching_;
  std::vector<Entry> entries_;                        // [num_blocks]
  std::vector<int32_t> free_;                         // never-hashed free blocks (a stack)
  std::list<int32_t> evictable_;                      // free hashed blocks, least recently released first
  std::unordered_map<uint64_t, int32_t> by_hash_;     // hash → block
  int64_t query_tokens_ = 0, hit_tokens_ = 0;
};

}  // namespace fp4::runtime
