// Continuous-batching scheduler: decides, before every engine step, which tokens of which sequences go
// into the one batched forward pass, under a token budget and a cap on running sequences.
//
// Policy of one step (docs/engine.md):
//   1. Decode rows first: every running sequence whose prompt is done contributes its one pending token,
//      oldest admission first. A row that needs a new block and finds none preempts the most recently
//      admitted running sequence not yet scheduled in this step (possibly itself): its blocks are
//      released, it goes back to the front of the waiting queue and is recomputed later, generated tokens
//      included.
//   2. Then prefill chunks of running sequences whose prompt is partly computed (chunked prefill), in
//      admission order, each as large as the remaining budget and the blocks allow.
//   3. Then admission from the waiting queue in FIFO order while the budget, max_num_seqs and the free
//      blocks allow; a newly admitted sequence first maps the full prompt blocks the prefix cache holds.
//      Admission never skips ahead of a waiting sequence that does not fit, and does not happen in a
//      step that preempted.
// The scheduler only plans; the engine runs the forward pass and then calls complete().
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "fp4/runtime/block_manager.h"
#include "fp4/runtime/sequence.h"

namespace fp4::runtime {

struct SchedulerConfig {
  int64_t max_num_seqs = 64;
  int64_t max_num_batched_tokens = 512;
};

// Tokens [start, start + count) of `seq` in this step's forward pass.
struct ScheduledChunk {
  Sequence* seq = nullptr;
  int64_t start = 0;
  int64_t count = 0;
  bool wants_logits = false;  // the chunk ends the sequence's uncomputed tokens: sample after it
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;  // decode rows first, then prefill chunks
  std::vector<Sequence*> preempted;    // sent back to the waiting queue while planning
  std::vector<Sequence*> admitted;     // moved from waiting to running
  int64_t tokens = 0;                  // sum of chunk counts, ≤ max_num_batched_tokens
  bool empty() const { return chunks.empty(); }
};

class Scheduler {
 public:
  // Throws fp4::Error when a limit is not positive.
  Scheduler(BlockManager& blocks, SchedulerConfig config);

  // Queues a sequence without blocks at the back (new requests) or the front (already admitted work).
  void enqueue(Sequence* seq);
  void enqueue_front(Sequence* seq);
  // Adds a sequence whose blocks are already mapped (a fork of a completed prefill) to the running set.
  // False when max_num_seqs sequences already run.
  bool add_running(Sequence* seq);
  // Takes a sequence out of the queues for good (finished or cancelled) and releases its blocks.
  void remove(Sequence* seq);

  StepPlan schedule();
  // The plan's rows were computed: advances num_computed and publishes completed prompt blocks.
  void complete(const StepPlan& plan);

  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }
  const SchedulerConfig& config() const { return config_; }
  int64_t preemptions() const { return preemptions_; }

 private:
  // Grows seq's table to hold `tokens` positions; false when the pool cannot.
  bool reserve(Sequence& seq, int64_t tokens);
  void preempt(Sequence* seq, StepPlan& plan);
  // The most recently admitted running sequence not in this step's plan, or null.
  Sequence* newest_unscheduled(const StepPlan& plan) const;
  bool admit_front(StepPlan& plan);
  void map_cached_prefix(Sequence& seq);

  BlockManager& blocks_;
  SchedulerConfig config_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // ascending admitted_order
  uint64_t admissions_ = 0;
  int64_t preemptions_ = 0;
};

}  // namespace fp4::runtime
