// A read-only memory map of a whole file. Checkpoints are opened this way so that weights stay in the
// page cache, are shared between processes, and cost resident memory only for the pages a kernel
// actually touches (DESIGN.md §2: an NVFP4 model's RSS is about its file size, never 4× it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace fp4 {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path` read-only (MAP_SHARED: pages come from the page cache and are never copied).
  // Throws fp4::Error naming the file and the system error when it cannot be opened or mapped.
  // An empty file maps to size() == 0 and data() == nullptr.
  static MappedFile open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_open() const { return data_ != nullptr || !path_.empty(); }

  // The bytes [offset, offset + length); throws fp4::Error naming the file when the range is outside it.
  std::span<const uint8_t> bytes(uint64_t offset, uint64_t length) const;

  // Hints for the kernel's read-ahead: sequential for a one-pass copy/quantize, random for inference.
  void advise_sequential() const;
  void advise_random() const;

 private:
  void release() noexcept;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Size of a file in bytes without reading it; throws fp4::Error naming the file if it cannot be stat'ed.
uint64_t file_size(const std::string& path);

// Reads exactly [offset, offset + length) of a file with pread (no mapping); throws fp4::Error naming the
// file when it is shorter. Used where only a header is wanted (e.g. `fp4serve inspect`).
std::string read_file_range(const std::string& path, uint64_t offset, uint64_t length);

// Reads a whole (small) text file such as config.json; throws fp4::Error naming the file.
std::string read_text_file(const std::string& path);

}  // namespace fp4
