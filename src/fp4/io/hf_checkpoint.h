// A Hugging Face model folder's weights: either one `model.safetensors` or shards listed by
// `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: file}}). Every shard is
// validated on open; the index must agree with the shards (no tensor it names may be missing, no tensor
// may appear in two files, no shard may be missing). Tensors are looked up by name across all shards.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/io/safetensors.h"

namespace fp4::io {

class HfCheckpoint {
 public:
  using Mode = SafetensorsFile::Mode;

  // Opens the weights of the folder `dir` (or a single .safetensors file path). kHeaderOnly reads only
  // the headers (for `fp4serve inspect`); kMapped maps every shard. Throws fp4::Error naming the folder,
  // file and tensor on any problem: no weights found, bad index JSON, missing shard, tensor named by the
  // index but absent from its file, tensor in a file the index does not give it to, duplicate tensor.
  static HfCheckpoint open(const std::string& dir, Mode mode = Mode::kMapped);

  HfCheckpoint() = default;
  HfCheckpoint(HfCheckpoint&&) noexcept = default;
  HfCheckpoint& operator=(HfCheckpoint&&) noexcept = default;

  const std::string& dir() const { return dir_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

  bool contains(std::string_view name) const { return by_name_.find(name) != by_name_.end(); }
  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  // Throws fp4::Error "checkpoint DIR: no tensor 'NAME'" when absent.
  TensorView view(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  size_t tensor_count() const { return by_name_.size(); }

  // Sum of tensor data bytes, and of whole file sizes (headers included).
  uint64_t tensor_bytes() const;
  uint64_t file_bytes() const;

  // Calls fn(const TensorView&) for every tensor in name order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [name, loc] : by_name_) fn(files_[loc.file]->view(*loc.info));
  }

 private:
  struct Location {
    size_t file = 0;
    const TensorInfo* info = nullptr;
  };
  void add_file(std::unique_ptr<SafetensorsFile> file);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Location, std::less<>> by_name_;
};

}  // namespace fp4::io
