// The streaming writer: declared tensors land at planned offsets, shards roll over by size, the index
// names every tensor, chunked appends assemble a tensor, and misuse is refused without leaving files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/safetensors.h"
#include "unit/io/io_test_util.h"

namespace fp4::io {
namespace {

namespace fs = std::filesystem;
using test::as_bytes;
using test::expect_error;
using test::TempDir;

std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

TEST(SafetensorsWriter, SingleFileRoundTrip) {
  TempDir dir;
  std::vector<float> scale = {0.5f};
  std::vector<uint16_t> bf16 = {1, 2, 3, 4, 5, 6};
  write_safetensors_file(dir.file("model.safetensors"),
                         {{{"w", DType::kU8, {3, 5}}, pattern_bytes(15, 1)},
                          {{"s", DType::kF32, {}}, as_bytes(scale)},
                          {{"b", DType::kBF16, {2, 3}}, as_bytes(bf16)}},
                         {{"format", "pt"}, {"producer", "fp4serve"}});
  auto file = SafetensorsFile::open(dir.file("model.safetensors"));
  EXPECT_EQ(file->metadata().at("producer"), "fp4serve");
  TensorView w = file->view("w");
  EXPECT_EQ(std::vector<uint8_t>(w.data, w.data + w.nbytes()), pattern_bytes(15, 1));
  EXPECT_EQ(*file->view("s").as<float>(DType::kF32), 0.5f);
  EXPECT_EQ(file->view("b").as<uint16_t>(DType::kBF16)[5], 6);
  // Widest elements first and an 8-aligned data section: every tensor sits on its natural alignment.
  EXPECT_EQ((8 + file->header().header_bytes) % 8, 0u);
  for (const auto& t : file->tensors()) EXPECT_EQ(t.data_begin % dtype_size(t.dtype), 0u) << t.name;
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors.partial")));
}

TEST(SafetensorsWriter, ShardsRollOverBySizeAndWriteAnIndex) {
  TempDir dir;
  // 5 tensors of 400 bytes with a 1000-byte shard limit: shards of 2, 2 and 1 tensors.
  std::vector<TensorSpec> specs;
  for (int i = 0; i < 5; ++i) specs.push_back({"t" + std::to_string(i), DType::kF32, {10, 10}});
  SafetensorsWriterOptions options;
  options.max_shard_bytes = 1000;
  SafetensorsWriter writer(dir.path(), specs, options);
  EXPECT_EQ(writer.shard_count(), 3u);
  // Written in reverse order to show that order does not matter.
  for (int i = 4; i >= 0; --i) writer.write("t" + std::to_string(i), pattern_bytes(400, static_cast<uint8_t>(i)));
  auto names = writer.finish();
  EXPECT_EQ(names, (std::vector<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                             "model-00003-of-00003.safetensors"}));
  std::ifstream index_file(dir.file("model.safetensors.index.json"));
  auto index = nlohmann::json::parse(index_file);
  EXPECT_EQ(index["metadata"]["total_size"], 2000);
  EXPECT_EQ(index["weight_map"]["t0"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t3"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00003.safetensors");

  auto ckpt = HfCheckpoint::open(dir.path());
  EXPECT_EQ(ckpt.tensor_count(), 5u);
  EXPECT_EQ(ckpt.files().size(), 3u);
  for (int i = 0; i < 5; ++i) {
    TensorView v = ckpt.view("t" + std::to_string(i));
    EXPECT_EQ(std::vector<uint8_t>(v.data, v.data + v.nbytes()), pattern_bytes(400, static_cast<uint8_t>(i)));
  }
}

TEST(SafetensorsWriter, TensorLargerThanTheLimitGetsItsOwnShard) {
  TempDir dir;
  SafetensorsWriterOptions options;
  options.max_shard_bytes = 100;
  SafetensorsWriter writer(dir.path(), {{"small", DType::kU8, {10}}, {"big", DType::kU8, {500}}, {"tail", DType::kU8, {10}}},
                           options);
  EXPECT_EQ(writer.shard_count(), 3u);
  writer.write("small", pattern_bytes(10, 0));
  writer.write("big", pattern_bytes(500, 1));
  writer.write("tail", pattern_bytes(10, 2));
  writer.finish();
  EXPECT_EQ(HfCheckpoint::open(dir.path()).view("big").nbytes(), 500u);
}

TEST(SafetensorsWriter, ChunkedAppendsAssembleATensor) {
  TempDir dir;
  SafetensorsWriter writer(dir.path(), {{"w", DType::kU8, {4, 256}}});
  auto all = pattern_bytes(1024, 9);
  for (size_t row = 0; row < 4; ++row) writer.append("w", std::span<const uint8_t>(all).subspan(row * 256, 256));
  writer.finish();
  auto ckpt = HfCheckpoint::open(dir.path());  // views borrow from the checkpoint: keep it alive
  TensorView v = ckpt.view("w");
  EXPECT_EQ(std::vector<uint8_t>(v.data, v.data + v.nbytes()), all);
}

TEST(SafetensorsWriter, MisuseIsRefused) {
  TempDir dir;
  expect_error([&] { SafetensorsWriter(dir.path(), {{"a", DType::kU8, {1}}, {"a", DType::kU8, {1}}}); },
               {"tensor 'a' declared twice"});
  expect_error([&] { SafetensorsWriter(dir.path(), {{"__metadata__", DType::kU8, {1}}}); },
               {"invalid tensor name '__metadata__'"});
  expect_error([&] { SafetensorsWriter(dir.path(), {{"neg", DType::kU8, {-1}}}); }, {"tensor 'neg'", "negative dimension"});

  SafetensorsWriter writer(dir.path(), {{"a", DType::kU8, {4}}, {"b", DType::kU8, {4}}});
  expect_error([&] { writer.write("zz", pattern_bytes(4, 0)); }, {"tensor 'zz' was not declared"});
  expect_error([&] { writer.write("a", pattern_bytes(3, 0)); }, {"tensor 'a' got 3 bytes, declared 4"});
  writer.write("a", pattern_bytes(4, 0));
  expect_error([&] { writer.write("a", pattern_bytes(4, 0)); }, {"tensor 'a' written twice"});
  writer.append("b", pattern_bytes(2, 0));
  expect_error([&] { writer.append("b", pattern_bytes(3, 0)); }, {"tensor 'b' overflows"});
  expect_error([&] { writer.finish(); }, {"tensor 'b' has 2 of its 4 bytes written"});
}

TEST(SafetensorsWriter, UnfinishedWriterLeavesNoFiles) {
  TempDir dir;
  {
    SafetensorsWriter writer(dir.path(), {{"a", DType::kU8, {4}}});
    writer.write("a", pattern_bytes(4, 0));
    EXPECT_TRUE(fs::exists(dir.file("model.safetensors.partial")));
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(SafetensorsWriter, UnwritableFolderIsReported) {
  expect_error([&] { SafetensorsWriter("/nonexistent-folder/x", {{"a", DType::kU8, {4}}}); },
               {"/nonexistent-folder/x/model.safetensors.partial", "cannot create"});
}

// When FP4_IO_EXPORT_DIR is set (tests/python/test_io_writer.py sets it), the same deterministic
// checkpoint is also written there so the Python `safetensors` library can read what we write.
// The checks below run either way.
TEST(SafetensorsWriter, ExportsAShardedCheckpointForThePythonReader) {
  TempDir scratch;
  const char* env = std::getenv("FP4_IO_EXPORT_DIR");
  std::string out = env != nullptr && *env != '\0' ? std::string(env) : scratch.path();
  // Values the Python test recomputes: f32 t[i] = i * 0.25 - 3; bf16 bits 0x3F80 + i; u8 (i*7+3) & 255.
  std::vector<float> f32(6 * 5);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(i) * 0.25f - 3.0f;
  std::vector<uint16_t> bf16(4 * 8);
  for (size_t i = 0; i < bf16.size(); ++i) bf16[i] = static_cast<uint16_t>(0x3F80 + i);
  std::vector<uint8_t> u8(3 * 16);
  for (size_t i = 0; i < u8.size(); ++i) u8[i] = static_cast<uint8_t>((i * 7 + 3) & 255);
  std::vector<float> scalar = {448.0f};
  std::vector<uint8_t> e4m3(3 * 2, 0x38);  // 1.0 in float8_e4m3fn

  SafetensorsWriterOptions options;
  options.max_shard_bytes = 128;  // forces several shards
  SafetensorsWriter writer(out,
                           {{"layer.f32", DType::kF32, {6, 5}},
                            {"layer.bf16", DType::kBF16, {4, 8}},
                            {"layer.packed.weight", DType::kU8, {3, 16}},
                            {"layer.packed.weight_scale", DType::kF8_E4M3, {3, 2}},
                            {"layer.packed.weight_scale_2", DType::kF32, {}}},
                           options);
  writer.write("layer.f32", as_bytes(f32));
  writer.write("layer.bf16", as_bytes(bf16));
  writer.write("layer.packed.weight", u8);
  writer.write("layer.packed.weight_scale", e4m3);
  writer.write("layer.packed.weight_scale_2", as_bytes(scalar));
  auto names = writer.finish();
  EXPECT_GT(names.size(), 1u);
  auto ckpt = HfCheckpoint::open(out);
  EXPECT_EQ(ckpt.tensor_count(), 5u);
  EXPECT_EQ(ckpt.view("layer.f32").as<float>(DType::kF32)[29], 29 * 0.25f - 3.0f);
  EXPECT_EQ(*ckpt.view("layer.packed.weight_scale_2").as<float>(DType::kF32), 448.0f);
}

}  // namespace
}  // namespace fp4::io
