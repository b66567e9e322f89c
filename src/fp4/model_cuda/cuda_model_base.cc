#include "fp4/model_cuda/cuda_model_base.h"

#include <fmt/format.h>

#include <limits>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/model_ops.h"
#include "fp4/base/error.h"

namespace fp4::model_cuda {

int select_device() {
  FP4_CHECK(cuda::device_count() > 0, "--device cuda: no CUDA GPU is visible to this process (no device or no "
            "driver)");
  constexpr int kDevice = 0;
  cudaDeviceProp prop{};
  cuda::check_cuda(cudaGetDeviceProperties(&prop, kDevice), "cudaGetDeviceProperties");
  FP4_CHECK(prop.major == 9 && prop.minor == 0,
            "--device cuda: GPU 0 is {} (compute capability {}.{}); the CUDA backend is built for Hopper (sm_90a)",
            prop.name, prop.major, prop.minor);
  cuda::check_cuda(cudaSetDevice(kDevice), "cudaSetDevice");
  // Keep freed scratch in the stream-ordered pool: a forward pass allocates the same sizes every step.
  cudaMemPool_t mem_pool = nullptr;
  cuda::check_cuda(cudaDeviceGetDefaultMemPool(&mem_pool, kDevice), "cudaDeviceGetDefaultMemPool");
  uint64_t keep = std::numeric_limits<uint64_t>::max();
  cuda::check_cuda(cudaMemPoolSetAttribute(mem_pool, cudaMemPoolAttrReleaseThreshold, &keep),
                   "cudaMemPoolSetAttribute");
  return kDevice;
}

CudaModelBase::CudaModelBase(io::ModelConfig config, ThreadPool& pool) : Model(std::move(config), pool) {
  device_ = select_device();
  cuda::check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

CudaModelBase::~CudaModelBase() {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  for (float* p : kv_pools_) cudaFree(p);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

uint64_t CudaModelBase::kv_memory_available() const {
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaSetDevice(device_) != cudaSuccess || cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  const uint64_t pools = static_cast<uint64_t>(kv_blocks_) * static_cast<uint64_t>(kv_block_size_) *
                         static_cast<uint64_t>(num_layers()) * static_cast<uint64_t>(kv_row_floats()) * sizeof(float);
  return free_bytes + pools;
}

double CudaModelBase::weight_memory_bandwidth(uint64_t buffer_bytes, int passes) const {
  FP4_CHECK(passes >= 1, "GPU bandwidth probe: passes {} must be at least 1", passes);
  const size_t bytes = buffer_bytes == 0 ? size_t{1} << 30 : static_cast<size_t>(buffer_bytes);
  cuda::check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  void* src = nullptr;
  void* dst = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  auto release = [&] {
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
    cudaFree(src);
    cudaFree(dst);
  };
  try {
    cuda::check_cuda(cudaMalloc(&src, bytes), "GPU bandwidth probe (cudaMalloc)");
    cuda::check_cuda(cudaMalloc(&dst, bytes), "GPU bandwidth probe (cudaMalloc)");
    cuda::check_cuda(cudaEventCreate(&start), "cudaEventCreate");
    cuda::check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
    // Non-zero contents: a copy of zeros can run faster than real data on some parts.
    cuda::check_cuda(cudaMemsetAsync(src, 0x5A, bytes, stream_), "GPU bandwidth probe (memset)");
    cuda::check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "GPU bandwidth probe");
    float best_ms = 0.0f;
    for (int pass = 0; pass < passes; ++pass) {
      cuda::check_cuda(cudaEventRecord(start, stream_), "cudaEventRecord");
      cuda::check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "GPU bandwidth probe");
      cuda::check_cuda(cudaEventRecord(stop, stream_), "cudaEventRecord");
      cuda::check_cuda(cudaEventSynchronize(stop), "GPU bandwidth probe (synchronize)");
      float ms = 0.0f;
      cuda::check_cuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
      if (pass == 0 || ms < best_ms) best_ms = ms;
    }
    release();
    return 2.0 * static_cast<double>(bytes) / (static_cast<double>(best_ms) * 1e-3) / 1e9;
  } catch (...) {
    cudaGetLastError();
    release();
    throw;
  }
}

void CudaModelBase::allocate_kv(int64_t num_blocks, int64_t block_size) {
  FP4_CHECK(num_blocks > 0 && block_size > 0, "GPU KV cache: {} blocks of {} tokens; both must be positive",
            num_blocks, block_size);
  // Expanded MLA gathers cache rows through int32 slot indices.
  FP4_CHECK(num_blocks * block_size <= std::numeric_limits<int32_t>::max(),
            "GPU KV cache: {} blocks of {} tokens exceed the 2^31 slots a layer's pool can address", num_blocks,
            block_size);
  cuda::check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  cuda::check_cuda(cudaStreamSynchronize(stream_), "KV cache allocation (stream synchronize)");
  for (float* p : kv_pools_) cudaFree(p);
  kv_pools_.clear();
  kv_blocks_ = kv_block_size_ = 0;
  const auto bytes = static_cast<size_t>(num_blocks * block_size * kv_row_floats()) * sizeof(float);
  for (int64_t l = 0; l < num_layers(); ++l) {
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) {
      cudaGetLastError();
      for (float* q : kv_pools_) cudaFree(q);
      kv_pools_.clear();
      fail("GPU KV cache: out of device memory for {} blocks of {} tokens ({:.2f} GiB per layer, {} layers): {}",
           num_blocks, block_size, static_cast<double>(bytes) / (1u << 30), num_layers(), cudaGetErrorString(err));
    }
    kv_pools_.push_back(static_cast<float*>(p));
  }
  kv_blocks_ = num_blocks;
  kv_block_size_ = block_size;
}

void CudaModelBase::copy_kv_rows(int32_t src, int32_t dst, int64_t rows) {
  FP4_CHECK(!kv_pools_.empty(), "GPU KV cache: copy_kv_rows before allocate_kv");
  FP4_CHECK(src >= 0 && src < kv_blocks_ && dst >= 0 && dst < kv_blocks_ && rows >= 0 && rows <= kv_block_size_,
            "GPU KV cache: cannot copy {} rows from block {} to block {} ({} blocks of {} tokens)", rows, src, dst,
            kv_blocks_, kv_block_size_);
  cuda::check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  for (float* pool : kv_pools_) {
    cuda::copy_kv_block_rows(pool, kv_row_floats(), kv_block_size_, src, dst, rows, stream_);
  }
  cuda::check_cuda(cudaStreamSynchronize(stream_), "KV block copy");
}

void CudaModelBase::check_options(const model::ForwardOptions& options) const {
  FP4_CHECK(options.dump == nullptr, "--device cuda: the tensor dump hook is a CPU tool; run with --device cpu");
  FP4_CHECK(options.observe_linear_inputs == nullptr,
            "--device cuda: linear-input observers (calibration) run on the CPU model; use --device cpu");
  FP4_CHECK(!options.exact_matmul, "--device cuda: the scalar reference matmul (exact_matmul) is CPU only");
  FP4_CHECK(options.nvfp4_activations == cpu::ActivationPrecision::kF32,
            "--device cuda: int8 NVFP4 activations (W4A8) are a CPU kernel option; the GPU paths take f32 or BF16");
}

Step CudaModelBase::begin_step(std::span<const model::BatchSequence> batch, const model::ForwardOptions& options,
                               const model::Embedding& embed, const RopeFrequencies& rope, int64_t rotary_dim) const {
  Step step;
  step.rows = model::plan_batch(batch, options, vocab_size(), kv_row_floats());
  FP4_CHECK(!kv_pools_.empty(), "--device cuda: the KV cache is not on the device: build it with "
            "runtime::KvCache(model, block_size, blocks) or KvCache::for_model, which call allocate_kv");
  const int64_t N = step.rows.n;
  std::vector<int32_t> tables;
  std::vector<int64_t> slots(static_cast<size_t>(N));
  for (size_t s = 0; s < batch.size(); ++s) {
    const model::KvSequenceView& kv = batch[s].kv;
    FP4_CHECK(kv.block_size == kv_block_size_, "forward: sequence {}'s cache view has blocks of {} tokens, the "
              "device pools were allocated with {}", s, kv.block_size, kv_block_size_);
    const int64_t used = (batch[s].pos0 + static_cast<int64_t>(batch[s].tokens.size()) + kv.block_size - 1) /
                         kv.block_size;  // blocks that positions < pos0 + T touch
    for (int64_t b = 0; b < used; ++b) {
      FP4_CHECK(kv.block_table[b] >= 0 && kv.block_table[b] < kv_blocks_,
                "forward: sequence {}'s block table entry {} is block {}, outside the device pools' {} blocks", s, b,
                kv.block_table[b], kv_blocks_);
    }
    step.table_offset.push_back(static_cast<int64_t>(tables.size()));
    tables.insert(tables.end(), kv.block_table, kv.block_table + used);
    for (int64_t i = step.rows.begin(static_cast<int64_t>(s)); i < step.rows.begin(static_cast<int64_t>(s)) +
                                                                     step.rows.count(static_cast<int64_t>(s));
         ++i) {
      const int64_t pos = step.rows.positions[static_cast<size_t>(i)];
      slots[static_cast<size_t>(i)] = static_cast<int64_t>(kv.block_table[pos / kv.block_size]) * kv.block_size +
                                      pos % kv.block_size;
    }
  }
  if (N == 0) return step;
  cuda::check_cuda(cudaSetDevice(device_), "cudaSetDevice");

  std::vector<float> x(static_cast<size_t>(N * embed.cols));  // [N, hidden]
  model::embed_batch(embed, batch, x.data());
  step.x = to_device<float>(x, stream_);
  const int64_t half = rotary_dim / 2;
  std::vector<float> cos(static_cast<size_t>(N * half)), sin(static_cast<size_t>(N * half));  // [N, half]
  cpu::rope_cos_sin(rope, step.rows.positions.data(), N, cos.data(), sin.data());
  step.cos = to_device<float>(cos, stream_);
  step.sin = to_device<float>(sin, stream_);
  step.slots = to_device<int64_t>(slots, stream_);
  step.tables = to_device<int32_t>(tables, stream_);
  return step;
}

void CudaModelBase::write_kv(const Step& step, int64_t layer, const float* src, int64_t src_stride, int64_t n,
                             int64_t col_offset) const {
  cuda::write_kv_rows(src, src_stride, n, step.slots.get(), step.rows.n, kv_pool(layer), kv_row_floats(), col_offset,
                      stream_);
}

cpu::KvView CudaModelBase::paged_view(const Step& step, int64_t s, int64_t layer, int64_t k_offset,
                                      int64_t v_offset) const {
  const int64_t row = kv_row_floats();
  cpu::KvView view;
  view.k = kv_pool(layer) + k_offset;
  view.v = kv_pool(layer) + v_offset;
  view.k_token_stride = view.v_token_stride = row;
  view.block_table = step.tables.get() + step.table_offset[static_cast<size_t>(s)];
  view.block_size = kv_block_size_;
  view.k_block_stride = view.v_block_stride = kv_block_size_ * row;
  return view;
}

std::vector<int32_t> CudaModelBase::sequence_slots(const model::BatchSequence& seq, int64_t count) const {
  std::vector<int32_t> slots(static_cast<size_t>(count));
  const model::KvSequenceView& kv = seq.kv;
  for (int64_t u = 0; u < count; ++u) {
    slots[static_cast<size_t>(u)] =
        static_cast<int32_t>(static_cast<int64_t>(kv.block_table[u / kv.block_size]) * kv.block_size +
                             u % kv.block_size);
  }
  return slots;
}

void CudaModelBase::finish_logits(const Step& step, std::span<const model::BatchSequence> batch, const float* norm,
                                  float eps, const DeviceLinear& lm_head, float* logits) const {
  const int64_t H = lm_head.in_features();
  const int64_t wanted = model::logit_rows(batch);
  if (wanted == 0) {
    cuda::check_cuda(cudaStreamSynchronize(stream_), "forward (stream synchronize)");
    return;
  }
  StreamArray<float> normed(wanted * H, stream_);  // [wanted, hidden]
  int64_t out = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const int64_t T = step.rows.count(static_cast<int64_t>(s));
    const int64_t r0 = step.rows.begin(static_cast<int64_t>(s));
    int64_t take = 0;  // the sequence's last `take` rows
    if (batch[s].logits == model::BatchSequence::Logits::kLast) take = 1;
    if (batch[s].logits == model::BatchSequence::Logits::kAll) take = T;
    if (take == 0) continue;
    cuda::rmsnorm(step.x.get() + (r0 + T - take) * H, H, norm, eps, take, H, normed.get() + out * H, H, stream_);
    out += take;
  }
  const int64_t V = lm_head.out_features();
  StreamArray<float> dev_logits(wanted * V, stream_);  // [wanted, vocab]
  lm_head.apply(normed.get(), wanted, dev_logits.get(), stream_);
  download(dev_logits.get(), static_cast<size_t>(wanted * V) * sizeof(float), logits, stream_);
}

}  // namespace fp4::model_cuda
