// Hugging Face folders: one file or shards + index, and the errors when index and shards disagree.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "fp4/io/hf_checkpoint.h"
#include "unit/io/io_test_util.h"

namespace fp4::io {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::safetensors_image;
using test::TempDir;
using test::write_bytes;

std::string u8_header(const std::vector<std::string>& names) {
  // Each tensor U8 [4] back to back.
  std::string h = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    h += fmt::format(R"({}"{}":{{"dtype":"U8","shape":[4],"data_offsets":[{},{}]}})", i ? "," : "", names[i], 4 * i,
                     4 * i + 4);
  }
  h += "}";
  return h;
}

void write_shard(const TempDir& dir, const std::string& file, const std::vector<std::string>& names) {
  write_bytes(dir.file(file), safetensors_image(u8_header(names), 4 * names.size()));
}

void write_index(const TempDir& dir, const std::string& weight_map_json) {
  write_bytes(dir.file("model.safetensors.index.json"),
              R"({"metadata":{"total_size":0},"weight_map":)" + weight_map_json + "}");
}

TEST(HfCheckpoint, SingleFile) {
  TempDir dir;
  write_shard(dir, "model.safetensors", {"a", "b"});
  auto ckpt = HfCheckpoint::open(dir.path());
  EXPECT_EQ(ckpt.tensor_count(), 2u);
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ckpt.tensor_bytes(), 8u);
  EXPECT_TRUE(ckpt.contains("b"));
  EXPECT_EQ(ckpt.view("b").data[0], 4);  // byte 4 of the data section
  expect_error([&] { ckpt.view("c"); }, {"checkpoint", "no tensor 'c'"});
  // A direct file path works too.
  EXPECT_EQ(HfCheckpoint::open(dir.file("model.safetensors")).tensor_count(), 2u);
}

TEST(HfCheckpoint, ShardsWithIndex) {
  TempDir dir;
  write_shard(dir, "model-00001-of-00002.safetensors", {"a", "b"});
  write_shard(dir, "model-00002-of-00002.safetensors", {"c"});
  write_index(dir, R"({"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
                   R"("c":"model-00002-of-00002.safetensors"})");
  auto ckpt = HfCheckpoint::open(dir.path());
  EXPECT_EQ(ckpt.tensor_count(), 3u);
  EXPECT_EQ(ckpt.files().size(), 2u);
  EXPECT_EQ(ckpt.view("c").data[3], 3);
  int visited = 0;
  ckpt.for_each([&](const TensorView& v) { visited += static_cast<int>(v.nbytes()); });
  EXPECT_EQ(visited, 12);
  auto headers_only = HfCheckpoint::open(dir.path(), HfCheckpoint::Mode::kHeaderOnly);
  EXPECT_EQ(headers_only.view("c").data, nullptr);
  EXPECT_EQ(headers_only.file_bytes(), ckpt.file_bytes());
}

TEST(HfCheckpoint, MissingShard) {
  TempDir dir;
  write_shard(dir, "model-00001-of-00002.safetensors", {"a"});
  write_index(dir, R"({"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"})");
  expect_error([&] { HfCheckpoint::open(dir.path()); },
               {"shard model-00002-of-00002.safetensors is missing", "maps tensor 'c' to it"});
}

TEST(HfCheckpoint, IndexNamesATensorTheShardLacks) {
  TempDir dir;
  write_shard(dir, "model-00001-of-00001.safetensors", {"a"});
  write_index(dir, R"({"a":"model-00001-of-00001.safetensors","ghost":"model-00001-of-00001.safetensors"})");
  expect_error([&] { HfCheckpoint::open(dir.path()); },
               {"maps tensor 'ghost' to model-00001-of-00001.safetensors, which does not contain it"});
}

TEST(HfCheckpoint, DuplicateTensorAcrossShards) {
  TempDir dir;
  write_shard(dir, "s1.safetensors", {"a", "dup"});
  write_shard(dir, "s2.safetensors", {"dup"});
  write_index(dir, R"({"a":"s1.safetensors","dup":"s2.safetensors"})");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"tensor 'dup' appears in both", "s1.safetensors",
                                                          "s2.safetensors"});
}

TEST(HfCheckpoint, TensorNotListedInIndex) {
  TempDir dir;
  write_shard(dir, "s1.safetensors", {"a", "stray"});
  write_index(dir, R"({"a":"s1.safetensors"})");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"tensor 'stray'", "is not listed in model.safetensors.index.json"});
}

TEST(HfCheckpoint, BadIndex) {
  TempDir dir;
  write_bytes(dir.file("model.safetensors.index.json"), "{\"weight_map\": ");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"model.safetensors.index.json", "not valid JSON"});
  write_bytes(dir.file("model.safetensors.index.json"), R"({"metadata":{}})");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"missing \"weight_map\""});
  write_index(dir, R"({"a": 3})");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"weight_map entry 'a' is a number, expected a file name"});
  write_index(dir, R"({"a": "../outside.safetensors"})");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"names '../outside.safetensors'", "not a file inside"});
  write_index(dir, R"({})");
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"\"weight_map\" is empty"});
}

TEST(HfCheckpoint, NoWeights) {
  TempDir dir;
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"no model.safetensors or model.safetensors.index.json"});
  write_shard(dir, "model-00001-of-00002.safetensors", {"a"});
  expect_error([&] { HfCheckpoint::open(dir.path()); },
               {"1 .safetensors file(s)", "but no model.safetensors.index.json"});
  expect_error([&] { HfCheckpoint::open(dir.file("absent")); }, {"no such file or folder"});
}

TEST(HfCheckpoint, CorruptShardIsNamed) {
  TempDir dir;
  write_bytes(dir.file("model.safetensors"), safetensors_image("not json", 0));
  expect_error([&] { HfCheckpoint::open(dir.path()); }, {"model.safetensors", "header is not valid JSON"});
}

}  // namespace
}  // namespace fp4::io
