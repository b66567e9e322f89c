// The scheduler without a model: each test plays the engine's part (complete the plan, append a token
// for every chunk that asked for logits) and checks the plans: the token budget, decode rows before
// prefill chunks, chunked prefill, the running cap, FIFO admission, prefix-cache mapping and preemption
// of the most recently admitted sequence.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>

#include "fp4/base/error.h"
#include "fp4/runtime/scheduler.h"

namespace fp4::runtime {
namespace {

constexpr int64_t kBlock = 4;

class SchedulerTest : public ::testing::Test {
 protected:
  void make(int64_t blocks, int64_t max_seqs, int64_t budget, bool prefix_caching = true) {
    blocks_ = std::make_unique<BlockManager>(blocks, kBlock, prefix_caching);
    sched_ = std::make_unique<Scheduler>(*blocks_, SchedulerConfig{max_seqs, budget});
  }
  Sequence* add(int prompt_len, int32_t first_token = 100) {
    std::vector<int32_t> prompt(static_cast<size_t>(prompt_len));
    for (int i = 0; i < prompt_len; ++i) prompt[static_cast<size_t>(i)] = first_token + i;
    auto hashes = blocks_->prompt_block_hashes(prompt);
    seqs_.push_back(std::make_unique<Sequence>(seqs_.size() + 1, std::move(prompt), std::move(hashes)));
    sched_->enqueue(seqs_.back().get());
    return seqs_.back().get();
  }
  // Plans a step and plays the engine: rows computed, one token sampled per logits chunk.
  StepPlan step() {
    StepPlan plan = sched_->schedule();
    sched_->complete(plan);
    for (const ScheduledChunk& c : plan.chunks) {
      if (c.wants_logits) c.seq->append(7);
    }
    return plan;
  }
  static int64_t chunk_of(const StepPlan& plan, const Sequence* s) {
    for (const ScheduledChunk& c : plan.chunks) {
      if (c.seq == s) return c.count;
    }
    return 0;
  }

  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<Scheduler> sched_;
  std::vector<std::unique_ptr<Sequence>> seqs_;
};

TEST_F(SchedulerTest, LimitsMustBePositive) {
  BlockManager m(4, kBlock, true);
  EXPECT_THROW(Scheduler(m, SchedulerConfig{0, 16}), Error);
  EXPECT_THROW(Scheduler(m, SchedulerConfig{4, 0}), Error);
}

TEST_F(SchedulerTest, LongPromptIsPrefilledInChunksWithinTheBudget) {
  make(64, 8, 6);
  Sequence* a = add(15);
  std::vector<int64_t> chunks;
  while (a->generated() == 0) {
    const StepPlan p = step();
    ASSERT_EQ(p.chunks.size(), 1u);
    EXPECT_LE(p.tokens, 6);
    chunks.push_back(p.chunks[0].count);
    EXPECT_EQ(p.chunks[0].wants_logits, a->generated() == 1);  // logits only after the last chunk
  }
  EXPECT_EQ(chunks, (std::vector<int64_t>{6, 6, 3}));
  EXPECT_TRUE(a->in_decode());
  EXPECT_EQ(a->num_computed, 15);
  EXPECT_EQ(static_cast<int64_t>(a->blocks.size()), 4);  // 16 positions: room for the next token too
}

TEST_F(SchedulerTest, DecodeRowsComeFirstAndPrefillTakesTheRestOfTheBudget) {
  make(64, 8, 10);
  Sequence* a = add(3);
  Sequence* b = add(3);
  step();  // both prompts in one step
  ASSERT_TRUE(a->in_decode() && b->in_decode());
  Sequence* c = add(30);
  const StepPlan p = step();
  ASSERT_EQ(p.chunks.size(), 3u);
  EXPECT_EQ(p.chunks[0].seq, a);
  EXPECT_EQ(p.chunks[1].seq, b);
  EXPECT_EQ(p.chunks[0].count + p.chunks[1].count, 2);
  EXPECT_EQ(p.chunks[2].seq, c);
  EXPECT_EQ(p.chunks[2].count, 8);  // 10 - two decode rows
  EXPECT_FALSE(p.chunks[2].wants_logits);
  EXPECT_EQ(p.tokens, 10);
  // The partly prefilled prompt continues next step after the decode rows, before any new admission.
  Sequence* d = add(5);
  const StepPlan q = step();
  EXPECT_EQ(q.chunks[0].seq, a);
  EXPECT_EQ(q.chunks[1].seq, b);
  EXPECT_EQ(q.chunks[2].seq, c);
  EXPECT_EQ(chunk_of(q, c), 8);
  EXPECT_EQ(chunk_of(q, d), 0);
}

TEST_F(SchedulerTest, RunningSetIsCappedAndAdmissionIsFifo) {
  make(64, 2, 100);
  Sequence* a = add(4);
  Sequence* b = add(4);
  Sequence* c = add(4);
  StepPlan p = step();
  EXPECT_EQ(p.admitted, (std::vector<Sequence*>{a, b}));
  EXPECT_EQ(sched_->waiting().front(), c);
  sched_->remove(a);
  p = step();
  EXPECT_EQ(p.admitted, (std::vector<Sequence*>{c}));
  EXPECT_EQ(static_cast<int64_t>(sched_->running().size()), 2);
}

TEST_F(SchedulerTest, HeadOfTheQueueThatDoesNotFitBlocksAdmission) {
  make(6, 8, 100);  // 24 positions
  Sequence* a = add(20);  // 5 blocks
  step();
  Sequence* big = add(12, 300);
  Sequence* small = add(2, 400);
  StepPlan p = step();  // a's decode row takes the last block: nothing is left for big, nor for small
  EXPECT_EQ(chunk_of(p, a), 1);
  EXPECT_EQ(chunk_of(p, big), 0);
  EXPECT_EQ(chunk_of(p, small), 0);
  EXPECT_EQ(sched_->waiting().front(), big);
  sched_->remove(a);
  p = step();
  EXPECT_EQ(chunk_of(p, big), 12);
  EXPECT_EQ(chunk_of(p, small), 2);
  EXPECT_EQ(blocks_->used_blocks(), 3 + 1);
}

TEST_F(SchedulerTest, FullPromptBlocksComeFromThePrefixCache) {
  make(32, 8, 100);
  Sequence* a = add(10);  // blocks [0,4) and [4,8) are full, 2 tokens in the third
  step();
  Sequence* b = add(10);
  StepPlan p = step();
  EXPECT_EQ(chunk_of(p, b), 2);
  EXPECT_EQ(b->cached_tokens, 8);
  EXPECT_EQ(b->blocks[0], a->blocks[0]);
  EXPECT_EQ(b->blocks[1], a->blocks[1]);
  EXPECT_NE(b->blocks[2], a->blocks[2]);
  EXPECT_EQ(blocks_->ref_count(a->blocks[0]), 2);
  // A prompt of exactly two blocks maps only the first: its last token must run to give logits.
  Sequence* c = add(8);
  p = step();
  EXPECT_EQ(c->cached_tokens, 4);
  EXPECT_EQ(chunk_of(p, c), 4);
  EXPECT_EQ(blocks_->query_tokens(), 10 + 10 + 8);
  EXPECT_EQ(blocks_->hit_tokens(), 8 + 4);
  // Finished sequences leave their prompt blocks cached: a later request still hits.
  for (Sequence* s : {a, b, c}) sched_->remove(s);
  EXPECT_EQ(blocks_->used_blocks(), 0);
  Sequence* d = add(10);
  step();
  EXPECT_EQ(d->cached_tokens, 8);
}

TEST_F(SchedulerTest, DecodeWithoutFreeBlocksPreemptsTheNewestSequence) {
  make(4, 8, 100);  // 16 positions
  Sequence* a = add(7);
  Sequence* b = add(7, 200);  // another prompt: nothing shared through the prefix cache
  step();  // both prefilled: two blocks each, all four in use
  ASSERT_EQ(blocks_->free_blocks(), 0);
  StepPlan p = step();  // position 7 still fits in each second block
  EXPECT_TRUE(p.preempted.empty());
  p = step();  // position 8 needs a third block: b, admitted last, makes room
  EXPECT_EQ(p.preempted, (std::vector<Sequence*>{b}));
  EXPECT_EQ(chunk_of(p, a), 1);
  EXPECT_EQ(b->state, Sequence::State::kWaiting);
  EXPECT_EQ(b->num_computed, 0);
  EXPECT_TRUE(b->blocks.empty());
  EXPECT_EQ(b->generated(), 2);  // its tokens are kept for the recompute
  EXPECT_EQ(sched_->waiting().front(), b);
  EXPECT_EQ(sched_->preemptions(), 1);
  EXPECT_EQ(b->preemptions, 1);
  // Once a finishes, b comes back and recomputes prompt and generated tokens in one chunk, except its
  // full prompt block, which it published before the preemption and finds in the prefix cache.
  sched_->remove(a);
  p = step();
  EXPECT_EQ(b->cached_tokens, 4);
  EXPECT_EQ(chunk_of(p, b), 9 - 4);
  EXPECT_TRUE(p.chunks[0].wants_logits);
  EXPECT_EQ(b->generated(), 3);
}

TEST_F(SchedulerTest, ALoneSequenceThatCannotGrowPreemptsItself) {
  make(2, 8, 100);  // 8 positions
  Sequence* a = add(7);
  step();
  step();  // position 7
  const StepPlan p = step();  // position 8: no ninth position anywhere
  EXPECT_EQ(p.preempted, (std::vector<Sequence*>{a}));
  // No admission in a step that preempted: the sequence does not come straight back.
  EXPECT_TRUE(p.chunks.empty());
  EXPECT_EQ(blocks_->used_blocks(), 0);
}

// Random workloads: every plan stays within the budget and the running cap, no sequence appears twice,
// and every block comes back once all sequences are removed.
TEST_F(SchedulerTest, RandomWorkloadsKeepEveryInvariant) {
  std::mt19937 rng(11);
  for (int round = 0; round < 20; ++round) {
    const int64_t budget = 1 + static_cast<int64_t>(rng() % 24);
    const int64_t cap = 1 + static_cast<int64_t>(rng() % 6);
    make(12 + static_cast<int64_t>(rng() % 20), cap, budget);
    for (int i = 0; i < 10; ++i) add(1 + static_cast<int>(rng() % 30), static_cast<int32_t>(rng() % 3) * 50);
    int64_t steps = 0;
    while (!sched_->running().empty() || !sched_->waiting().empty()) {
      const StepPlan p = step();
      ASSERT_LE(p.tokens, budget);
      ASSERT_LE(static_cast<int64_t>(sched_->running().size()), cap);
      std::set<const Sequence*> seen;
      int64_t sum = 0;
      for (const ScheduledChunk& c : p.chunks) {
        ASSERT_TRUE(seen.insert(c.seq).second);
        ASSERT_GT(c.count, 0);
        sum += c.count;
      }
      ASSERT_EQ(sum, p.tokens);
      for (const auto& s : seqs_) {
        if (s->state == Sequence::State::kRunning && s->generated() >= 12) sched_->remove(s.get());
      }
      ASSERT_LT(++steps, 5000) << "no progress";
    }
    ASSERT_EQ(blocks_->used_blocks(), 0);
    seqs_.clear();
  }
}

}  // namespace
}  // namespace fp4::runtime
