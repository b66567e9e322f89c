#include "fp4/runtime/kv_cache.h"

#include <algorithm>

#include "fp4/base/error.h"

namespace fp4::runtime {

KvCache::KvCache(int64_t layers, int64_t row_floats, int64_t block_size, int64_t num_blocks)
    : layers_(layers), row_floats_(row_floats), block_size_(block_size), num_blocks_(num_blocks) {
  init(nullptr);
}

KvCache::KvCache(model::Model& model, int64_t block_size, int64_t num_blocks)
    : layers_(model.num_layers()), row_floats_(model.kv_row_floats()), block_size_(block_size),
      num_blocks_(num_blocks) {
  init(&model);
}

void KvCache::init(model::Model* model) {
  FP4_CHECK(layers_ > 0 && row_floats_ > 0 && block_size_ > 0 && num_blocks_ > 0,
            "KV cache: layers {}, row floats {}, block size {} and blocks {} must all be positive", layers_,
            row_floats_, block_size_, num_blocks_);
  if (model != nullptr && model->kv_on_device()) {
    model->allocate_kv(num_blocks_, block_size_);
    device_model_ = model;
  } else {
    const int64_t floats = num_blocks_ * block_size_ * row_floats_;
    for (int64_t l = 0; l < layers_; ++l) {
      pools_.emplace_back(new float[static_cast<size_t>(floats)]);  // default-initialised: pages stay untouched
      bases_.push_back(pools_.back().get());
    }
  }
  allocated_.assign(static_cast<size_t>(num_blocks_), 0);
  for (int64_t b = num_blocks_ - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

KvCache KvCache::for_model(model::Model& model, int64_t max_tokens, int64_t block_size) {
  FP4_CHECK(max_tokens > 0, "KV cache: max tokens {} must be positive", max_tokens);
  FP4_CHECK(block_size > 0, "KV cache: block size {} must be positive", block_size);
  const int64_t blocks = (max_tokens + block_size - 1) / block_size;
  return KvCache(model, block_size, blocks);
}

uint64_t KvCache::bytes() const {
  return static_cast<uint64_t>(layers_ * num_blocks_ * block_size_ * row_floats_) * sizeof(float);
}

int32_t KvCache::allocate() {
  if (free_.empty()) return -1;
  const int32_t b = free_.back();
  free_.pop_back();
  allocated_[static_cast<size_t>(b)] = 1;
  return b;
}

void KvCache::release(int32_t block) {
  FP4_CHECK(block >= 0 && block < num_blocks_ && allocated_[static_cast<size_t>(block)],
            "KV cache: block {} is not allocated", block);
  allocated_[static_cast<size_t>(block)] = 0;
  free_.push_back(block);
}

void KvCache::copy_rows(int32_t src, int32_t dst, int64_t rows) {
  FP4_CHECK(src >= 0 && src < num_blocks_ && dst >= 0 && dst < num_blocks_ && rows >= 0 && rows <= block_size_,
            "KV cache: cannot copy {} rows from block {} to block {} ({} blocks of {} tokens)", rows, src, dst,
            num_blocks_, block_size_);
  if (device_model_ != nullptr) {
    device_model_->copy_kv_rows(src, dst, rows);
    return;
  }
  const int64_t block_floats = block_size_ * row_floats_;
  for (float* base : bases_) {
    std::copy_n(base + src * block_floats, rows * row_floats_, base + dst * block_floats);
  }
}

model::KvSequenceView KvCache::view(const std::vector<int32_t>& block_table) const {
  model::KvSequenceView v;
  v.layer_base = &bases_;
  v.block_table = block_table.data();
  v.num_blocks = static_cast<int64_t>(block_table.size());
  v.block_size = block_size_;
  v.row_floats = row_floats_;
  return v;
}

SequenceKv::~SequenceKv() {
  for (int32_t b : blocks_) cache_->release(b);
}

void SequenceKv::reserve(int64_t tokens) {
  while (capacity() < tokens) {
    const int32_t b = cache_->allocate();
    FP4_CHECK(b >= 0, "KV cache: out of blocks ({} blocks of {} tokens) while reserving {} tokens", cache_->num_blocks(),
              cache_->block_size(), tokens);
    blocks_.push_back(b);
  }
}

model::KvSequenceView SequenceKv::view() const {
  model::KvSequenceView v;
  v.layer_base = &cache_->layer_bases();
  v.block_table = blocks_.data();
  v.num_blocks = static_cast<int64_t>(blocks_.size());
  v.block_size = cache_->block_size();
  v.row_floats = cache_->row_floats();
  return v;
}

}  // namespace fp4::runtime
