// The KV cache: fixed-size blocks of tokens, one pool per layer, handed out to sequences through block
// tables (the paged layout the serving scheduler shares between sequences).
//
// Storage: for layer l, a pool of num_blocks × block_size rows of row_floats f32 values:
//   GQA rows are [K | V] (2 · kv_heads · head_dim), MLA rows are [latent | rotated k_pe] (576 for R1).
// Pools are allocated untouched (no zero fill), so resident memory grows only with the blocks used.
//
// A model that keeps the cache itself (model::Model::kv_on_device, the GPU models) gets the pools
// instead: the cache built for it allocates them there once, keeps no host pools, and forwards
// copy_rows; block allocation and the views stay here, so the engine sees no difference.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fp4/model/model.h"

namespace fp4::runtime {

class KvCache {
 public:
  // Host pools. Throws fp4::Error when a size is not positive.
  KvCache(int64_t layers, int64_t row_floats, int64_t block_size, int64_t num_blocks);
  // A cache shaped for `model`: host pools, or the model's own (device) pools when it keeps the cache.
  // The model must outlive the cache.
  KvCache(model::Model& model, int64_t block_size, int64_t num_blocks);
  // A cache for `model` holding at least max_tokens tokens in blocks of block_size.
  static KvCache for_model(model::Model& model, int64_t max_tokens, int64_t block_size = 16);

  KvCache(KvCache&&) noexcept = default;
  KvCache& operator=(KvCache&&) noexcept = default;

  int64_t layers() const { return layers_; }
  int64_t row_floats() const { return row_floats_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  uint64_t bytes() const;  // of the pools, wherever they live
  bool on_device() const { return device_model_ != nullptr; }

  // A free block id, or -1 when none is left.
  int32_t allocate();
  // Returns a block to the free list. Throws fp4::Error for an id that is not allocated.
  void release(int32_t block);

  // Host pool bases; empty when the model keeps the pools (its forward does not read them).
  const std::vector<float*>& layer_bases() const { return bases_; }
  // Copies the first `rows` token rows of block `src` into block `dst`, in every layer (forking a
  // sequence whose last block is partly filled). Throws fp4::Error for an id or row count out of range.
  void copy_rows(int32_t src, int32_t dst, int64_t rows);
  // A view of a block table in this cache's pools.
  model::KvSequenceView view(const std::vector<int32_t>& block_table) const;

 private:
  // Checks the sizes, then takes the model's device pools (model keeps the cache) or allocates host pools.
  void init(model::Model* model);

  int64_t layers_ = 0, row_floats_ = 0, block_size_ = 0, num_blocks_ = 0;
  model::Model* device_model_ = nullptr;  // set when the model keeps the pools
  std::vector<std::unique_ptr<float[]>> pools_;  // host pools, empty when on the device
  std::vector<float*> bases_;
  std::vector<int32_t> free_;       // a stack: the most recently freed block is reused first
  std::vector<uint8_t> allocated_;  // [num_blocks]
};

// One sequence's blocks. Releases them on destruction.
class SequenceKv {
 public:
  explicit SequenceKv(KvCache& cache) : cache_(&cache) {}
  ~SequenceKv();
  SequenceKv(const SequenceKv&) = delete;
  SequenceKv& operator=(const SequenceKv&) = delete;

  // Makes room for `tokens` positions in total. Throws fp4::Error when the cache runs out of blocks.
  void reserve(int64_t tokens);
  int64_t capacity() const { return static_cast<int64_t>(blocks_.size()) * cache_->block_size(); }
  const std::vector<int32_t>& blocks() const { return blocks_; }
  model::KvSequenceView view() const;

 private:
  KvCache* cache_;
  std::vector<int32_t> blocks_;
};

}  // namespace fp4::runtime
