// The safetensors reader: a valid file gives zero-copy views; every kind of corruption gives its own
// one-line message naming the file and, where there is one, the tensor.
#include <gtest/gtest.h>

#include "fp4/io/safetensors.h"
#include "unit/io/io_test_util.h"

namespace fp4::io {
namespace {

using test::expect_error;
using test::safetensors_image;
using test::TempDir;
using test::write_bytes;

// Two tensors: "a" BF16 [2, 3] at [0, 12) and "b" F32 [] at [12, 16).
const std::string kGoodHeader =
    R"({"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[],"data_offsets":[12,16]},)"
    R"("__metadata__":{"format":"pt"}})";

TEST(SafetensorsReader, ValidFileGivesZeroCopyViews) {
  TempDir dir;
  std::string path = dir.file("good.safetensors");
  write_bytes(path, safetensors_image(kGoodHeader, 16));
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  TensorView a = file->view("a");
  EXPECT_EQ(a.dtype(), DType::kBF16);
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.numel(), 6);
  EXPECT_EQ(a.nbytes(), 12u);
  // The view points into the mapping: byte i of the data section holds i.
  const uint8_t* data_section = file->mapping().data() + 8 + kGoodHeader.size();
  EXPECT_EQ(a.data, data_section);
  TensorView b = file->view("b");
  EXPECT_EQ(b.data, data_section + 12);
  EXPECT_EQ(b.numel(), 1);
  EXPECT_EQ(b.data[0], 12);
  EXPECT_EQ(b.data[3], 15);
  EXPECT_EQ(file->find("missing"), nullptr);
  expect_error([&] { file->view("missing"); }, {path, "no tensor 'missing'"});
  expect_error([&] { a.as<float>(DType::kF32); }, {"'a'", "dtype BF16, expected F32"});
}

TEST(SafetensorsReader, HeaderOnlyModeReadsNoData) {
  TempDir dir;
  std::string path = dir.file("good.safetensors");
  write_bytes(path, safetensors_image(kGoodHeader, 16));
  auto file = SafetensorsFile::open(path, SafetensorsFile::Mode::kHeaderOnly);
  EXPECT_EQ(file->mapping().data(), nullptr);
  EXPECT_EQ(file->view("a").data, nullptr);
  EXPECT_EQ(file->file_bytes(), 8 + kGoodHeader.size() + 16);
  expect_error([&] { file->view("a").as<uint16_t>(DType::kBF16); }, {"opened without its data"});
}

TEST(SafetensorsReader, EmptyTensorsAndEmptyFileOfTensors) {
  TempDir dir;
  std::string path = dir.file("empty.safetensors");
  write_bytes(path, safetensors_image(
                        R"({"z":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                        4));
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->view("z").nbytes(), 0u);
  EXPECT_EQ(file->view("z").numel(), 0);
  write_bytes(path, safetensors_image("{}", 0));
  EXPECT_TRUE(SafetensorsFile::open(path)->tensors().empty());
}

// Writes `image` and expects opening it (mapped and header-only) to fail with each fragment.
void expect_corrupt(const std::string& image, const std::vector<std::string>& fragments) {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
  write_bytes(path, image);
  std::vector<std::string> with_file = fragments;
  with_file.push_back(path);
  expect_error([&] { SafetensorsFile::open(path); }, with_file);
  expect_error([&] { SafetensorsFile::open(path, SafetensorsFile::Mode::kHeaderOnly); }, with_file);
}

TEST(SafetensorsReaderCorrupt, TruncatedBeforeHeaderLength) {
  expect_corrupt(std::string("\x10\x00\x00", 3), {"file is 3 bytes, too short for the 8-byte header length"});
}

TEST(SafetensorsReaderCorrupt, TruncatedInsideHeader) {
  std::string image = safetensors_image(kGoodHeader, 16);
  expect_corrupt(image.substr(0, 40), {"header length", "runs past the end of the 40-byte file"});
}

TEST(SafetensorsReaderCorrupt, TruncatedInsideData) {
  std::string image = safetensors_image(kGoodHeader, 16);
  image.resize(image.size() - 3);  // "b" now ends past the data section
  expect_corrupt(image, {"tensor 'b'", "data_offsets [12, 16] lie outside the data section of 13 bytes"});
}

TEST(SafetensorsReaderCorrupt, HeaderLengthTooLarge) {
  std::string image(8, '\0');
  uint64_t n = 1ull << 40;
  for (int b = 0; b < 8; ++b) image[b] = static_cast<char>((n >> (8 * b)) & 0xFF);
  image += "{}";
  expect_corrupt(image, {"header length 1099511627776 exceeds the limit of 100000000 bytes"});
}

TEST(SafetensorsReaderCorrupt, ZeroHeaderLength) {
  expect_corrupt(safetensors_image("", 4), {"header length is 0"});
}

TEST(SafetensorsReaderCorrupt, BadJson) {
  expect_corrupt(safetensors_image(R"({"a":{"dtype":"BF16",)", 0), {"header is not valid JSON"});
}

TEST(SafetensorsReaderCorrupt, NonObjectHeader) {
  expect_corrupt(safetensors_image("[1, 2, 3]", 0), {"header is a JSON array, expected an object"});
}

TEST(SafetensorsReaderCorrupt, DeeplyNestedHeader) {
  expect_corrupt(safetensors_image(std::string(5000, '[') + std::string(5000, ']'), 0), {"nested deeper than 16"});
}

TEST(SafetensorsReaderCorrupt, UnknownDtype) {
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", 1),
                 {"tensor 'w'", "unknown dtype 'F4'"});
}

TEST(SafetensorsReaderCorrupt, WrongByteLength) {
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,10]}})", 10),
                 {"tensor 'w'", "hold 10 bytes, but BF16 [2, 3] needs 12"});
}

TEST(SafetensorsReaderCorrupt, OverlappingOffsets) {
  expect_corrupt(safetensors_image(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                                   12),
                 {"tensors 'a' [0, 8) and 'b' [4, 12) overlap"});
}

TEST(SafetensorsReaderCorrupt, OutOfRangeOffsets) {
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[100,108]}})", 8),
                 {"tensor 'w'", "data_offsets [100, 108] lie outside the data section of 8 bytes"});
}

TEST(SafetensorsReaderCorrupt, BeginAfterEnd) {
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[6,2]}})", 8),
                 {"tensor 'w'", "data_offsets [6, 2] has begin after end"});
}

TEST(SafetensorsReaderCorrupt, NegativeOrFractionalShape) {
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,0]}})", 0),
                 {"tensor 'w'", "shape[0] is -2, expected a non-negative integer"});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[2.5],"data_offsets":[0,0]}})", 0),
                 {"tensor 'w'", "shape[0] is 2.5"});
}

TEST(SafetensorsReaderCorrupt, ShapeProductOverflows) {
  expect_corrupt(
      safetensors_image(
          R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
      {"tensor 'w'", "has more bytes than fit in 63 bits"});
}

TEST(SafetensorsReaderCorrupt, MissingAndMistypedFields) {
  expect_corrupt(safetensors_image(R"({"w":{"shape":[1],"data_offsets":[0,1]}})", 1), {"tensor 'w'", "missing \"dtype\""});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", 1), {"tensor 'w'", "missing \"shape\""});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[1]}})", 1), {"tensor 'w'", "missing \"data_offsets\""});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", 1),
                 {"tensor 'w'", "\"dtype\" is a JSON number, expected a string"});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":"1","data_offsets":[0,1]}})", 1),
                 {"tensor 'w'", "\"shape\" is a JSON string, expected an array"});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1),
                 {"tensor 'w'", "expected an array [begin, end]"});
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,-1]}})", 1),
                 {"tensor 'w'", "must hold two non-negative integers"});
  expect_corrupt(safetensors_image(R"({"w":[1,2]})", 1), {"tensor 'w'", "entry is a JSON array, expected an object"});
}

TEST(SafetensorsReaderCorrupt, BadMetadata) {
  expect_corrupt(safetensors_image(R"({"__metadata__":{"format":1}})", 0),
                 {"\"__metadata__\" key 'format' is a JSON number, expected a string"});
  expect_corrupt(safetensors_image(R"({"__metadata__":"pt"})", 0),
                 {"\"__metadata__\" is a JSON string, expected an object of strings"});
}

TEST(SafetensorsReaderCorrupt, DuplicateTensorName) {
  expect_corrupt(safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                   R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                   2),
                 {"tensor 'w' appears twice in the header"});
}

TEST(SafetensorsReaderCorrupt, MissingFile) {
  TempDir dir;
  expect_error([&] { SafetensorsFile::open(dir.file("nope.safetensors")); }, {"nope.safetensors", "cannot open"});
}

TEST(SafetensorsReader, ParseImageMatchesFileParser) {
  std::string image = safetensors_image(kGoodHeader, 16);
  auto header = parse_safetensors_image({reinterpret_cast<const uint8_t*>(image.data()), image.size()}, "mem");
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.tensors[0].name, "a");  // sorted by offset
  EXPECT_EQ(header.tensors[1].data_begin, 12u);
  EXPECT_EQ(header.data_bytes, 16u);
  EXPECT_EQ(header.header_bytes, kGoodHeader.size());
}

}  // namespace
}  // namespace fp4::io
