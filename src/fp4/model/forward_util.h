// Pieces shared by the model families' batched forward passes.
//
// A batch is laid out as one residual stream: the tokens of sequence 0, then those of sequence 1, ...,
// N = Σ T_i rows in all. Everything that is the same function of each row (embedding, norms, RoPE with
// the row's own position, every linear, the MoE) runs once over all N rows; attention and the cache
// writes use each sequence's own rows and cache view.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/model/model.h"
#include "fp4/model/weights.h"

namespace fp4::model {

// Hands a named intermediate to the --dump-tensors hook. `name` is only built when a hook is set.
// forward_batch refuses a hook with more than one sequence, so dumped shapes are one sequence's.
template <typename NameFn>
void dump_tensor(const ForwardOptions& options, NameFn&& name, std::initializer_list<int64_t> shape,
                 const float* data) {
  if (options.dump == nullptr) return;
  const std::string n = name();
  (*options.dump)(n, std::span<const int64_t>(shape.begin(), shape.size()), data);
}

// Where each sequence's rows sit in the batch's [N, ·] tensors.
struct BatchRows {
  int64_t n = 0;                   // N = Σ T_i
  std::vector<int64_t> first;      // [S + 1]: sequence s owns rows first[s] .. first[s+1]-1
  std::vector<int32_t> positions;  // [N] absolute position of each row within its sequence

  int64_t sequences() const { return static_cast<int64_t>(first.size()) - 1; }
  int64_t begin(int64_t s) const { return first[static_cast<size_t>(s)]; }
  int64_t count(int64_t s) const { return first[static_cast<size_t>(s) + 1] - first[static_cast<size_t>(s)]; }
};

// Checks every sequence (token ids, start position, cache view and capacity) and the options before any
// compute, and lays the batch out. Throws fp4::Error naming the sequence (when there are several) and
// the field: user input gets one error line, and a bad sequence leaves every cache untouched.
BatchRows plan_batch(std::span<const BatchSequence> batch, const ForwardOptions& options, int64_t vocab,
                     int64_t row_floats);

// x: [N, hidden] ← the embedding rows of every sequence's tokens in batch order.
void embed_batch(const Embedding& embed, std::span<const BatchSequence> batch, float* x);

// Runs attend(s, p) for every sequence s, each on its own rows, with p the pool that call may use, so
// that the threads stay busy: sequences with more than one query row (prefill chunks) one after another,
// each given the whole pool; decode rows (T = 1) spread over the pool when there are at least as many of
// them as threads, each given a one-thread pool of its worker (so an attention call streams each kv
// head's cached rows once instead of once per head chunk), else one after another with the whole pool.
// The result does not depend on the choice: each attention output row is computed by exactly one task
// whatever the split.
void for_each_sequence(ThreadPool& pool, const BatchRows& rows,
                       const std::function<void(int64_t s, ThreadPool& p)>& attend);

// logits: the rows each sequence wants (see BatchSequence::logits), in batch order, [rows, vocab]
// = lm_head(RMSNorm_final(x)) over just those rows of x [N, hidden].
void batch_logits(const Compute& cx, const float* x, std::span<const BatchSequence> batch, const BatchRows& rows,
                  const std::vector<float>& norm, float eps, const Linear& lm_head, const ForwardOptions& options,
                  float* logits);

}  // namespace fp4::model
