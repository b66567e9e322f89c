// safetensors reader: header validation and zero-copy views.
#include "fp4/io/safetensors.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "fp4/base/error.h"
#include "fp4/io/json_fields.h"

namespace fp4::io {
namespace {

using nlohmann::json;

// Deeper nesting than this cannot be a valid header (its deepest legal value is depth 3: the shape
// array inside a tensor entry inside the top object); refusing it early keeps hostile input from making
// the JSON library recurse or allocate without bound.
constexpr int kMaxJsonDepth = 16;

const char* json_type_name(const json& v) { return v.type_name(); }

// A JSON integer that fits in uint64; nullopt for negatives, fractions and non-numbers.
std::optional<uint64_t> as_unsigned(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    if (i >= 0) return static_cast<uint64_t>(i);
  }
  return std::nullopt;
}

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

TensorInfo parse_entry(const std::string& name, const json& entry, uint64_t data_bytes, std::string_view file) {
  FP4_CHECK(!name.empty(), "{}: a tensor has an empty name", file);
  FP4_CHECK(entry.is_object(), "{}: tensor '{}': entry is a JSON {}, expected an object", file, name,
            json_type_name(entry));
  TensorInfo info;
  info.name = name;

  auto dtype_it = entry.find("dtype");
  FP4_CHECK(dtype_it != entry.end(), "{}: tensor '{}': missing \"dtype\"", file, name);
  FP4_CHECK(dtype_it->is_string(), "{}: tensor '{}': \"dtype\" is a JSON {}, expected a string", file, name,
            json_type_name(*dtype_it));
  const auto& dtype_str = dtype_it->get_ref<const std::string&>();
  auto dtype = dtype_from_name(dtype_str);
  FP4_CHECK(dtype.has_value(), "{}: tensor '{}': unknown dtype '{}'", file, name, dtype_str);
  info.dtype = *dtype;

  auto shape_it = entry.find("shape");
  FP4_CHECK(shape_it != entry.end(), "{}: tensor '{}': missing \"shape\"", file, name);
  FP4_CHECK(shape_it->is_array(), "{}: tensor '{}': \"shape\" is a JSON {}, expected an array", file, name,
            json_type_name(*shape_it));
  // Bytes = dtype size × Π dims must fit in int64 so that every later size computation is safe.
  const uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t bytes = dtype_size(info.dtype);
  bool overflow = false;
  for (size_t d = 0; d < shape_it->size(); ++d) {
    auto dim = as_unsigned((*shape_it)[d]);
    FP4_CHECK(dim.has_value(), "{}: tensor '{}': shape[{}] is {}, expected a non-negative integer", file, name, d,
              (*shape_it)[d].dump());
    FP4_CHECK(*dim <= kLimit, "{}: tensor '{}': shape[{}] = {} is too large", file, name, d, *dim);
    info.shape.push_back(static_cast<int64_t>(*dim));
    if (*dim == 0) {
      bytes = 0;
    } else if (!overflow && bytes != 0) {
      if (bytes > kLimit / *dim) {
        overflow = true;
      } else {
        bytes *= *dim;
      }
    }
  }
  // A zero dimension makes the tensor empty whatever the others are, so overflow only counts without one.
  FP4_CHECK(!overflow || bytes == 0, "{}: tensor '{}': shape {} of {} has more bytes than fit in 63 bits", file,
            name, shape_text(info.shape), dtype_str);

  auto off_it = entry.find("data_offsets");
  FP4_CHECK(off_it != entry.end(), "{}: tensor '{}': missing \"data_offsets\"", file, name);
  FP4_CHECK(off_it->is_array() && off_it->size() == 2,
            "{}: tensor '{}': \"data_offsets\" is {}, expected an array [begin, end]", file, name, off_it->dump());
  auto begin = as_unsigned((*off_it)[0]);
  auto end = as_unsigned((*off_it)[1]);
  FP4_CHECK(begin.has_value() && end.has_value(),
            "{}: tensor '{}': \"data_offsets\" {} must hold two non-negative integers", file, name, off_it->dump());
  FP4_CHECK(*begin <= *end, "{}: tensor '{}': data_offsets [{}, {}] has begin after end", file, name, *begin, *end);
  FP4_CHECK(*end <= data_bytes,
            "{}: tensor '{}': data_offsets [{}, {}] lie outside the data section of {} bytes (file truncated?)", file,
            name, *begin, *end, data_bytes);
  info.data_begin = *begin;
  info.data_end = *end;
  FP4_CHECK(info.nbytes() == bytes, "{}: tensor '{}': data_offsets [{}, {}] hold {} bytes, but {} {} needs {}", file,
            name, *begin, *end, info.nbytes(), dtype_str, shape_text(info.shape), bytes);
  return info;
}

std::map<std::string, std::string> parse_metadata(const json& value, std::string_view file) {
  FP4_CHECK(value.is_object(), "{}: \"__metadata__\" is a JSON {}, expected an object of strings", file,
            json_type_name(value));
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    FP4_CHECK(v.is_string(), "{}: \"__metadata__\" key '{}' is a JSON {}, expected a string", file, key,
              json_type_name(v));
    out.emplace(key, v.get<std::string>());
  }
  return out;
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Checks the 8-byte length prefix against the file size; returns N.
uint64_t check_header_length(uint64_t n, uint64_t file_bytes, std::string_view file) {
  FP4_CHECK(n <= kMaxSafetensorsHeaderBytes, "{}: header length {} exceeds the limit of {} bytes (not a safetensors file?)",
            file, n, kMaxSafetensorsHeaderBytes);
  FP4_CHECK(n <= file_bytes - 8, "{}: header length {} runs past the end of the {}-byte file (file truncated?)", file,
            n, file_bytes);
  FP4_CHECK(n > 0, "{}: header length is 0, expected a JSON object", file);
  return n;
}

}  // namespace

int64_t TensorInfo::numel() const {
  // A zero dimension empties the tensor whatever the others are (and they may be huge), so check first;
  // otherwise the product is bounded at parse time (its byte size fits in int64).
  for (int64_t d : shape) {
    if (d == 0) return 0;
  }
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors_header(std::string_view text, uint64_t data_bytes, std::string_view file) {
  FP4_CHECK(text.size() <= kMaxSafetensorsHeaderBytes, "{}: header length {} exceeds the limit of {} bytes", file,
            text.size(), kMaxSafetensorsHeaderBytes);
  int depth = detail::json_nesting_depth(text, kMaxJsonDepth);
  FP4_CHECK(depth <= kMaxJsonDepth, "{}: header is not a valid safetensors header: JSON nested deeper than {} levels",
            file, kMaxJsonDepth);

  // The JSON library keeps the last of duplicate keys silently; a duplicate tensor name is an error here.
  std::unordered_set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t on_event = [&](int depth_now, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth_now == 1 && duplicate.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second) duplicate = key;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text.begin(), text.end(), on_event, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", file, e.what());
  }
  FP4_CHECK(root.is_object(), "{}: header is a JSON {}, expected an object", file, json_type_name(root));
  FP4_CHECK(duplicate.empty(), "{}: tensor '{}' appears twice in the header", file, duplicate);

  SafetensorsHeader header;
  header.header_bytes = text.size();
  header.data_bytes = data_bytes;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      header.metadata = parse_metadata(value, file);
    } else {
      header.tensors.push_back(parse_entry(key, value, data_bytes, file));
    }
  }

  std::stable_sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
  });
  // Empty tensors own no bytes and cannot overlap anything; every non-empty range must start at or after
  // the end of the previous one.
  const TensorInfo* previous = nullptr;
  for (const auto& t : header.tensors) {
    if (t.nbytes() == 0) continue;
    if (previous != nullptr) {
      FP4_CHECK(t.data_begin >= previous->data_end, "{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", file,
                previous->name, previous->data_begin, previous->data_end, t.name, t.data_begin, t.data_end);
    }
    previous = &t;
  }
  return header;
}

SafetensorsHeader parse_safetensors_image(std::span<const uint8_t> image, std::string_view file) {
  FP4_CHECK(image.size() >= 8, "{}: file is {} bytes, too short for the 8-byte header length (file truncated?)", file,
            image.size());
  uint64_t n = check_header_length(read_le64(image.data()), image.size(), file);
  std::string_view text(reinterpret_cast<const char*>(image.data() + 8), static_cast<size_t>(n));
  return parse_safetensors_header(text, image.size() - 8 - n, file);
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  uint64_t size = file_size(path);
  FP4_CHECK(size >= 8, "{}: file is {} bytes, too short for the 8-byte header length (file truncated?)", path, size);
  std::string prefix = read_file_range(path, 0, 8);
  uint64_t n = check_header_length(read_le64(reinterpret_cast<const uint8_t*>(prefix.data())), size, path);
  std::string text = read_file_range(path, 8, n);
  return parse_safetensors_header(text, size - 8 - n, path);
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path, Mode mode) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  if (mode == Mode::kMapped) {
    file->map_ = MappedFile::open(path);
    file->header_ = parse_safetensors_image({file->map_.data(), file->map_.size()}, path);
    file->data_section_ = file->map_.data() + 8 + file->header_.header_bytes;
  } else {
    file->header_ = read_safetensors_header(path);
  }
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) file->by_name_.emplace(file->header_.tensors[i].name, i);
  return file;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &header_.tensors[it->second];
}

TensorView SafetensorsFile::view(std::string_view name) const {
  const TensorInfo* info = find(name);
  FP4_CHECK(info != nullptr, "{}: no tensor '{}'", path_, name);
  return view(*info);
}

TensorView SafetensorsFile::view(const TensorInfo& info) const {
  TensorView v;
  v.info = &info;
  v.file = &path_;
  v.data = data_section_ == nullptr ? nullptr : data_section_ + info.data_begin;
  return v;
}

}  // namespace fp4::io
