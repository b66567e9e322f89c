#include "fp4/model/forward_util.h"

#include <fmt/format.h>

#include <limits>
#include <memory>

#include "fp4/base/error.h"
#include "fp4/ops/norm.h"

namespace fp4::model {
namespace {

// One sequence's inputs; `who` is "forward" or "forward: sequence 2 of 3".
void check_sequence(const std::string& who, const BatchSequence& s, int64_t vocab, int64_t row_floats) {
  FP4_CHECK(!s.tokens.empty(), "{}: no tokens given", who);
  FP4_CHECK(s.pos0 >= 0, "{}: start position {} is negative", who, s.pos0);
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    FP4_CHECK(s.tokens[i] >= 0 && s.tokens[i] < vocab, "{}: token {} (index {}) is outside the vocabulary [0, {})",
              who, s.tokens[i], i, vocab);
  }
  const auto logits = static_cast<uint8_t>(s.logits);
  FP4_CHECK(logits <= static_cast<uint8_t>(BatchSequence::Logits::kAll), "{}: logits selector {} is not kNone, kLast or kAll",
            who, logits);
  const KvSequenceView& kv = s.kv;
  FP4_CHECK(kv.layer_base != nullptr && kv.block_table != nullptr && kv.block_size > 0,
            "{}: the KV cache view is empty", who);
  FP4_CHECK(kv.row_floats == row_floats, "{}: the KV cache rows hold {} floats, the model needs {}", who,
            kv.row_floats, row_floats);
  const int64_t need = s.pos0 + static_cast<int64_t>(s.tokens.size());
  FP4_CHECK(need <= std::numeric_limits<int32_t>::max(), "{}: position {} is beyond the supported range", who, need);
  FP4_CHECK(kv.capacity() >= need, "{}: the KV cache holds {} tokens, positions up to {} are needed", who,
            kv.capacity(), need);
}

}  // namespace

BatchRows plan_batch(std::span<const BatchSequence> batch, const ForwardOptions& options, int64_t vocab,
                     int64_t row_floats) {
  const size_t S = batch.size();
  FP4_CHECK(options.dump == nullptr || S <= 1,
            "forward_batch: the tensor dump hook needs a batch of one sequence, got {} sequences", S);
  for (size_t s = 0; s < S; ++s) {
    check_sequence(S == 1 ? std::string("forward") : fmt::format("forward: sequence {} of {}", s, S), batch[s], vocab,
                   row_floats);
  }
  BatchRows rows;
  rows.first.resize(S + 1, 0);
  for (size_t s = 0; s < S; ++s) rows.first[s + 1] = rows.first[s] + static_cast<int64_t>(batch[s].tokens.size());
  rows.n = rows.first[S];
  rows.positions.resize(static_cast<size_t>(rows.n));
  for (size_t s = 0; s < S; ++s) {
    for (int64_t t = 0; t < static_cast<int64_t>(batch[s].tokens.size()); ++t) {
      rows.positions[static_cast<size_t>(rows.first[s] + t)] = static_cast<int32_t>(batch[s].pos0 + t);
    }
  }
  return rows;
}

void embed_batch(const Embedding& embed, std::span<const BatchSequence> batch, float* x) {
  for (const BatchSequence& s : batch) {
    for (const int32_t token : s.tokens) {
      embed.lookup(token, x);
      x += embed.cols;
    }
  }
}

void for_each_sequence(ThreadPool& pool, const BatchRows& rows,
                       const std::function<void(int64_t s, ThreadPool& p)>& attend) {
  std::vector<int64_t> decode_rows;  // sequences with one query row
  for (int64_t s = 0; s < rows.sequences(); ++s) {
    if (rows.count(s) > 1) {
      attend(s, pool);
    } else {
      decode_rows.push_back(s);
    }
  }
  const auto n = static_cast<int64_t>(decode_rows.size());
  if (n >= pool.size() && pool.size() > 1) {
    std::vector<std::unique_ptr<ThreadPool>> single(static_cast<size_t>(pool.size()));  // [thread]
    for (auto& p : single) p = std::make_unique<ThreadPool>(1);
    pool.parallel_for(n, [&](int64_t i, int thread) {
      attend(decode_rows[static_cast<size_t>(i)], *single[static_cast<size_t>(thread)]);
    });
  } else {
    for (const int64_t s : decode_rows) attend(s, pool);
  }
}

void batch_logits(const Compute& cx, const float* x, std::span<const BatchSequence> batch, const BatchRows& rows,
                  const std::vector<float>& norm, float eps, const Linear& lm_head, const ForwardOptions& options,
                  float* logits) {
  const int64_t H = lm_head.in_features();
  const int64_t wanted = logit_rows(batch);
  if (wanted == 0) return;
  std::vector<float> normed(static_cast<size_t>(wanted * H));  // [wanted, hidden]
  int64_t out = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const int64_t T = rows.count(static_cast<int64_t>(s));
    const int64_t r0 = rows.begin(static_cast<int64_t>(s));
    int64_t take = 0;  // the sequence's last `take` rows
    if (batch[s].logits == BatchSequence::Logits::kLast) take = 1;
    if (batch[s].logits == BatchSequence::Logits::kAll) take = T;
    if (take == 0) continue;
    cpu::rmsnorm(x + (r0 + T - take) * H, norm.data(), eps, take, H, normed.data() + out * H);
    out += take;
  }
  dump_tensor(options, [] { return std::string("final_norm"); }, {wanted, H}, normed.data());
  lm_head.apply(cx, normed.data(), wanted, logits);  // [wanted, vocab]
  dump_tensor(options, [] { return std::string("logits"); }, {wanted, lm_head.out_features()}, logits);
}

}  // namespace fp4::model
