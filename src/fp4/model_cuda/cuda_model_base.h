// What the GPU model families share: the stream, the weight arena, the paged KV pools kept in device
// memory, and the per-step inputs (embedding rows looked up on the host from the mmap'd table, RoPE
// tables, cache slots and block tables) uploaded once per forward call.
//
// A forward call enqueues everything on the model's stream and waits for it once, when the logits come
// back (MoE layers also wait for their router logits, which the host routes). Calls are not reentrant:
// the engine runs one step at a time.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "fp4/model/forward_util.h"
#include "fp4/model/model.h"
#include "fp4/model/weights.h"
#include "fp4/model_cuda/device_memory.h"
#include "fp4/model_cuda/device_weights.h"
#include "fp4/ops/attention.h"
#include "fp4/ops/rope.h"

namespace fp4::model_cuda {

// The inputs of one forward call, on the device.
struct Step {
  model::BatchRows rows;
  StreamArray<float> x;        // [N, hidden] residual stream, starts as the embedding rows
  StreamArray<float> cos, sin; // [N, rotary/2] for each row's own position
  StreamArray<int64_t> slots;  // [N] cache slot of each row: block · block_size + position % block_size
  StreamArray<int32_t> tables; // every sequence's block table, concatenated
  std::vector<int64_t> table_offset;  // [S] where sequence s's table starts in `tables`
};

class CudaModelBase : public model::Model {
 public:
  ~CudaModelBase() override;

  bool kv_on_device() const override { return true; }
  void allocate_kv(int64_t num_blocks, int64_t block_size) override;
  void copy_kv_rows(int32_t src, int32_t dst, int64_t rows) override;
  // Free device memory now (cudaMemGetInfo), with the current pools counted as free: allocate_kv
  // releases them before it allocates the new ones.
  uint64_t kv_memory_available() const override;
  // Device-to-device copy between two fresh buffers of buffer_bytes (0: 1 GiB), timed with events.
  double weight_memory_bandwidth(uint64_t buffer_bytes, int passes) const override;

  // Helpers of the families' forward passes (the MLA and MoE pieces live in their own files).
  // Writes n values per row of src [N, src_stride] into every row's cache slot of `layer`, at column
  // col_offset of the cache row.
  void write_kv(const Step& step, int64_t layer, const float* src, int64_t src_stride, int64_t n,
                int64_t col_offset) const;

  // The paged view of sequence s's rows in `layer`: K at column k_offset of each cache row, V at v_offset.
  cpu::KvView paged_view(const Step& step, int64_t s, int64_t layer, int64_t k_offset, int64_t v_offset) const;
  float* kv_pool(int64_t layer) const { return kv_pools_[static_cast<size_t>(layer)]; }

  // The cache slots of sequence s's positions 0 .. count-1, as int32 (expanded MLA gathers the whole
  // cached latent through them).
  std::vector<int32_t> sequence_slots(const model::BatchSequence& seq, int64_t count) const;

 protected:
  CudaModelBase(io::ModelConfig config, ThreadPool& pool);

  // Refuses the options a GPU forward does not offer (tensor dumps, linear-input observers, the scalar
  // reference matmul, W4A8 activations) with one line each.
  void check_options(const model::ForwardOptions& options) const;

  // Validates the batch (model::plan_batch, then every block id against the device pools) and uploads
  // its inputs. rope and rotary_dim give the cos/sin tables (rotary_dim / 2 per row).
  Step begin_step(std::span<const model::BatchSequence> batch, const model::ForwardOptions& options,
                  const model::Embedding& embed, const RopeFrequencies& rope, int64_t rotary_dim) const;

  // logits (host) [wanted rows, vocab] = lm_head(RMSNorm_final(x)) over the rows each sequence wants,
  // copied back; waits for the stream.
  void finish_logits(const Step& step, std::span<const model::BatchSequence> batch, const float* norm, float eps,
                     const DeviceLinear& lm_head, float* logits) const;

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  DeviceArena arena_;

 private:
  std::vector<float*> kv_pools_;  // [layers] num_blocks · block_size · row_floats floats each
  int64_t kv_blocks_ = 0, kv_block_size_ = 0;
};

// The device this process runs models on (device 0), checked: throws fp4::Error naming the problem
// when there is no usable GPU, or when it is not Hopper.
int select_device();

}  // namespace fp4::model_cuda
