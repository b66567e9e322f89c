#include "fp4/io/hf_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "fp4/base/error.h"
#include "fp4/base/mapped_file.h"
#include "fp4/io/json_fields.h"

namespace fp4::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

// A shard name from the index must stay inside the folder: no absolute paths, no "..".
bool is_safe_relative_name(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : fs::path(name)) {
    if (part == "..") return false;
  }
  return true;
}

std::vector<std::string> safetensors_files_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".safetensors") out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void HfCheckpoint::add_file(std::unique_ptr<SafetensorsFile> file) {
  size_t index = files_.size();
  for (const auto& info : file->tensors()) {
    auto [it, inserted] = by_name_.emplace(info.name, Location{index, &info});
    FP4_CHECK(inserted, "checkpoint {}: tensor '{}' appears in both {} and {}", dir_, info.name,
              files_[it->second.file]->path(), file->path());
  }
  files_.push_back(std::move(file));
}

HfCheckpoint HfCheckpoint::open(const std::string& path, Mode mode) {
  HfCheckpoint ckpt;
  ckpt.dir_ = path;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    ckpt.add_file(SafetensorsFile::open(path, mode));
    return ckpt;
  }
  FP4_CHECK(fs::is_directory(path, ec), "checkpoint {}: no such file or folder", path);

  const std::string index_path = (fs::path(path) / kIndexName).string();
  const std::string single_path = (fs::path(path) / kSingleName).string();
  if (!fs::exists(index_path, ec)) {
    if (fs::is_regular_file(single_path, ec)) {
      ckpt.add_file(SafetensorsFile::open(single_path, mode));
      return ckpt;
    }
    auto found = safetensors_files_in(path);
    FP4_CHECK(found.empty(), "checkpoint {}: {} .safetensors file(s) (first: {}) but no {} to say which to load", path,
              found.size(), found.front(), kIndexName);
    fail("checkpoint {}: no {} or {}", path, kSingleName, kIndexName);
  }

  const json index = detail::parse_json_object(read_text_file(index_path), index_path);
  auto map_it = index.find("weight_map");
  FP4_CHECK(map_it != index.end(), "{}: missing \"weight_map\"", index_path);
  FP4_CHECK(map_it->is_object(), "{}: \"weight_map\" is a {}, expected an object", index_path, map_it->type_name());

  // tensor → shard, and the shards in first-mention order.
  std::map<std::string, std::string, std::less<>> tensor_file;
  std::vector<std::string> shard_names;
  std::set<std::string> shard_set;
  for (const auto& [tensor, file] : map_it->items()) {
    FP4_CHECK(file.is_string(), "{}: weight_map entry '{}' is a {}, expected a file name", index_path, tensor,
              file.type_name());
    const auto& name = file.get_ref<const std::string&>();
    FP4_CHECK(is_safe_relative_name(name), "{}: weight_map entry '{}' names '{}', which is not a file inside {}",
              index_path, tensor, name, path);
    tensor_file.emplace(tensor, name);
    if (shard_set.insert(name).second) shard_names.push_back(name);
  }
  FP4_CHECK(!shard_names.empty(), "{}: \"weight_map\" is empty", index_path);

  for (const auto& name : shard_names) {
    std::string shard_path = (fs::path(path) / name).string();
    if (!fs::exists(shard_path, ec)) {
      auto first = std::find_if(tensor_file.begin(), tensor_file.end(), [&](const auto& kv) { return kv.second == name; });
      fail("checkpoint {}: shard {} is missing ({} maps tensor '{}' to it)", path, name, kIndexName, first->first);
    }
    ckpt.add_file(SafetensorsFile::open(shard_path, mode));
  }

  // The index and the shards must agree tensor by tensor.
  for (const auto& [tensor, file] : tensor_file) {
    auto it = ckpt.by_name_.find(tensor);
    FP4_CHECK(it != ckpt.by_name_.end(), "checkpoint {}: {} maps tensor '{}' to {}, which does not contain it", path,
              kIndexName, tensor, file);
    const std::string& actual = ckpt.files_[it->second.file]->path();
    FP4_CHECK(fs::path(actual).filename() == fs::path(file).filename(),
              "checkpoint {}: {} maps tensor '{}' to {}, but it is stored in {}", path, kIndexName, tensor, file,
              actual);
  }
  for (const auto& [tensor, loc] : ckpt.by_name_) {
    FP4_CHECK(tensor_file.count(tensor) != 0, "checkpoint {}: tensor '{}' in {} is not listed in {}", path, tensor,
              ckpt.files_[loc.file]->path(), kIndexName);
  }
  return ckpt;
}

const TensorInfo* HfCheckpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.info;
}

TensorView HfCheckpoint::view(std::string_view name) const {
  auto it = by_name_.find(name);
  FP4_CHECK(it != by_name_.end(), "checkpoint {}: no tensor '{}'", dir_, name);
  return files_[it->second.file]->view(*it->second.info);
}

std::vector<std::string> HfCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, loc] : by_name_) out.push_back(name);
  return out;
}

uint64_t HfCheckpoint::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) {
    for (const auto& t : f->tensors()) total += t.nbytes();
  }
  return total;
}

uint64_t HfCheckpoint::file_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f->file_bytes();
  return total;
}

}  // namespace fp4::io
