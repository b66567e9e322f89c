#include "fp4/base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "fp4/base/error.h"

namespace fp4 {
namespace {

// Closes a descriptor on every exit path of open().
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text() { return std::strerror(errno); }

}  // namespace

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

MappedFile MappedFile::open(const std::string& path) {
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) fail("{}: cannot open: {}", path, errno_text());
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) fail("{}: cannot stat: {}", path, errno_text());
  if (!S_ISREG(st.st_mode)) fail("{}: not a regular file", path);

  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ == 0) return file;  // mmap of length 0 is an error; an empty map is valid
  void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd.fd, 0);
  if (p == MAP_FAILED) fail("{}: cannot map {} bytes: {}", path, file.size_, errno_text());
  file.data_ = static_cast<const uint8_t*>(p);
  return file;
}

std::span<const uint8_t> MappedFile::bytes(uint64_t offset, uint64_t length) const {
  FP4_CHECK(offset <= size_ && length <= size_ - offset, "{}: byte range [{}, {}) is outside the file ({} bytes)",
            path_, offset, offset + length, size_);
  return {data_ + offset, static_cast<size_t>(length)};
}

void MappedFile::advise_sequential() const {
  if (data_ != nullptr) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_SEQUENTIAL);
}

void MappedFile::advise_random() const {
  if (data_ != nullptr) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_RANDOM);
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail("{}: cannot stat: {}", path, errno_text());
  if (!S_ISREG(st.st_mode)) fail("{}: not a regular file", path);
  return static_cast<uint64_t>(st.st_size);
}

std::string read_file_range(const std::string& path, uint64_t offset, uint64_t length) {
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) fail("{}: cannot open: {}", path, errno_text());
  std::string out(static_cast<size_t>(length), '\0');
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd.fd, out.data() + done, static_cast<size_t>(length - done),
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("{}: read error at byte {}: {}", path, offset + done, errno_text());
    }
    if (n == 0) fail("{}: file ends at byte {}, expected at least {} bytes", path, offset + done, offset + length);
    done += static_cast<uint64_t>(n);
  }
  return out;
}

std::string read_text_file(const std::string& path) {
  // Config files are small; a bound keeps a mistaken path (a weight file) from being slurped.
  constexpr uint64_t kMaxTextBytes = 64ull << 20;
  uint64_t size = file_size(path);
  FP4_CHECK(size <= kMaxTextBytes, "{}: {} bytes is too large for a text config file (limit {})", path, size,
            kMaxTextBytes);
  return read_file_range(path, 0, size);
}

}  // namespace fp4
