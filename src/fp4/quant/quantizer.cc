#include "fp4/quant/quantizer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/base/thread_pool.h"
#include "fp4/quant/plan.h"

namespace fp4::quant {
namespace {

namespace fs = std::filesystem;

// Rows processed at a time: one FP8 block row, so FP8 input dequantizes and FP8 output encodes per band.
constexpr int64_t kBandRows = kFp8BlockEdge;

// Bytes of working memory the run holds, checked against --max-memory whenever it grows.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  // Reserves the working set of converting `what`; throws when it would exceed the limit.
  void require(uint64_t bytes, const std::string& what) {
    if (limit_ != 0 && bytes > limit_) {
      fail("--max-memory {} bytes is too small: converting '{}' needs {} bytes of working memory", limit_, what,
           bytes);
    }
    peak_ = std::max(peak_, bytes);
  }
  uint64_t peak() const { return peak_; }

 private:
  uint64_t limit_;
  uint64_t peak_ = 0;
};

// Gives back the resident pages of a mapped input range once it has been converted, so a run over a
// checkpoint far larger than RAM keeps its resident set near the working memory.
void release_input_pages(const uint8_t* data, uint64_t bytes) {
  if (data == nullptr || bytes == 0) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Reads rows [r0, r0 + rows) of a linear's weight as f32 (band: [rows, cols]).
class WeightReader {
 public:
  WeightReader(const io::HfCheckpoint& ckpt, const LinearSource& src)
      : src_(src), weight_(ckpt.view(src.module + ".weight")) {
    if (src.encoding == SourceEncoding::kFP8Block) scale_inv_ = ckpt.view(src.module + ".weight_scale_inv");
  }

  void read(int64_t r0, int64_t rows, float* band) const {
    const int64_t cols = src_.cols;
    const int64_t count = rows * cols;
    if (count == 0) return;
    switch (src_.encoding) {
      case SourceEncoding::kBF16: {
        const uint16_t* p = weight_.as<uint16_t>(DType::kBF16) + r0 * cols;
        for (int64_t i = 0; i < count; ++i) band[i] = bf16_to_f32(p[i]);
        break;
      }
      case SourceEncoding::kF16: {
        const uint16_t* p = weight_.as<uint16_t>(DType::kF16) + r0 * cols;
        for (int64_t i = 0; i < count; ++i) band[i] = f16_to_f32(p[i]);
        break;
      }
      case SourceEncoding::kF32:
        std::memcpy(band, weight_.as<float>(DType::kF32) + r0 * cols, static_cast<size_t>(count) * sizeof(float));
        break;
      case SourceEncoding::kFP8Block: {
        // DeepSeek's weight_dequant: f32(code)·scale_inv in f32, stored as BF16 (the default dtype of
        // ModelOpt's DeepSeek converter), so the values quantized are exactly those BF16 numbers.
        const uint8_t* codes = weight_.as<uint8_t>(DType::kF8_E4M3) + r0 * cols;
        const float* scales = scale_inv_.as<float>(DType::kF32) + (r0 / kFp8BlockEdge) * scale_inv_.dim(1);
        fp8_block_decode_band(codes, scales, rows, cols, band);
        for (int64_t i = 0; i < count; ++i) band[i] = bf16_to_f32(f32_to_bf16(band[i]));
        break;
      }
    }
    // The band is in `band` now; its mapped pages can go (they stay in the page cache for a second pass).
    const uint64_t element = weight_.nbytes() / static_cast<uint64_t>(weight_.numel());
    release_input_pages(weight_.data + static_cast<uint64_t>(r0 * cols) * element,
                        static_cast<uint64_t>(count) * element);
  }

  void release() const {
    release_input_pages(weight_.data, weight_.nbytes());
    if (scale_inv_.info != nullptr) release_input_pages(scale_inv_.data, scale_inv_.nbytes());
  }

 private:
  LinearSource src_;
  io::TensorView weight_;
  io::TensorView scale_inv_;
};

// Σw², Σ(w−ŵ)² and max |w−ŵ| over a tensor, fed band by band.
struct ErrorAccumulator {
  double signal = 0.0;
  double noise = 0.0;
  double max_abs = 0.0;
  void add(const float* ref, const float* approx, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      const double e = static_cast<double>(ref[i]) - static_cast<double>(approx[i]);
      signal += static_cast<double>(ref[i]) * ref[i];
      noise += e * e;
      max_abs = std::max(max_abs, std::fabs(e));
    }
  }
  TensorError result(const std::string& name) const {
    const double snr = noise == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise);
    return {name, snr, max_abs};
  }
};

class Converter {
 public:
  Converter(const io::HfCheckpoint& ckpt, const Plan& plan, const QuantizeOptions& options, io::SafetensorsWriter& out)
      : ckpt_(ckpt), plan_(plan), options_(options), out_(out), budget_(options.max_memory_bytes) {}

  void run(QuantizeSummary& summary) {
    uint64_t total = 0, done = 0;
    for (const auto& item : plan_.items) total += input_bytes(item);
    for (const auto& item : plan_.items) {
      switch (item.action) {
        case Action::kCopy: copy(item.name); break;
        case Action::kFp8ToBf16: to_bf16(item.linear); break;
        case Action::kNvfp4: summary.errors.push_back(nvfp4(item)); break;
        case Action::kFp8Block: summary.errors.push_back(fp8_block(item.linear)); break;
      }
      done += input_bytes(item);
      if (options_.on_progress) options_.on_progress(done, total, item.name);
    }
    summary.peak_working_bytes = budget_.peak();
  }

 private:
  // Bytes of the input an item reads (the weight; block scales are negligible), the progress measure.
  uint64_t input_bytes(const PlannedItem& item) const {
    if (item.action == Action::kCopy) return ckpt_.view(item.name).nbytes();
    const LinearSource& src = item.linear;
    const uint64_t elements = static_cast<uint64_t>(src.rows) * static_cast<uint64_t>(src.cols);
    switch (src.encoding) {
      case SourceEncoding::kFP8Block: return elements;
      case SourceEncoding::kF32: return elements * 4;
      case SourceEncoding::kBF16:
      case SourceEncoding::kF16: return elements * 2;
    }
    return elements * 2;
  }

  uint64_t band_floats(const LinearSource& src) const {
    return static_cast<uint64_t>(std::min(kBandRows, src.rows)) * static_cast<uint64_t>(src.cols);
  }

  // Copies in pieces, dropping each piece's mapped pages once written, so even an embedding larger than
  // --max-memory never becomes resident as a whole.
  void copy(const std::string& name) {
    constexpr uint64_t kPiece = 64ull << 20;
    const io::TensorView v = ckpt_.view(name);
    const uint64_t total = v.nbytes();
    if (total == 0) out_.write(name, {});
    for (uint64_t at = 0; at < total; at += kPiece) {
      const uint64_t n = std::min(kPiece, total - at);
      out_.append(name, {v.data + at, static_cast<size_t>(n)});
      release_input_pages(v.data + at, n);
    }
  }

  void to_bf16(const LinearSource& src) {
    const uint64_t band = band_floats(src);
    budget_.require(band * (sizeof(float) + sizeof(uint16_t)), src.module + ".weight");
    WeightReader reader(ckpt_, src);
    std::vector<float> values(band);
    std::vector<uint16_t> bf16(band);
    for (int64_t r0 = 0; r0 < src.rows; r0 += kBandRows) {
      const int64_t rows = std::min(kBandRows, src.rows - r0);
      reader.read(r0, rows, values.data());
      for (int64_t i = 0; i < rows * src.cols; ++i) bf16[i] = f32_to_bf16(values[i]);
      out_.append(src.module + ".weight", {reinterpret_cast<const uint8_t*>(bf16.data()),
                                           static_cast<size_t>(rows * src.cols) * sizeof(uint16_t)});
    }
    reader.release();
  }

  // Max |w| of a linear as quantized (FP8 input: of its BF16 dequantization); cached for fused groups.
  float amax_of(const std::string& module) {
    if (auto it = amax_.find(module); it != amax_.end()) return it->second;
    const LinearSource& src = plan_.linears.at(module);
    budget_.require(band_floats(src) * sizeof(float), module + ".weight");
    WeightReader reader(ckpt_, src);
    std::vector<float> band(band_floats(src));
    float amax = 0.0f;
    for (int64_t r0 = 0; r0 < src.rows; r0 += kBandRows) {
      const int64_t rows = std::min(kBandRows, src.rows - r0);
      reader.read(r0, rows, band.data());
      amax = std::max(amax, abs_max({band.data(), static_cast<size_t>(rows * src.cols)}));
    }
    FP4_CHECK(std::isfinite(amax), "checkpoint {}: '{}.weight' holds NaN or infinity", ckpt_.dir(), module);
    return amax_[module] = amax;
  }

  TensorError nvfp4(const PlannedItem& item) {
    const LinearSource& src = item.linear;
    const int64_t cols = src.cols;
    const uint64_t band = band_floats(src);
    // f32 band + its decode + packed codes + block scales.
    budget_.require(band * (2 * sizeof(float)) + band / 2 + band / kNvfp4Group, src.module + ".weight");
    float group_amax = 0.0f;
    for (const auto& member : item.fused_group) group_amax = std::max(group_amax, amax_of(member));
    const float scale_2 = nvfp4_global_scale(group_amax, options_.global_scale_arith);
    // ModelOpt: input_scale = activation amax / (6 · 448); fused members see the same input, so the
    // group shares one (the largest) amax.
    float act_amax = 0.0f;
    for (const auto& member : item.fused_group) {
      const auto it = options_.input_amax.find(member);
      if (it != options_.input_amax.end()) act_amax = std::max(act_amax, it->second);
    }
    if (!(act_amax > 0.0f)) act_amax = options_.default_input_amax;
    const float input_scale = act_amax / (kE2M1Max * kE4M3Max);

    WeightReader reader(ckpt_, src);
    std::vector<float> values(band), decoded(band);
    std::vector<uint8_t> packed(band / 2), scales(band / kNvfp4Group);
    ErrorAccumulator err;
    ThreadPool& pool = ThreadPool::global();
    for (int64_t r0 = 0; r0 < src.rows; r0 += kBandRows) {
      const int64_t rows = std::min(kBandRows, src.rows - r0);
      reader.read(r0, rows, values.data());
      // Rows are independent: split the band's rows across the pool.
      const int64_t tasks = std::min<int64_t>(rows, pool.size() * 4);
      pool.parallel_for(tasks, [&](int64_t t, int) {
        const int64_t a = rows * t / tasks, b = rows * (t + 1) / tasks;
        nvfp4_encode_rows(values.data() + a * cols, b - a, cols, scale_2, options_.scale_cast,
                          packed.data() + a * (cols / 2), scales.data() + a * (cols / kNvfp4Group));
        nvfp4_decode_rows(packed.data() + a * (cols / 2), scales.data() + a * (cols / kNvfp4Group), scale_2, b - a,
                          cols, decoded.data() + a * cols);
      });
      err.add(values.data(), decoded.data(), rows * cols);
      out_.append(src.module + ".weight", {packed.data(), static_cast<size_t>(rows * cols / 2)});
      out_.append(src.module + ".weight_scale", {scales.data(), static_cast<size_t>(rows * cols / kNvfp4Group)});
    }
    reader.release();
    out_.write(src.module + ".weight_scale_2", {reinterpret_cast<const uint8_t*>(&scale_2), sizeof(float)});
    out_.write(src.module + ".input_scale", {reinterpret_cast<const uint8_t*>(&input_scale), sizeof(float)});
    return err.result(src.module + ".weight");
  }

  TensorError fp8_block(const LinearSource& src) {
    const int64_t cols = src.cols;
    const int64_t col_blocks = (cols + kFp8BlockEdge - 1) / kFp8BlockEdge;
    const uint64_t band = band_floats(src);
    budget_.require(band * (2 * sizeof(float) + 1) + col_blocks * sizeof(float), src.module + ".weight");
    WeightReader reader(ckpt_, src);
    std::vector<float> values(band), decoded(band), scale_inv(col_blocks);
    std::vector<uint8_t> codes(band);
    ErrorAccumulator err;
    for (int64_t r0 = 0; r0 < src.rows; r0 += kBandRows) {
      const int64_t rows = std::min(kBandRows, src.rows - r0);
      reader.read(r0, rows, values.data());
      fp8_block_encode_band(values.data(), rows, cols, codes.data(), scale_inv.data());
      fp8_block_decode_band(codes.data(), scale_inv.data(), rows, cols, decoded.data());
      err.add(values.data(), decoded.data(), rows * cols);
      out_.append(src.module + ".weight", {codes.data(), static_cast<size_t>(rows * cols)});
      out_.append(src.module + ".weight_scale_inv", {reinterpret_cast<const uint8_t*>(scale_inv.data()),
                                                     static_cast<size_t>(col_blocks) * sizeof(float)});
    }
    reader.release();
    return err.result(src.module + ".weight");
  }

  const io::HfCheckpoint& ckpt_;
  const Plan& plan_;
  const QuantizeOptions& options_;
  io::SafetensorsWriter& out_;
  MemoryBudget budget_;
  std::map<std::string, float> amax_;
};

uint64_t output_bytes(const io::TensorSpec& spec) { return spec.nbytes(); }

}  // namespace

uint64_t parse_byte_size(const std::string& text) {
  size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    fail("size '{}': expected a number with an optional K, M, G or T suffix (e.g. 4G)", text);
  }
  const std::string suffix = text.substr(used);
  double unit = 1.0;
  if (suffix == "K" || suffix == "KiB" || suffix == "k") unit = 1024.0;
  else if (suffix == "M" || suffix == "MiB") unit = 1024.0 * 1024.0;
  else if (suffix == "G" || suffix == "GiB") unit = 1024.0 * 1024.0 * 1024.0;
  else if (suffix == "T" || suffix == "TiB") unit = 1024.0 * 1024.0 * 1024.0 * 1024.0;
  else FP4_CHECK(suffix.empty(), "size '{}': unknown unit '{}' (expected K, M, G or T)", text, suffix);
  FP4_CHECK(value > 0.0 && std::isfinite(value), "size '{}': must be positive", text);
  return static_cast<uint64_t>(value * unit);
}

QuantizeSummary quantize_checkpoint(const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  const fs::path out_path = fs::absolute(options.output_dir);
  FP4_CHECK(!options.output_dir.empty(), "quantize: no output folder given");
  FP4_CHECK(!fs::exists(out_path, ec), "quantize: output {} already exists; remove it or pick another name",
            options.output_dir);
  FP4_CHECK(fs::is_directory(out_path.parent_path(), ec), "quantize: the folder {} for the output does not exist",
            out_path.parent_path().string());

  const io::HfCheckpoint ckpt = io::HfCheckpoint::open(options.input_dir, io::HfCheckpoint::Mode::kMapped);
  const Plan plan = make_plan(ckpt, options);

  QuantizeSummary summary;
  summary.quantized_modules = plan.quantized;
  summary.exclude_modules = plan.exclude_modules;
  ckpt.for_each([&](const io::TensorView& v) {
    summary.bytes_before[std::string(module_class(v.name(), plan.config.num_hidden_layers))] += v.nbytes();
    summary.total_before += v.nbytes();
  });
  for (const auto& spec : plan.outputs) {
    summary.bytes_after[std::string(module_class(spec.name, plan.config.num_hidden_layers))] += output_bytes(spec);
    summary.total_after += output_bytes(spec);
  }

  const fs::path tmp =
      out_path.parent_path() / fmt::format(".{}.partial-{}", out_path.filename().string(), static_cast<long>(getpid()));
  fs::remove_all(tmp, ec);
  FP4_CHECK(fs::create_directory(tmp, ec), "quantize: cannot create {}: {}", tmp.string(), ec.message());
  try {
    {
      io::SafetensorsWriterOptions writer_options;
      writer_options.max_shard_bytes = options.max_shard_bytes;
      io::SafetensorsWriter writer(tmp.string(), plan.outputs, writer_options);
      Converter(ckpt, plan, options, writer).run(summary);
      writer.finish();
    }
    write_metadata_files(plan, options, tmp.string());
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_report(plan, options, summary, tmp.string());
    fs::rename(tmp, out_path, ec);
    FP4_CHECK(!ec, "quantize: cannot rename {} to {}: {}", tmp.string(), out_path.string(), ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return summary;
}

}  // namespace fp4::quant
