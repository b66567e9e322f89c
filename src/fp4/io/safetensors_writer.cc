// Streaming, sharded safetensors writer. All tensors are declared up front, so each shard's header and
// every tensor's offset are fixed before any data arrives; data is then pwrite()n straight to its final
// place. The files are pre-sized with ftruncate (sparse until written) and renamed into place by finish().
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include <fmt/ranges.h>

#include "fp4/base/error.h"
#include "fp4/io/safetensors.h"

namespace fp4::io {
namespace {

using nlohmann::json;

std::string errno_text() { return std::strerror(errno); }

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

void write_all(int fd, const void* data, size_t size, uint64_t offset, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("{}: write of {} bytes at offset {} failed: {}", path, size, offset, errno_text());
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

std::string shard_name(const std::string& stem, size_t index, size_t count) {
  if (count == 1) return stem + ".safetensors";
  return fmt::format("{}-{:05d}-of-{:05d}.safetensors", stem, index + 1, count);
}

// Writes `text` to DIR/name via a temporary file and a rename, so readers never see half a file.
void write_text_atomically(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = join_path(dir, name);
  std::string partial = path + ".partial";
  int fd = ::open(partial.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot create: {}", partial, errno_text());
  try {
    write_all(fd, text.data(), text.size(), 0, partial);
  } catch (...) {
    ::close(fd);
    ::unlink(partial.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(partial.c_str(), path.c_str()) != 0) fail("{}: cannot rename into place: {}", path, errno_text());
}

}  // namespace

uint64_t TensorSpec::nbytes() const {
  const uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t bytes = dtype_size(dtype);
  for (int64_t d : shape) {
    FP4_CHECK(d >= 0, "tensor '{}': negative dimension {}", name, d);
    if (d == 0) return 0;
    FP4_CHECK(bytes <= kLimit / static_cast<uint64_t>(d), "tensor '{}': byte size overflows", name);
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

SafetensorsWriter::SafetensorsWriter(std::string dir, std::vector<TensorSpec> tensors, SafetensorsWriterOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  FP4_CHECK(!options_.stem.empty() && options_.stem.find('/') == std::string::npos,
            "safetensors writer: file stem '{}' must be a plain non-empty name", options_.stem);
  // Plan: shards fill in declaration order; each holds at most max_shard_bytes of data unless a single
  // tensor is larger than that.
  std::vector<std::vector<size_t>> plan(1);
  uint64_t shard_bytes = 0;
  slots_.reserve(tensors.size());
  for (auto& spec : tensors) {
    FP4_CHECK(!spec.name.empty() && spec.name != "__metadata__", "safetensors writer: invalid tensor name '{}'",
              spec.name);
    FP4_CHECK(by_name_.emplace(spec.name, slots_.size()).second, "safetensors writer: tensor '{}' declared twice",
              spec.name);
    uint64_t bytes = spec.nbytes();
    if (options_.max_shard_bytes > 0 && shard_bytes > 0 && shard_bytes + bytes > options_.max_shard_bytes) {
      plan.emplace_back();
      shard_bytes = 0;
    }
    shard_bytes += bytes;
    plan.back().push_back(slots_.size());
    slots_.push_back(Slot{std::move(spec), plan.size() - 1, 0, 0});
  }

  try {
    for (size_t s = 0; s < plan.size(); ++s) {
      // Within a shard, wider elements first: with an 8-aligned data start every tensor is then aligned
      // to its element size, so kernels may read F32 scales in place.
      auto& members = plan[s];
      std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) {
        return dtype_size(slots_[a].spec.dtype) > dtype_size(slots_[b].spec.dtype);
      });
      json header = json::object();
      uint64_t offset = 0;
      for (size_t i : members) {
        Slot& slot = slots_[i];
        slot.offset = offset;
        uint64_t end = offset + slot.spec.nbytes();
        header[slot.spec.name] = {{"dtype", std::string(dtype_name(slot.spec.dtype))},
                                  {"shape", slot.spec.shape},
                                  {"data_offsets", {offset, end}}};
        offset = end;
      }
      if (!options_.metadata.empty()) header["__metadata__"] = options_.metadata;
      std::string text = header.dump();
      // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
      text.append((8 - text.size() % 8) % 8, ' ');

      Shard shard;
      shard.final_name = shard_name(options_.stem, s, plan.size());
      shard.data_start = 8 + text.size();
      std::string partial = join_path(dir_, shard.final_name + ".partial");
      shard.fd = ::open(partial.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
      if (shard.fd < 0) fail("{}: cannot create: {}", partial, errno_text());
      shards_.push_back(shard);
      uint8_t prefix[8];
      uint64_t n = text.size();
      for (int b = 0; b < 8; ++b) prefix[b] = static_cast<uint8_t>(n >> (8 * b));
      write_all(shard.fd, prefix, 8, 0, partial);
      write_all(shard.fd, text.data(), text.size(), 8, partial);
      if (::ftruncate(shard.fd, static_cast<off_t>(shard.data_start + offset)) != 0) {
        fail("{}: cannot size to {} bytes: {}", partial, shard.data_start + offset, errno_text());
      }
    }
  } catch (...) {
    abandon();
    throw;
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (!finished_) abandon();
}

void SafetensorsWriter::abandon() noexcept {
  for (auto& shard : shards_) {
    if (shard.fd >= 0) ::close(shard.fd);
    shard.fd = -1;
    ::unlink(join_path(dir_, shard.final_name + ".partial").c_str());
  }
}

SafetensorsWriter::Slot& SafetensorsWriter::slot(std::string_view name) {
  FP4_CHECK(!finished_, "safetensors writer: tensor '{}' written after finish()", name);
  auto it = by_name_.find(name);
  FP4_CHECK(it != by_name_.end(), "safetensors writer: tensor '{}' was not declared", name);
  return slots_[it->second];
}

void SafetensorsWriter::write(std::string_view name, std::span<const uint8_t> bytes) {
  Slot& s = slot(name);
  FP4_CHECK(s.written == 0, "safetensors writer: tensor '{}' written twice", name);
  FP4_CHECK(bytes.size() == s.spec.nbytes(), "safetensors writer: tensor '{}' got {} bytes, declared {} ({} [{}])",
            name, bytes.size(), s.spec.nbytes(), dtype_name(s.spec.dtype), fmt::join(s.spec.shape, ", "));
  append(name, bytes);
}

void SafetensorsWriter::append(std::string_view name, std::span<const uint8_t> bytes) {
  Slot& s = slot(name);
  uint64_t total = s.spec.nbytes();
  FP4_CHECK(bytes.size() <= total - s.written, "safetensors writer: tensor '{}' overflows: {} + {} bytes > declared {}",
            name, s.written, bytes.size(), total);
  const Shard& shard = shards_[s.shard];
  write_all(shard.fd, bytes.data(), bytes.size(), shard.data_start + s.offset + s.written,
            join_path(dir_, shard.final_name + ".partial"));
  s.written += bytes.size();
}

std::vector<std::string> SafetensorsWriter::finish() {
  FP4_CHECK(!finished_, "safetensors writer: finish() called twice");
  for (const auto& s : slots_) {
    FP4_CHECK(s.written == s.spec.nbytes(), "safetensors writer: tensor '{}' has {} of its {} bytes written",
              s.spec.name, s.written, s.spec.nbytes());
  }
  std::vector<std::string> names;
  for (auto& shard : shards_) {
    std::string partial = join_path(dir_, shard.final_name + ".partial");
    if (::fsync(shard.fd) != 0) fail("{}: fsync failed: {}", partial, errno_text());
    ::close(shard.fd);
    shard.fd = -1;
    std::string final_path = join_path(dir_, shard.final_name);
    if (::rename(partial.c_str(), final_path.c_str()) != 0) {
      fail("{}: cannot rename into place: {}", final_path, errno_text());
    }
    names.push_back(shard.final_name);
  }
  finished_ = true;

  std::string index_name = options_.stem + ".safetensors.index.json";
  if (shards_.size() > 1) {
    json weight_map = json::object();
    uint64_t total = 0;
    for (const auto& s : slots_) {
      weight_map[s.spec.name] = shards_[s.shard].final_name;
      total += s.spec.nbytes();
    }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_text_atomically(dir_, index_name, index.dump(2) + "\n");
  } else {
    // A stale index from an earlier sharded write would point readers at files that are not ours.
    ::unlink(join_path(dir_, index_name).c_str());
  }
  return names;
}

void write_safetensors_file(const std::string& path, const std::vector<TensorData>& tensors,
                            const std::map<std::string, std::string>& metadata) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string suffix = ".safetensors";
  FP4_CHECK(file.size() > suffix.size() && file.ends_with(suffix), "{}: file name must end in {}", path, suffix);
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors) specs.push_back(t.spec);
  SafetensorsWriterOptions options;
  options.max_shard_bytes = 0;
  options.stem = file.substr(0, file.size() - suffix.size());
  options.metadata = metadata;
  SafetensorsWriter writer(dir, std::move(specs), options);
  for (const auto& t : tensors) writer.write(t.spec.name, t.bytes);
  writer.finish();
}

}  // namespace fp4::io
