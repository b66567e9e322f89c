// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [begin, end]}, ..., "__metadata__": {k: v}}
// and then the data section; offsets are relative to its start (byte 8 + N).
//
// Reading maps the file and hands out zero-copy views; every field of the header is validated first and
// each violation is reported as one line naming the file and the tensor. Writing is streaming: the caller
// declares every tensor (name, dtype, shape) up front, so the header and all offsets are known before any
// data exists, and then writes each tensor's bytes (whole or in appended chunks) straight to its final
// place in the final file. Only the tensor being produced needs to be in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/dtype.h"
#include "fp4/base/mapped_file.h"

namespace fp4::io {

// Upper bound on the JSON header length. The safetensors reference implementation uses the same
// 100 MB bound; DeepSeek-R1's largest shard header is a few hundred KB.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// One tensor as the header describes it. Offsets are relative to the start of the data section.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;  // [] for a scalar
  uint64_t data_begin = 0;
  uint64_t data_end = 0;

  uint64_t nbytes() const { return data_end - data_begin; }
  int64_t numel() const;  // product of shape (1 for a scalar); checked against overflow at parse time
};

// A tensor's bytes in place (no copy). `data` is null when the file was opened for its header only.
struct TensorView {
  const TensorInfo* info = nullptr;
  const uint8_t* data = nullptr;
  const std::string* file = nullptr;  // the file it lives in, for error messages

  const std::string& name() const { return info->name; }
  DType dtype() const { return info->dtype; }
  const std::vector<int64_t>& shape() const { return info->shape; }
  uint64_t nbytes() const { return info->nbytes(); }
  int64_t numel() const { return info->numel(); }
  int64_t dim(size_t i) const { return info->shape.at(i); }
  size_t rank() const { return info->shape.size(); }

  // Typed element pointer; throws fp4::Error naming the tensor when the dtype differs or there is no data.
  template <typename T>
  const T* as(DType expected) const;
};

// The parsed, validated header of one file.
struct SafetensorsHeader {
  uint64_t header_bytes = 0;  // N, the JSON length
  uint64_t data_bytes = 0;    // size of the data section (file size − 8 − N)
  std::vector<TensorInfo> tensors;  // in ascending data_begin order
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Validates a header. `json` is the N header bytes; `data_bytes` the size of the data section that
// follows; `file` only names the source in messages. Throws fp4::Error with one specific line.
SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_bytes, std::string_view file);

// Validates a whole in-memory safetensors image (8-byte length + header + data), e.g. for the fuzzer.
SafetensorsHeader parse_safetensors_image(std::span<const uint8_t> image, std::string_view file);

// Reads and validates only the header of a file with pread; tensor data is never read.
SafetensorsHeader read_safetensors_header(const std::string& path);

// One opened .safetensors file.
class SafetensorsFile {
 public:
  enum class Mode {
    kMapped,       // mmap the file; views carry data pointers
    kHeaderOnly,   // read the header only; views have data == nullptr
  };

  // Opens and validates `path`. Throws fp4::Error naming the file (and tensor) on any problem.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path, Mode mode = Mode::kMapped);

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  uint64_t file_bytes() const { return 8 + header_.header_bytes + header_.data_bytes; }
  bool mapped() const { return map_.data() != nullptr || header_.data_bytes == 0; }
  const MappedFile& mapping() const { return map_; }

  // nullptr when there is no such tensor.
  const TensorInfo* find(std::string_view name) const;
  // Throws fp4::Error "FILE: no tensor 'NAME'" when missing.
  TensorView view(std::string_view name) const;
  TensorView view(const TensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  SafetensorsHeader header_;
  MappedFile map_;
  const uint8_t* data_section_ = nullptr;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// A tensor declared to the writer before any data is written.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;
  uint64_t nbytes() const;  // dtype_size × product(shape); throws on overflow
};

struct SafetensorsWriterOptions {
  // A new shard starts when adding the next tensor would take the current one past this many data
  // bytes (a tensor larger than the limit gets a shard of its own). 0 = one file.
  uint64_t max_shard_bytes = 5'000'000'000;
  // File names: "<stem>.safetensors" for one file, "<stem>-00001-of-0000K.safetensors" for K shards,
  // plus "<stem>.safetensors.index.json" whenever there is more than one shard.
  std::string stem = "model";
  std::map<std::string, std::string> metadata = {{"format", "pt"}};  // written into every shard
};

// Streaming, sharded writer. Typical use by the quantizer:
//   SafetensorsWriter w(dir, specs, {});          // plans shards, creates the files, writes headers
//   for (...) w.write(name, bytes);               // any order; or w.append(name, chunk) repeatedly
//   w.finish();                                   // checks completeness, writes the index, renames
// Files are written as "<name>.partial" and renamed only by finish(), so an interrupted run never leaves
// a file that looks complete. The destructor of an unfinished writer removes its partial files.
class SafetensorsWriter {
 public:
  SafetensorsWriter(std::string dir, std::vector<TensorSpec> tensors, SafetensorsWriterOptions options = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Writes a whole tensor; `bytes.size()` must equal its declared byte size and it must not be written yet.
  void write(std::string_view name, std::span<const uint8_t> bytes);
  // Appends the next chunk of a tensor (for tensors produced row block by row block).
  void append(std::string_view name, std::span<const uint8_t> bytes);

  // Verifies every tensor was fully written, flushes, renames the files into place and writes the
  // index when sharded. Returns the final file names (relative to dir) in shard order.
  std::vector<std::string> finish();

  size_t shard_count() const { return shards_.size(); }

 private:
  struct Shard {
    std::string final_name;
    int fd = -1;
    uint64_t data_start = 0;  // 8 + padded header length
  };
  struct Slot {
    TensorSpec spec;
    size_t shard = 0;
    uint64_t offset = 0;   // relative to the shard's data section
    uint64_t written = 0;  // bytes appended so far
  };
  Slot& slot(std::string_view name);
  void abandon() noexcept;

  std::string dir_;
  SafetensorsWriterOptions options_;
  std::vector<Shard> shards_;
  std::vector<Slot> slots_;
  std::map<std::string, size_t, std::less<>> by_name_;
  bool finished_ = false;
};

// Convenience for small files (tests, tools): writes all tensors into one file at `path`.
struct TensorData {
  TensorSpec spec;
  std::vector<uint8_t> bytes;
};
void write_safetensors_file(const std::string& path, const std::vector<TensorData>& tensors,
                            const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace fp4::io

// ---- inline implementation ----
#include "fp4/base/error.h"

namespace fp4::io {

template <typename T>
const T* TensorView::as(DType expected) const {
  FP4_CHECK(info->dtype == expected, "{}: tensor '{}' has dtype {}, expected {}", *file, info->name,
            dtype_name(info->dtype), dtype_name(expected));
  FP4_CHECK(dtype_size(expected) == sizeof(T), "tensor '{}': element type size mismatch", info->name);
  FP4_CHECK(data != nullptr || info->nbytes() == 0, "{}: tensor '{}' was opened without its data", *file,
            info->name);
  return reinterpret_cast<const T*>(data);
}

}  // namespace fp4::io
