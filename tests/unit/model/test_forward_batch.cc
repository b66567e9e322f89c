// Model::forward_batch against forward() one sequence at a time, on every golden fixture (Llama, Qwen2,
// Qwen2 tied, Qwen3, DeepSeek-V3, V2, V2-Lite in BF16, FP8 block and NVFP4). One batch mixes a prefill
// chunk at position 0, a continuation chunk, decode rows of several sequences at different positions
// and every logits selector; each sequence's logits and the cache rows it writes must match running it
// alone: bit for bit through the scalar reference matmul (every other kernel is row-independent), and
// within the f32 summation-order bound on the fast path (whose matmul schedule depends on the row count).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/model/model.h"
#include "golden_fixture.h"

namespace fp4::testing {
namespace {

using Logits = model::BatchSequence::Logits;

constexpr double kUnitRoundoff = 1.0 / (1 << 24);  // f32 u = 2^-24

// Largest reduction length of any stage of the model (the K of its dot products).
int64_t longest_reduction(const io::ModelConfig& c) {
  int64_t k = std::max({c.hidden_size, c.intermediate_size, c.num_attention_heads * c.head_dim});
  if (c.moe) k = std::max(k, c.moe->moe_intermediate_size * std::max<int64_t>(1, c.moe->n_shared_experts));
  if (c.mla) k = std::max({k, c.mla->kv_lora_rank + c.mla->qk_rope_head_dim, c.num_attention_heads * c.mla->v_head_dim});
  return k;
}

// Bound on |batched − alone| for a value computed after `stages` decoder layers, relative to `scale`
// (the larger of 1 and the value's magnitude). The fast matmul sums in an order that depends on how
// many rows it is given (M ≤ 4: row kernel; larger: tiled), so a row's result changes with the batch.
// A length-K f32 dot product in any order is within K·u·Σ|x·w| of the exact value, so two orders differ
// by at most 2·K·u·Σ|x·w|. A layer chains about 8 such reductions (norm, projections, scores, weighted
// sum, o_proj, gate/up, down), each passing an input difference on with O(1) gain because activations
// are normalised and weights scale as 1/sqrt(fan_in): |Δ| ≤ 2 · 8 · stages · K_max · u · scale.
// (The same argument as the transformers parity bound in test_goldens.cc, for two orders of ours.)
double order_bound(const io::ModelConfig& c, int64_t stages, double scale) {
  return 2.0 * 8.0 * static_cast<double>(stages) * static_cast<double>(longest_reduction(c)) * kUnitRoundoff *
         std::max(1.0, scale);
}

double max_abs(const float* a, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(std::fabs(a[i])));
  return m;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double d = 0;
  for (int64_t i = 0; i < n; ++i) d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  return d;
}

// One sequence of the test batch: `prefix` tokens already in its cache (run alone beforehand), then
// `chunk` tokens in the batch at pos0 = prefix.size().
struct SequencePlan {
  std::vector<int32_t> prefix, chunk;
  Logits logits = Logits::kLast;
};

// Deterministic token ids in [0, vocab).
std::vector<int32_t> tokens(int64_t n, uint32_t seed, int64_t vocab) {
  std::vector<int32_t> out;
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    out.push_back(static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(vocab)));
  }
  return out;
}

// (a) a prefill chunk at position 0, (b) a continuation chunk, (c) decode rows of different sequences at
// different positions, with kNone / kLast / kAll spread over them (a kNone prefill chunk too).
std::vector<SequencePlan> mixed_batch(int64_t vocab) {
  std::vector<SequencePlan> plan;
  plan.push_back({{}, tokens(7, 1, vocab), Logits::kAll});             // prefill at 0, every row
  plan.push_back({tokens(5, 2, vocab), tokens(4, 3, vocab), Logits::kLast});  // continuation at 5
  plan.push_back({tokens(3, 4, vocab), tokens(1, 5, vocab), Logits::kLast});  // decode at 3
  plan.push_back({tokens(9, 6, vocab), tokens(1, 7, vocab), Logits::kNone});  // decode at 9, no logits
  plan.push_back({tokens(12, 8, vocab), tokens(1, 9, vocab), Logits::kAll});  // decode at 12
  plan.push_back({{}, tokens(3, 10, vocab), Logits::kNone});           // a prompt's first chunk
  plan.push_back({tokens(6, 11, vocab), tokens(1, 12, vocab), Logits::kLast});  // decode at 6
  return plan;
}

class ForwardBatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  static ThreadPool& pool() {
    static ThreadPool p(2);
    return p;
  }
  void SetUp() override { model_ = model::Model::load(golden_dir(GetParam()), pool()); }

  // One cache per sequence with its prefix already run through forward().
  std::vector<std::unique_ptr<TestKv>> prefilled(const std::vector<SequencePlan>& plan,
                                                 const model::ForwardOptions& options) {
    std::vector<std::unique_ptr<TestKv>> kvs;
    std::vector<float> discard(static_cast<size_t>(model_->vocab_size()));
    for (const SequencePlan& p : plan) {
      kvs.push_back(std::make_unique<TestKv>(*model_, static_cast<int64_t>(p.prefix.size() + p.chunk.size())));
      if (!p.prefix.empty()) {
        model::ForwardOptions o = options;
        o.all_logits = false;
        model_->forward(p.prefix, 0, kvs.back()->view(), o, discard.data());
      }
    }
    return kvs;
  }

  // Runs `plan` as one batch and each sequence alone; compares logits (batch order) and the cache rows
  // of the chunk in every layer. exact: the results must be identical; otherwise within order_bound.
  void expect_batch_matches_alone(const std::vector<SequencePlan>& plan, const model::ForwardOptions& options,
                                  bool exact) {
    const int64_t V = model_->vocab_size();
    const io::ModelConfig& c = model_->config();
    std::vector<std::unique_ptr<TestKv>> alone_kv = prefilled(plan, options);
    std::vector<std::unique_ptr<TestKv>> batch_kv = prefilled(plan, options);

    std::vector<model::BatchSequence> batch;
    for (size_t s = 0; s < plan.size(); ++s) {
      model::BatchSequence b;
      b.tokens = plan[s].chunk;
      b.pos0 = static_cast<int64_t>(plan[s].prefix.size());
      b.kv = batch_kv[s]->view();
      b.logits = plan[s].logits;
      batch.push_back(b);
    }
    const int64_t rows = model::logit_rows(batch);
    std::vector<float> batched(static_cast<size_t>(std::max<int64_t>(rows, 1) * V), NAN);  // [rows, V]
    std::vector<model::RoutingRecord> batch_routing;
    model::ForwardOptions bo = options;
    bo.routing = &batch_routing;
    model_->forward_batch(batch, bo, batched.data());

    int64_t row = 0;
    std::vector<std::vector<model::RoutingRecord>> alone_routing(plan.size());
    for (size_t s = 0; s < plan.size(); ++s) {
      const SequencePlan& p = plan[s];
      const auto T = static_cast<int64_t>(p.chunk.size());
      const auto pos0 = static_cast<int64_t>(p.prefix.size());
      model::ForwardOptions o = options;
      o.all_logits = p.logits == Logits::kAll;
      o.routing = &alone_routing[s];
      std::vector<float> want(static_cast<size_t>(T * V));  // [T or 1, V]
      model_->forward(p.chunk, pos0, alone_kv[s]->view(), o, want.data());
      const int64_t n = p.logits == Logits::kAll ? T : p.logits == Logits::kLast ? 1 : 0;
      if (n > 0) {
        const double tol = exact ? 0.0 : order_bound(c, c.num_hidden_layers, max_abs(want.data(), n * V));
        EXPECT_LE(max_abs_diff(batched.data() + row * V, want.data(), n * V), tol) << "logits of sequence " << s;
      }
      row += n;
      for (int64_t l = 0; l < model_->num_layers(); ++l) {
        for (int64_t pos = pos0; pos < pos0 + T; ++pos) {
          const float* a = alone_kv[s]->view().row(l, pos);
          const float* b = batch_kv[s]->view().row(l, pos);
          const int64_t F = model_->kv_row_floats();
          const double tol = exact ? 0.0 : order_bound(c, l + 1, max_abs(a, F));
          ASSERT_LE(max_abs_diff(a, b, F), tol) << "cache row of sequence " << s << ", layer " << l << ", position " << pos;
        }
      }
    }
    EXPECT_EQ(row, rows);
    if (!exact) return;
    ASSERT_EQ(batch_routing.size(), alone_routing[0].size());
    // Routing: one record per MoE layer over all the batch's rows, in batch order, equal to the records
    // of the sequences run alone laid end to end.
    for (size_t i = 0; i < batch_routing.size(); ++i) {
      std::vector<int32_t> experts;
      for (const auto& records : alone_routing) {
        ASSERT_EQ(records.size(), batch_routing.size());
        experts.insert(experts.end(), records[i].experts.begin(), records[i].experts.end());
      }
      EXPECT_EQ(batch_routing[i].experts, experts) << "MoE layer record " << i;
    }
  }

  std::unique_ptr<model::Model> model_;
};

TEST_P(ForwardBatchTest, MixedBatchIsExactThroughTheReferenceMatmul) {
  model::ForwardOptions o;
  o.exact_matmul = true;
  expect_batch_matches_alone(mixed_batch(model_->vocab_size()), o, true);
}

TEST_P(ForwardBatchTest, MixedBatchMatchesAloneOnTheFastPath) {
  expect_batch_matches_alone(mixed_batch(model_->vocab_size()), model::ForwardOptions{}, false);
}

// Decode only: every sequence one token at its own position (the continuous-batching steady state).
TEST_P(ForwardBatchTest, DecodeRowsMatchAlone) {
  const int64_t V = model_->vocab_size();
  std::vector<SequencePlan> plan;
  for (int s = 0; s < 6; ++s) plan.push_back({tokens(2 + 3 * s, 20 + s, V), tokens(1, 40 + s, V), Logits::kLast});
  expect_batch_matches_alone(plan, model::ForwardOptions{}, false);
  model::ForwardOptions exact;
  exact.exact_matmul = true;
  expect_batch_matches_alone(plan, exact, true);
}

// DeepSeek fixtures only.
class MlaForwardBatchTest : public ForwardBatchTest {};

// Every sequence forced through one MLA form, over the same mixed batch (kAuto, in the tests above,
// mixes expanded prefill chunks with absorbed decode rows in one layer).
TEST_P(MlaForwardBatchTest, EachMlaFormMatchesAlone) {
  for (const model::MlaForm form : {model::MlaForm::kExpanded, model::MlaForm::kAbsorbed}) {
    SCOPED_TRACE(form == model::MlaForm::kExpanded ? "expanded" : "absorbed");
    model::ForwardOptions o;
    o.mla_form = form;
    expect_batch_matches_alone(mixed_batch(model_->vocab_size()), o, false);
    o.exact_matmul = true;
    expect_batch_matches_alone(mixed_batch(model_->vocab_size()), o, true);
  }
}

// The pool only partitions work (matmul rows and tiles, attention rows, MoE experts, sequences): every
// output value is computed by one task in a fixed order, so one thread and three give identical results,
// though they take different paths (experts and decode rows spread over the pool, or not).
TEST_P(ForwardBatchTest, ResultsDoNotDependOnThreadCount) {
  const int64_t V = model_->vocab_size();
  std::vector<std::vector<float>> logits;
  for (const int threads : {1, 3}) {
    ThreadPool pool(threads);
    auto m = model::Model::load(golden_dir(GetParam()), pool);
    const std::vector<SequencePlan> plan = mixed_batch(V);
    std::vector<std::unique_ptr<TestKv>> kvs;
    std::vector<model::BatchSequence> batch;
    for (const SequencePlan& p : plan) {
      std::vector<int32_t> all = p.prefix;
      all.insert(all.end(), p.chunk.begin(), p.chunk.end());
      kvs.push_back(std::make_unique<TestKv>(*m, static_cast<int64_t>(all.size())));
      model::BatchSequence b;
      b.tokens = p.chunk;
      b.pos0 = static_cast<int64_t>(p.prefix.size());
      b.kv = kvs.back()->view();
      b.logits = p.logits;
      batch.push_back(b);
    }
    // Fill every prefix with one batch of its own (several sequences: decode-row paths too), then the mix.
    std::vector<model::BatchSequence> prefill;
    for (size_t s = 0; s < plan.size(); ++s) {
      if (plan[s].prefix.empty()) continue;
      model::BatchSequence b = batch[s];
      b.tokens = plan[s].prefix;
      b.pos0 = 0;
      b.logits = Logits::kNone;
      prefill.push_back(b);
    }
    m->forward_batch(prefill, model::ForwardOptions{}, nullptr);
    logits.emplace_back(static_cast<size_t>(model::logit_rows(batch) * V));
    m->forward_batch(batch, model::ForwardOptions{}, logits.back().data());
  }
  EXPECT_EQ(logits[0], logits[1]);
}

// A batch of one is forward() itself; an empty batch does nothing.
TEST_P(ForwardBatchTest, SingleAndEmptyBatches) {
  const int64_t V = model_->vocab_size();
  const std::vector<int32_t> ids = tokens(5, 30, V);
  TestKv a(*model_, 5), b(*model_, 5);
  model::ForwardOptions o;
  o.all_logits = true;
  std::vector<float> want(static_cast<size_t>(5 * V)), got(static_cast<size_t>(5 * V));
  model_->forward(ids, 0, a.view(), o, want.data());
  model::BatchSequence one;
  one.tokens = ids;
  one.kv = b.view();
  one.logits = Logits::kAll;
  model_->forward_batch(std::span<const model::BatchSequence>(&one, 1), model::ForwardOptions{}, got.data());
  EXPECT_EQ(want, got);
  model_->forward_batch({}, model::ForwardOptions{}, nullptr);
}

// Every row of every layer of every cache, concatenated (to see that nothing was written).
std::vector<float> snapshot(const model::Model& m, const TestKv& kv, int64_t tokens) {
  std::vector<float> out;
  for (int64_t l = 0; l < m.num_layers(); ++l) {
    for (int64_t pos = 0; pos < tokens; ++pos) {
      const float* r = kv.view().row(l, pos);
      out.insert(out.end(), r, r + m.kv_row_floats());
    }
  }
  return out;
}

// A bad sequence anywhere in the batch fails the whole call before any compute: one error line naming
// the sequence, and no cache row of any sequence written.
TEST_P(ForwardBatchTest, BadThirdSequenceThrowsBeforeAnyCacheWrite) {
  const int64_t V = model_->vocab_size();
  const std::vector<int32_t> good = tokens(4, 50, V);
  std::vector<int32_t> bad = tokens(3, 51, V);
  bad[1] = static_cast<int32_t>(V);  // one past the vocabulary
  const std::vector<int32_t> decode = tokens(1, 52, V);
  TestKv kv0(*model_, 8), kv1(*model_, 8), kv2(*model_, 8), kv3(*model_, 8);
  std::vector<model::BatchSequence> batch(4);
  batch[0].tokens = good;
  batch[0].kv = kv0.view();
  batch[1].tokens = decode;
  batch[1].pos0 = 2;
  batch[1].kv = kv1.view();
  batch[2].tokens = bad;
  batch[2].kv = kv2.view();
  batch[3].tokens = good;
  batch[3].kv = kv3.view();
  const std::vector<float> before = snapshot(*model_, kv0, 8);
  std::vector<float> logits(static_cast<size_t>(4 * V));
  try {
    model_->forward_batch(batch, model::ForwardOptions{}, logits.data());
    ADD_FAILURE() << "a token outside the vocabulary was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sequence 2 of 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("outside the vocabulary"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  for (const TestKv* kv : {&kv0, &kv1, &kv2, &kv3}) EXPECT_EQ(snapshot(*model_, *kv, 8), before);

  // The same for a cache too small for its chunk, and for a negative start position.
  batch[2].tokens = good;
  batch[2].pos0 = 6;  // needs 10 rows, the cache has 8
  EXPECT_THROW(model_->forward_batch(batch, model::ForwardOptions{}, logits.data()), Error);
  batch[2].pos0 = -1;
  EXPECT_THROW(model_->forward_batch(batch, model::ForwardOptions{}, logits.data()), Error);
  for (const TestKv* kv : {&kv0, &kv1, &kv2, &kv3}) EXPECT_EQ(snapshot(*model_, *kv, 8), before);
}

// The tensor dump names one sequence's intermediates; with several sequences it is refused up front.
TEST_P(ForwardBatchTest, DumpHookNeedsABatchOfOne) {
  const int64_t V = model_->vocab_size();
  const std::vector<int32_t> ids = tokens(3, 60, V);
  TestKv kv0(*model_, 3), kv1(*model_, 3);
  std::vector<model::BatchSequence> batch(2);
  batch[0].tokens = ids;
  batch[0].kv = kv0.view();
  batch[1].tokens = ids;
  batch[1].kv = kv1.view();
  int64_t dumped = 0;
  const model::TensorDumpFn hook = [&](std::string_view, std::span<const int64_t>, const float*) { ++dumped; };
  model::ForwardOptions o;
  o.dump = &hook;
  std::vector<float> logits(static_cast<size_t>(2 * V));
  EXPECT_THROW(model_->forward_batch(batch, o, logits.data()), Error);
  EXPECT_EQ(dumped, 0);
  model_->forward_batch(std::span<const model::BatchSequence>(batch.data(), 1), o, logits.data());
  EXPECT_GT(dumped, 0);
}

TEST(LogitRows, CountsWhatEachSequenceWants) {
  const std::vector<int32_t> three = {1, 2, 3}, one = {4};
  std::vector<model::BatchSequence> batch(4);
  batch[0].tokens = three;
  batch[0].logits = Logits::kAll;   // 3
  batch[1].tokens = three;
  batch[1].logits = Logits::kNone;  // 0
  batch[2].tokens = one;
  batch[2].logits = Logits::kLast;  // 1
  batch[3].tokens = three;
  batch[3].logits = Logits::kLast;  // 1
  EXPECT_EQ(model::logit_rows(batch), 5);
  EXPECT_EQ(model::logit_rows({}), 0);
}

std::vector<std::string> all_fixtures() {
  std::vector<std::string> out;
  for (const char* family : {"deepseek_v3", "deepseek_v2_lite", "deepseek_v2", "llama", "qwen2", "qwen2_tied", "qwen3"}) {
    for (const char* enc : {"bf16", "fp8", "nvfp4"}) out.push_back(std::string(family) + "_" + enc);
  }
  return out;
}

std::vector<std::string> deepseek_fixtures() {
  std::vector<std::string> out;
  for (const std::string& f : all_fixtures()) {
    if (f.starts_with("deepseek")) out.push_back(f);
  }
  return out;
}

std::string fixture_name(const ::testing::TestParamInfo<std::string>& i) { return i.param; }

INSTANTIATE_TEST_SUITE_P(Fixtures, ForwardBatchTest, ::testing::ValuesIn(all_fixtures()), fixture_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, MlaForwardBatchTest, ::testing::ValuesIn(deepseek_fixtures()), fixture_name);

}  // namespace
}  // namespace fp4::testing
