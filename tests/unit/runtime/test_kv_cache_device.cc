// KvCache for a model that keeps the cache itself (model::Model::kv_on_device, the GPU models): the cache
// hands the geometry to the model once, keeps no host pools, still does the block accounting and views,
// and forwards copy_rows. A stand-in model records the calls, so this runs without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/runtime/kv_cache.h"

namespace fp4::runtime {
namespace {

std::string fixture(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/golden/" + name; }

// Records what the cache asks of a device-resident model; never runs a forward pass.
class DeviceKvModel final : public model::Model {
 public:
  DeviceKvModel(io::ModelConfig config, ThreadPool& pool) : Model(std::move(config), pool) {}
  uint64_t weight_bytes() const override { return 0; }
  std::string describe() const override { return "device-kv stand-in"; }
  void forward_batch(std::span<const model::BatchSequence>, const model::ForwardOptions&, float*) override {
    fail("device-kv stand-in: no forward pass");
  }
  bool kv_on_device() const override { return true; }
  void allocate_kv(int64_t num_blocks, int64_t block_size) override { allocations.emplace_back(num_blocks, block_size); }
  void copy_kv_rows(int32_t src, int32_t dst, int64_t rows) override { copies.emplace_back(src, dst, rows); }

  std::vector<std::pair<int64_t, int64_t>> allocations;
  std::vector<std::tuple<int32_t, int32_t, int64_t>> copies;
};

TEST(KvCacheDevice, TheModelGetsThePoolsAndTheCopies) {
  ThreadPool pool(1);
  DeviceKvModel m(io::load_model_config(fixture("deepseek_v3_bf16")), pool);
  KvCache cache(m, 4, 6);
  ASSERT_EQ(m.allocations.size(), 1u);
  EXPECT_EQ(m.allocations[0], std::make_pair(int64_t{6}, int64_t{4}));
  EXPECT_TRUE(cache.on_device());
  EXPECT_TRUE(cache.layer_bases().empty());  // no host pools
  EXPECT_EQ(cache.bytes(), static_cast<uint64_t>(m.num_layers() * 6 * 4 * m.kv_row_floats()) * sizeof(float));

  // Block accounting and views are the runtime's, as for host pools.
  SequenceKv seq(cache);
  seq.reserve(9);  // three blocks
  EXPECT_EQ(cache.free_blocks(), 3);
  const model::KvSequenceView v = seq.view();
  EXPECT_EQ(v.num_blocks, 3);
  EXPECT_EQ(v.block_size, 4);
  EXPECT_EQ(v.row_floats, m.kv_row_floats());
  EXPECT_NE(v.layer_base, nullptr);

  cache.copy_rows(seq.blocks()[2], 5, 1);
  ASSERT_EQ(m.copies.size(), 1u);
  EXPECT_EQ(m.copies[0], std::make_tuple(seq.blocks()[2], int32_t{5}, int64_t{1}));
  // Out-of-range copies are refused before they reach the model.
  EXPECT_THROW(cache.copy_rows(0, 6, 1), Error);
  EXPECT_THROW(cache.copy_rows(0, 1, 5), Error);
  EXPECT_EQ(m.copies.size(), 1u);
}

TEST(KvCacheDevice, ForModelSizesTheDevicePools) {
  ThreadPool pool(1);
  DeviceKvModel m(io::load_model_config(fixture("llama_bf16")), pool);
  const KvCache cache = KvCache::for_model(m, 17, 4);  // 17 tokens → 5 blocks of 4
  ASSERT_EQ(m.allocations.size(), 1u);
  EXPECT_EQ(m.allocations[0], std::make_pair(int64_t{5}, int64_t{4}));
  EXPECT_EQ(cache.num_blocks(), 5);
}

TEST(KvCacheDevice, HostModelsRefuseDeviceCalls) {
  ThreadPool pool(1);
  std::unique_ptr<model::Model> m = model::Model::load(fixture("llama_bf16"), pool);
  EXPECT_FALSE(m->kv_on_device());
  const KvCache cache(*m, 4, 3);  // host pools
  EXPECT_FALSE(cache.on_device());
  EXPECT_EQ(cache.layer_bases().size(), static_cast<size_t>(m->num_layers()));
  try {
    m->allocate_kv(3, 4);
    FAIL() << "a CPU model should refuse allocate_kv";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("host KV pools"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m->copy_kv_rows(0, 1, 1), Error);
}

}  // namespace
}  // namespace fp4::runtime
