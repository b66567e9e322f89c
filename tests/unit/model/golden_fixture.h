// Reading the golden fixtures of tests/golden (written by tools/make_goldens.py) and a small paged KV
// cache for driving a model in tests without the runtime layer.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fp4/io/safetensors.h"
#include "fp4/model/model.h"

namespace fp4::testing {

inline std::string golden_dir(const std::string& fixture) {
  return std::string(FP4_SOURCE_DIR) + "/tests/golden/" + fixture;
}

// expected.safetensors of one fixture.
class GoldenExpected {
 public:
  explicit GoldenExpected(const std::string& fixture)
      : file_(io::SafetensorsFile::open(golden_dir(fixture) + "/expected.safetensors")) {}

  bool has(const std::string& name) const { return file_->find(name) != nullptr; }
  std::vector<int64_t> shape(const std::string& name) const { return file_->view(name).shape(); }

  std::vector<float> f32(const std::string& name) const { return copy<float>(name, DType::kF32); }
  std::vector<int32_t> i32(const std::string& name) const { return copy<int32_t>(name, DType::kI32); }

 private:
  template <typename T>
  std::vector<T> copy(const std::string& name, DType dtype) const {
    const io::TensorView v = file_->view(name);
    const T* p = v.as<T>(dtype);
    std::vector<T> out(static_cast<size_t>(v.numel()));
    std::memcpy(out.data(), p, out.size() * sizeof(T));
    return out;
  }
  std::unique_ptr<io::SafetensorsFile> file_;
};

// A KV cache of `blocks` blocks whose block table is deliberately not in ascending order, so that any
// code that assumes contiguous blocks fails the golden tests.
class TestKv {
 public:
  TestKv(const model::Model& m, int64_t max_tokens, int64_t block_size = 4)
      : row_(m.kv_row_floats()), block_size_(block_size) {
    const int64_t blocks = (max_tokens + block_size - 1) / block_size;
    for (int64_t l = 0; l < m.num_layers(); ++l) {
      pools_.emplace_back(static_cast<size_t>(blocks * block_size * row_), 0.0f);
      bases_.push_back(pools_.back().data());
    }
    for (int64_t b = 0; b < blocks; ++b) table_.push_back(static_cast<int32_t>((b * 7 + 3) % blocks));
    if (!table_.empty() && blocks % 7 == 0) {  // keep the table a permutation
      for (int64_t b = 0; b < blocks; ++b) table_[b] = static_cast<int32_t>(blocks - 1 - b);
    }
  }
  model::KvSequenceView view() const {
    model::KvSequenceView v;
    v.layer_base = &bases_;
    v.block_table = table_.data();
    v.num_blocks = static_cast<int64_t>(table_.size());
    v.block_size = block_size_;
    v.row_floats = row_;
    return v;
  }

 private:
  int64_t row_, block_size_;
  std::vector<std::vector<float>> pools_;
  std::vector<float*> bases_;
  std::vector<int32_t> table_;
};

}  // namespace fp4::testing
