#include "fp4/runtime/scheduler.h"

#include <algorithm>

#include "fp4/base/error.h"

namespace fp4::runtime {
namespace {

bool in_plan(const StepPlan& plan, const Sequence* seq) {
  return std::any_of(plan.chunks.begin(), plan.chunks.end(), [&](const ScheduledChunk& c) { return c.seq == seq; });
}

}  // namespace

Scheduler::Scheduler(BlockManager& blocks, SchedulerConfig config) : blocks_(blocks), config_(config) {
  FP4_CHECK(config.max_num_seqs > 0, "engine: max_num_seqs is {}, expected a positive count", config.max_num_seqs);
  FP4_CHECK(config.max_num_batched_tokens > 0, "engine: max_num_batched_tokens is {}, expected a positive count",
            config.max_num_batched_tokens);
}

void Scheduler::enqueue(Sequence* seq) {
  seq->state = Sequence::State::kWaiting;
  waiting_.push_back(seq);
}

void Scheduler::enqueue_front(Sequence* seq) {
  seq->state = Sequence::State::kWaiting;
  waiting_.push_front(seq);
}

bool Scheduler::add_running(Sequence* seq) {
  if (static_cast<int64_t>(running_.size()) >= config_.max_num_seqs) return false;
  seq->state = Sequence::State::kRunning;
  seq->admitted_order = ++admissions_;
  running_.push_back(seq);
  return true;
}

void Scheduler::remove(Sequence* seq) {
  if (seq->state == Sequence::State::kRunning) {
    running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  } else if (seq->state == Sequence::State::kWaiting) {
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), seq), waiting_.end());
  }
  blocks_.release_all(seq->blocks);
  seq->state = Sequence::State::kFinished;
}

bool Scheduler::reserve(Sequence& seq, int64_t tokens) {
  const int64_t bs = blocks_.block_size();
  while (static_cast<int64_t>(seq.blocks.size()) * bs < tokens) {
    const int32_t b = blocks_.allocate();
    if (b < 0) return false;
    seq.blocks.push_back(b);
  }
  return true;
}

void Scheduler::preempt(Sequence* seq, StepPlan& plan) {
  running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  blocks_.release_all(seq->blocks);  // published prompt blocks stay findable in the prefix cache
  seq->num_computed = 0;
  seq->published_blocks = 0;
  seq->cached_tokens = 0;
  ++seq->preemptions;
  ++preemptions_;
  enqueue_front(seq);
  plan.preempted.push_back(seq);
}

Sequence* Scheduler::newest_unscheduled(const StepPlan& plan) const {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    if (!in_plan(plan, *it)) return *it;
  }
  return nullptr;
}

StepPlan Scheduler::schedule() {
  StepPlan plan;
  const int64_t budget = config_.max_num_batched_tokens;

  // 1. Decode rows, oldest first; a row that cannot grow preempts the newest unscheduled sequence.
  const std::vector<Sequence*> snapshot = running_;
  for (Sequence* seq : snapshot) {
    if (seq->state != Sequence::State::kRunning || !seq->in_decode()) continue;
    if (plan.tokens >= budget) break;
    bool fits = true;
    while (!reserve(*seq, seq->num_computed + 1)) {
      Sequence* victim = newest_unscheduled(plan);
      preempt(victim, plan);  // never null: seq itself is running and unscheduled
      if (victim == seq) {
        fits = false;
        break;
      }
    }
    if (!fits) continue;
    plan.chunks.push_back({seq, seq->num_computed, 1, true});
    plan.tokens += 1;
  }

  // 2. Prefill chunks of sequences already running (partly computed prompts, recomputes, forced tokens).
  for (Sequence* seq : std::vector<Sequence*>(running_)) {
    if (seq->state != Sequence::State::kRunning || seq->in_decode() || in_plan(plan, seq)) continue;
    const int64_t room = budget - plan.tokens;
    if (room <= 0) break;
    int64_t chunk = std::min(seq->uncomputed(), room);
    while (!reserve(*seq, seq->num_computed + chunk)) {
      Sequence* victim = newest_unscheduled(plan);
      if (victim == seq) {
        // Nothing newer to take blocks from: run the part that fits, or wait in the queue if none does.
        chunk = static_cast<int64_t>(seq->blocks.size()) * blocks_.block_size() - seq->num_computed;
        if (chunk <= 0) preempt(seq, plan);
        break;
      }
      preempt(victim, plan);
    }
    if (seq->state != Sequence::State::kRunning || chunk <= 0) continue;
    plan.chunks.push_back({seq, seq->num_computed, chunk, seq->num_computed + chunk == seq->size()});
    plan.tokens += chunk;
  }

  // 3. Admission, FIFO; not in a step that had to preempt (the pool is short: admitting now would only
  // take blocks the running sequences need next, and could bring the preempted one straight back).
  while (plan.preempted.empty() && !waiting_.empty() && plan.tokens < budget && static_cast<int64_t>(running_.size()) < config_.max_num_seqs) {
    if (!admit_front(plan)) break;
  }
  return plan;
}

void Scheduler::map_cached_prefix(Sequence& seq) {
  // At least the last token is always computed: its logits are what the next sample needs.
  const int64_t bs = blocks_.block_size();
  const auto& hashes = seq.prompt_block_hashes();
  const int64_t limit = std::min<int64_t>(static_cast<int64_t>(hashes.size()), (seq.size() - 1) / bs);
  uint64_t parent = BlockManager::kRootHash;
  for (int64_t i = 0; i < limit; ++i) {
    const int32_t b = blocks_.lookup(hashes[static_cast<size_t>(i)], parent,
                                     seq.tokens().subspan(static_cast<size_t>(i * bs), static_cast<size_t>(bs)));
    if (b < 0) break;
    seq.blocks.push_back(b);
    parent = hashes[static_cast<size_t>(i)];
  }
  seq.num_computed = static_cast<int64_t>(seq.blocks.size()) * bs;
  seq.published_blocks = static_cast<int64_t>(seq.blocks.size());
}

bool Scheduler::admit_front(StepPlan& plan) {
  Sequence* seq = waiting_.front();
  const int64_t bs = blocks_.block_size();
  if (seq->blocks.empty()) map_cached_prefix(*seq);
  const int64_t room = config_.max_num_batched_tokens - plan.tokens;
  int64_t chunk = std::min(seq->uncomputed(), room);
  // Blocks the chunk needs beyond the mapped prefix, limited to what the pool has.
  const int64_t have = static_cast<int64_t>(seq->blocks.size());
  const int64_t need = (seq->num_computed + chunk + bs - 1) / bs - have;
  if (need > blocks_.free_blocks()) chunk = (have + blocks_.free_blocks()) * bs - seq->num_computed;
  if (chunk <= 0 || !reserve(*seq, seq->num_computed + chunk)) {
    blocks_.release_all(seq->blocks);  // the mapped prefix is looked up again next time
    seq->num_computed = 0;
    seq->published_blocks = 0;
    return false;
  }
  // Every admission computes the prompt (again, after a preemption): count the prompt tokens looked up
  // and the share found cached.
  seq->cached_tokens = std::min(seq->num_computed, seq->prompt_len());
  blocks_.count_lookup(seq->prompt_len(), seq->cached_tokens);
  waiting_.pop_front();
  seq->state = Sequence::State::kRunning;
  seq->admitted_order = ++admissions_;
  running_.push_back(seq);
  plan.admitted.push_back(seq);
  plan.chunks.push_back({seq, seq->num_computed, chunk, seq->num_computed + chunk == seq->size()});
  plan.tokens += chunk;
  return true;
}

void Scheduler::complete(const StepPlan& plan) {
  const int64_t bs = blocks_.block_size();
  for (const ScheduledChunk& c : plan.chunks) {
    Sequence& seq = *c.seq;
    if (seq.state != Sequence::State::kRunning) continue;
    seq.num_computed = c.start + c.count;
    const int64_t full = std::min(seq.num_computed, seq.prompt_len()) / bs;
    const auto& hashes = seq.prompt_block_hashes();
    for (int64_t i = seq.published_blocks; i < full && i < static_cast<int64_t>(hashes.size()); ++i) {
      const uint64_t parent = i == 0 ? BlockManager::kRootHash : hashes[static_cast<size_t>(i - 1)];
      blocks_.publish(seq.blocks[static_cast<size_t>(i)], hashes[static_cast<size_t>(i)], parent,
                      seq.tokens().subspan(static_cast<size_t>(i * bs), static_cast<size_t>(bs)));
    }
    seq.published_blocks = std::max(seq.published_blocks, full);
  }
}

}  // namespace fp4::runtime
