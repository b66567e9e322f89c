// Block accounting: allocation and reference counts, prefix-cache hits by hash chain, LRU eviction of
// cached free blocks, and that no sequence of operations loses or double-frees a block.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "fp4/base/error.h"
#include "fp4/runtime/block_manager.h"

namespace fp4::runtime {
namespace {

std::vector<int32_t> iota_tokens(int32_t first, int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = first + i;
  return t;
}

TEST(BlockManager, AllocateShareAndRelease) {
  BlockManager m(3, 4, /*prefix_caching=*/true);
  EXPECT_EQ(m.free_blocks(), 3);
  std::set<int32_t> got;
  for (int i = 0; i < 3; ++i) got.insert(m.allocate());
  EXPECT_EQ(got, (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(m.allocate(), -1);
  EXPECT_EQ(m.used_blocks(), 3);
  m.share(1);
  EXPECT_EQ(m.ref_count(1), 2);
  m.release(1);
  EXPECT_EQ(m.used_blocks(), 3);  // still referenced once
  m.release(1);
  EXPECT_EQ(m.used_blocks(), 2);
  EXPECT_EQ(m.ref_count(1), 0);
  EXPECT_THROW(m.release(1), Error);
  EXPECT_THROW(m.share(1), Error);
  EXPECT_THROW(m.ref_count(3), Error);
  EXPECT_EQ(m.allocate(), 1);
  std::vector<int32_t> table{0, 1, 2};
  m.release_all(table);
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(m.used_blocks(), 0);
  EXPECT_THROW(BlockManager(0, 4, true), Error);
  EXPECT_THROW(BlockManager(4, 0, true), Error);
}

TEST(BlockManager, HashChainNamesTheWholePrefix) {
  const auto a = iota_tokens(10, 4), b = iota_tokens(20, 4);
  const uint64_t ha = BlockManager::chain_hash(BlockManager::kRootHash, a);
  EXPECT_EQ(ha, BlockManager::chain_hash(BlockManager::kRootHash, a));
  EXPECT_NE(ha, BlockManager::chain_hash(BlockManager::kRootHash, b));
  // The same block after a different parent is a different prefix.
  EXPECT_NE(BlockManager::chain_hash(ha, b), BlockManager::chain_hash(BlockManager::kRootHash, b));
  BlockManager m(4, 4, true);
  std::vector<int32_t> prompt = a;
  prompt.insert(prompt.end(), b.begin(), b.end());
  prompt.push_back(99);  // a partial third block is not hashed
  const auto hashes = m.prompt_block_hashes(prompt);
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hashes[0], ha);
  EXPECT_EQ(hashes[1], BlockManager::chain_hash(ha, b));
}

TEST(BlockManager, PublishedBlocksAreFoundAndShared) {
  BlockManager m(4, 4, true);
  const auto tokens = iota_tokens(1, 4);
  const uint64_t h = BlockManager::chain_hash(BlockManager::kRootHash, tokens);
  const int32_t b = m.allocate();
  EXPECT_EQ(m.lookup(h, BlockManager::kRootHash, tokens), -1);  // not published yet
  m.publish(b, h, BlockManager::kRootHash, tokens);
  EXPECT_EQ(m.lookup(h, BlockManager::kRootHash, tokens), b);
  EXPECT_EQ(m.ref_count(b), 2);
  // Same hash but other tokens or another parent: no hit (collision guard).
  EXPECT_EQ(m.lookup(h, BlockManager::kRootHash, iota_tokens(2, 4)), -1);
  EXPECT_EQ(m.lookup(h, 1234, tokens), -1);
  // Released to zero references, the block stays findable and revives on a hit.
  m.release(b);
  m.release(b);
  EXPECT_EQ(m.used_blocks(), 0);
  EXPECT_EQ(m.cached_free_blocks(), 1);
  EXPECT_EQ(m.lookup(h, BlockManager::kRootHash, tokens), b);
  EXPECT_EQ(m.used_blocks(), 1);
  EXPECT_EQ(m.cached_free_blocks(), 0);
  // A second block computing the same prefix does not replace the cached one.
  const int32_t twin = m.allocate();
  m.publish(twin, h, BlockManager::kRootHash, tokens);
  m.release(twin);
  EXPECT_EQ(m.cached_free_blocks(), 0);  // twin went back as a plain free block
  EXPECT_THROW(m.publish(twin, h, BlockManager::kRootHash, tokens), Error);  // not allocated
  EXPECT_THROW(m.publish(b, h, BlockManager::kRootHash, iota_tokens(1, 3)), Error);  // not a full block
  m.release(b);
}

TEST(BlockManager, CachedFreeBlocksAreEvictedLeastRecentlyReleasedFirst) {
  BlockManager m(3, 2, true);
  std::vector<std::vector<int32_t>> tokens;
  std::vector<uint64_t> hashes;
  std::vector<int32_t> blocks;
  for (int i = 0; i < 3; ++i) {
    tokens.push_back(iota_tokens(10 * i, 2));
    hashes.push_back(BlockManager::chain_hash(BlockManager::kRootHash, tokens.back()));
    blocks.push_back(m.allocate());
    m.publish(blocks.back(), hashes.back(), BlockManager::kRootHash, tokens.back());
  }
  m.release(blocks[1]);  // released first: evicted first
  m.release(blocks[0]);
  m.release(blocks[2]);
  EXPECT_EQ(m.free_blocks(), 3);
  EXPECT_EQ(m.used_blocks(), 0);
  EXPECT_EQ(m.allocate(), blocks[1]);
  EXPECT_EQ(m.lookup(hashes[1], BlockManager::kRootHash, tokens[1]), -1);  // its hash is gone
  EXPECT_EQ(m.lookup(hashes[2], BlockManager::kRootHash, tokens[2]), blocks[2]);  // still cached
  EXPECT_EQ(m.allocate(), blocks[0]);
  EXPECT_EQ(m.allocate(), -1);
}

TEST(BlockManager, WithoutPrefixCachingNothingIsShared) {
  BlockManager m(2, 2, false);
  const auto tokens = iota_tokens(0, 2);
  const uint64_t h = BlockManager::chain_hash(BlockManager::kRootHash, tokens);
  const int32_t b = m.allocate();
  m.publish(b, h, BlockManager::kRootHash, tokens);
  EXPECT_EQ(m.lookup(h, BlockManager::kRootHash, tokens), -1);
  m.release(b);
  EXPECT_EQ(m.cached_free_blocks(), 0);
}

// Random tables allocated, shared, published, looked up and released: the pool always balances.
TEST(BlockManager, RandomTrafficLeaksNothing) {
  BlockManager m(32, 4, true);
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> tables(8);
  for (int iter = 0; iter < 2000; ++iter) {
    auto& t = tables[rng() % tables.size()];
    switch (rng() % 4) {
      case 0: {
        const int32_t b = m.allocate();
        if (b >= 0) t.push_back(b);
        break;
      }
      case 1: {
        const auto& other = tables[rng() % tables.size()];
        if (!other.empty()) {
          const int32_t b = other[rng() % other.size()];
          m.share(b);
          t.push_back(b);
        }
        break;
      }
      case 2: {
        if (!t.empty()) {
          const auto tokens = iota_tokens(static_cast<int32_t>(rng() % 5), 4);
          m.publish(t.back(), BlockManager::chain_hash(BlockManager::kRootHash, tokens), BlockManager::kRootHash,
                    tokens);
        }
        const auto tokens = iota_tokens(static_cast<int32_t>(rng() % 5), 4);
        const int32_t hit = m.lookup(BlockManager::chain_hash(BlockManager::kRootHash, tokens), BlockManager::kRootHash,
                                     tokens);
        if (hit >= 0) t.push_back(hit);
        break;
      }
      default:
        m.release_all(t);
    }
    int64_t refs = 0;
    for (const auto& table : tables) refs += static_cast<int64_t>(table.size());
    int64_t counted = 0;
    for (int32_t b = 0; b < 32; ++b) counted += m.ref_count(b);
    ASSERT_EQ(refs, counted);
    ASSERT_EQ(m.used_blocks() + m.free_blocks(), 32);
  }
  for (auto& t : tables) m.release_all(t);
  EXPECT_EQ(m.used_blocks(), 0);
  EXPECT_EQ(m.free_blocks(), 32);
}

}  // namespace
}  // namespace fp4::runtime
