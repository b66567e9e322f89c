#include "fp4/runtime/block_manager.h"

#include <algorithm>

#include "fp4/base/error.h"

namespace fp4::runtime {
namespace {

// splitmix64's finaliser: a bijection that spreads every input bit over the whole word.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching)
    : num_blocks_(num_blocks), block_size_(block_size), prefix_caching_(prefix_caching) {
  FP4_CHECK(num_blocks > 0 && num_blocks <= INT32_MAX && block_size > 0,
            "block manager: {} blocks of {} tokens: both must be positive (blocks < 2^31)", num_blocks, block_size);
  entries_.resize(static_cast<size_t>(num_blocks));
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

int32_t BlockManager::ref_count(int32_t block) const {
  FP4_CHECK(block >= 0 && block < num_blocks_, "block manager: block {} outside [0, {})", block, num_blocks_);
  return entries_[static_cast<size_t>(block)].refs;
}

int32_t BlockManager::allocate() {
  int32_t b = -1;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!evictable_.empty()) {
    b = evictable_.front();  // the least recently released cached block
    evictable_.pop_front();
    unhash(b);
  } else {
    return -1;
  }
  entries_[static_cast<size_t>(b)].refs = 1;
  return b;
}

void BlockManager::share(int32_t block) {
  FP4_CHECK(ref_count(block) > 0, "block manager: block {} is not allocated, it cannot be shared", block);
  ++entries_[static_cast<size_t>(block)].refs;
}

void BlockManager::release(int32_t block) {
  FP4_CHECK(ref_count(block) > 0, "block manager: block {} is not allocated", block);
  Entry& e = entries_[static_cast<size_t>(block)];
  if (--e.refs > 0) return;
  if (e.hashed) {
    e.lru = evictable_.insert(evictable_.end(), block);
  } else {
    free_.push_back(block);
  }
}

void BlockManager::release_all(std::vector<int32_t>& blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) release(*it);
  blocks.clear();
}

void BlockManager::unhash(int32_t block) {
  Entry& e = entries_[static_cast<size_t>(block)];
  if (!e.hashed) return;
  auto it = by_hash_.find(e.hash);
  if (it != by_hash_.end() && it->second == block) by_hash_.erase(it);
  e.hashed = false;
  e.tokens.clear();
}

uint64_t BlockManager::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ull);
  for (int32_t t : tokens) h = mix64(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ull));
  return mix64(h ^ static_cast<uint64_t>(tokens.size()));
}

std::vector<uint64_t> BlockManager::prompt_block_hashes(std::span<const int32_t> prompt) const {
  std::vector<uint64_t> hashes;
  const int64_t full = static_cast<int64_t>(prompt.size()) / block_size_;
  hashes.reserve(static_cast<size_t>(full));
  uint64_t parent = kRootHash;
  for (int64_t i = 0; i < full; ++i) {
    parent = chain_hash(parent, prompt.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_)));
    hashes.push_back(parent);
  }
  return hashes;
}

int32_t BlockManager::lookup(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) {
  if (!prefix_caching_) return -1;
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  const int32_t b = it->second;
  Entry& e = entries_[static_cast<size_t>(b)];
  if (e.parent != parent || !std::equal(tokens.begin(), tokens.end(), e.tokens.begin(), e.tokens.end())) return -1;
  if (e.refs == 0) evictable_.erase(e.lru);  // revived: no longer a candidate for eviction
  ++e.refs;
  return b;
}

void BlockManager::publish(int32_t block, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) {
  FP4_CHECK(ref_count(block) > 0, "block manager: block {} is not allocated, it cannot be published", block);
  FP4_CHECK(static_cast<int64_t>(tokens.size()) == block_size_, "block manager: a published block holds {} tokens, "
            "expected a full block of {}", tokens.size(), block_size_);
  if (!prefix_caching_) return;
  Entry& e = entries_[static_cast<size_t>(block)];
  if (e.hashed) return;
  if (!by_hash_.emplace(hash, block).second) return;  // another block already caches this prefix
  e.hashed = true;
  e.hash = hash;
  e.parent = parent;
  e.tokens.assign(tokens.begin(), tokens.end());
}

}  // namespace fp4::runtime
