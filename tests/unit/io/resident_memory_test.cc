// Acceptance point 4: resident memory after opening a 1 GB NVFP4 checkpoint stays within 5% of its file
// size. Weights are mapped, never copied or expanded, so even after every byte has been touched the
// process holds about one copy of the file (as shared file pages), not the 4× a BF16 expansion would take.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/quant_config.h"
#include "unit/io/io_test_util.h"

namespace fp4::io {
namespace {

// A field of /proc/self/status in bytes ("VmRSS", "RssFile", "RssAnon").
uint64_t proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      uint64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  ADD_FAILURE() << field << " not found in /proc/self/status";
  return 0;
}

// Writes `bytes` pseudo-random bytes to a tensor in 1 MiB chunks, so the test itself never holds a tensor.
void stream_random(SafetensorsWriter& w, const std::string& name, uint64_t bytes, uint32_t seed) {
  std::vector<uint8_t> chunk(1 << 20);
  uint32_t state = seed * 2654435761u + 1;
  for (uint64_t done = 0; done < bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), bytes - done));
    for (size_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      chunk[i] = static_cast<uint8_t>(state >> 24);
    }
    w.append(name, std::span<const uint8_t>(chunk.data(), n));
    done += n;
  }
}

TEST(ResidentMemory, OneGigabyteNvfp4CheckpointStaysWithinFivePercentOfItsFileSize) {
  test::TempDir dir;
  // 64 NVFP4 linears of [N=4096, K=7168] (an R1 expert is [2048, 7168]):
  // 4096·7168/2 codes + 4096·7168/16 scales = 16,515,072 bytes each → 1,056,964,608 bytes of weights.
  constexpr int kLinears = 64;
  constexpr int64_t kRows = 4096, kCols = 7168;
  std::vector<TensorSpec> specs;
  for (int i = 0; i < kLinears; ++i) {
    std::string m = "model.layers." + std::to_string(i) + ".mlp.down_proj";
    specs.push_back({m + ".weight", DType::kU8, {kRows, kCols / 2}});
    specs.push_back({m + ".weight_scale", DType::kF8_E4M3, {kRows, kCols / 16}});
    specs.push_back({m + ".weight_scale_2", DType::kF32, {}});
    specs.push_back({m + ".input_scale", DType::kF32, {}});
  }
  {
    SafetensorsWriterOptions options;
    options.max_shard_bytes = 400'000'000;  // three shards, as a real checkpoint has several
    SafetensorsWriter writer(dir.path(), specs, options);
    uint32_t seed = 1;
    for (const auto& s : specs) {
      if (s.dtype == DType::kF32) {
        writer.write(s.name, test::as_bytes(std::vector<float>{0.01f}));
      } else {
        stream_random(writer, s.name, s.nbytes(), seed++);
      }
    }
    writer.finish();
  }
  test::write_bytes(dir.file("hf_quant_config.json"),
                    R"({"producer":{"name":"modelopt","version":"0.31.0"},)"
                    R"("quantization":{"quant_algo":"NVFP4","group_size":16,"exclude_modules":["lm_head"]}})");

  const uint64_t rss_before = proc_status_bytes("VmRSS");
  auto ckpt = HfCheckpoint::open(dir.path());
  QuantConfig quant = load_quant_config(dir.path());
  std::vector<WeightView> weights;
  for (int i = 0; i < kLinears; ++i) {
    weights.push_back(bind_linear(ckpt, quant, "model.layers." + std::to_string(i) + ".mlp.down_proj", kRows, kCols));
  }
  const uint64_t file_bytes = ckpt.file_bytes();
  ASSERT_GT(file_bytes, 1'000'000'000u);
  const uint64_t rss_opened = proc_status_bytes("VmRSS");

  // Touch every page of every packed weight and scale, as a full forward pass would.
  uint64_t checksum = 0;
  for (const auto& w : weights) {
    const auto* codes = static_cast<const uint8_t*>(w.data);
    for (int64_t i = 0; i < w.rows * w.cols / 2; i += 4096) checksum += codes[i];
    for (int64_t i = 0; i < w.rows * w.cols / 16; i += 4096) checksum += w.block_scale[i];
  }
  const uint64_t rss_touched = proc_status_bytes("VmRSS");
  const uint64_t rss_file = proc_status_bytes("RssFile");
  std::printf("file %llu bytes; VmRSS before %llu, after open %llu, after touching all %llu (RssFile %llu); checksum %llu\n",
              static_cast<unsigned long long>(file_bytes), static_cast<unsigned long long>(rss_before),
              static_cast<unsigned long long>(rss_opened), static_cast<unsigned long long>(rss_touched),
              static_cast<unsigned long long>(rss_file), static_cast<unsigned long long>(checksum));

  // Opening reads headers and scalars only: far below 1% of the file.
  EXPECT_LT(rss_opened - std::min(rss_opened, rss_before), file_bytes / 100);
  // After touching everything: at most the file itself plus 5%.
  EXPECT_LE(rss_touched - std::min(rss_touched, rss_before), file_bytes + file_bytes / 20);
  // And the pages really are the file's (shared file pages), not an anonymous copy.
  EXPECT_GE(rss_file, file_bytes / 2);
}

}  // namespace
}  // namespace fp4::io
