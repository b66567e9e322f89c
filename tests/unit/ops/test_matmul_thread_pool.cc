// ThreadPool: the matmul kernels' only parallelism. Every task runs exactly once, thread indices are in
// range and exclusive, nested loops run inline, exceptions come back to the caller, and the pool is
// reusable many times in a row (the per-layer pattern of a forward pass).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"

namespace fp4 {
namespace {

TEST(ThreadPool, SizeZeroMeansOnePerUsableCore) {
  ThreadPool pool(0);
  EXPECT_GE(pool.size(), 1);
  EXPECT_LE(pool.size(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(ThreadPool(3).size(), 3);
  EXPECT_THROW(ThreadPool(-1), Error);
}

TEST(ThreadPool, EveryTaskRunsExactlyOnceWithValidThreadIndex) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t tasks : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{7}, int64_t{1000}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(tasks));
      std::vector<std::atomic<int>> in_use(static_cast<size_t>(threads));
      std::atomic<int> bad_thread{0};
      std::atomic<int> overlap{0};
      pool.parallel_for(tasks, [&](int64_t task, int thread) {
        if (thread < 0 || thread >= threads) {
          bad_thread.fetch_add(1);
          return;
        }
        // Two tasks running at once on the same thread index would break per-thread scratch.
        if (in_use[static_cast<size_t>(thread)].fetch_add(1) != 0) overlap.fetch_add(1);
        hits[static_cast<size_t>(task)].fetch_add(1);
        in_use[static_cast<size_t>(thread)].fetch_sub(1);
      });
      EXPECT_EQ(bad_thread.load(), 0);
      EXPECT_EQ(overlap.load(), 0);
      for (int64_t t = 0; t < tasks; ++t) {
        ASSERT_EQ(hits[static_cast<size_t>(t)].load(), 1) << "threads=" << threads << " task " << t;
      }
    }
  }
}

TEST(ThreadPool, ManyConsecutiveLoopsSumCorrectly) {
  ThreadPool pool(3);
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(64, [&](int64_t task, int) { sum.fetch_add(task + iteration); });
    ASSERT_EQ(sum.load(), 64 * 63 / 2 + 64 * int64_t{iteration}) << "iteration " << iteration;
  }
}

TEST(ThreadPool, NestedParallelForRunsInlineOnTheSameThread) {
  ThreadPool pool(2);
  std::atomic<int> inner_runs{0};
  std::atomic<int> thread_mismatch{0};
  pool.parallel_for(8, [&](int64_t, int outer_thread) {
    pool.parallel_for(5, [&](int64_t, int inner_thread) {
      if (inner_thread != outer_thread) thread_mismatch.fetch_add(1);
      inner_runs.fetch_add(1);
    });
  });
  EXPECT_EQ(inner_runs.load(), 40);
  EXPECT_EQ(thread_mismatch.load(), 0);
}

TEST(ThreadPool, ExceptionFromATaskReachesTheCallerAndPoolStaysUsable) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallel_for(100,
                                 [&](int64_t task, int) {
                                   ran.fetch_add(1);
                                   if (task == 17) throw std::runtime_error("task 17 failed");
                                 }),
               std::runtime_error);
  EXPECT_GE(ran.load(), 1);
  std::atomic<int> after{0};
  pool.parallel_for(10, [&](int64_t, int) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 10);
}

TEST(ThreadPool, ConcurrentCallersAreSerialisedNotLost) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    std::atomic<int64_t> total{0};
    std::vector<std::atomic<int>> in_use(static_cast<size_t>(threads));
    std::atomic<int> overlap{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 3; ++c) {
      callers.emplace_back([&, c] {
        // Single-task loops (run on the caller) and multi-task loops (shared with the workers) mixed.
        const int64_t tasks = c == 0 ? 1 : 10;
        for (int i = 0; i < 200; ++i) {
          pool.parallel_for(tasks, [&](int64_t, int thread) {
            if (in_use[static_cast<size_t>(thread)].fetch_add(1) != 0) overlap.fetch_add(1);
            total.fetch_add(1);
            in_use[static_cast<size_t>(thread)].fetch_sub(1);
          });
        }
      });
    }
    for (auto& t : callers) t.join();
    EXPECT_EQ(total.load(), 200 * (1 + 10 + 10)) << "threads=" << threads;
    EXPECT_EQ(overlap.load(), 0) << "two running tasks shared a thread index, threads=" << threads;
  }
}

TEST(ThreadPool, GlobalPoolIsUsable) {
  ThreadPool& pool = ThreadPool::global();
  EXPECT_GE(pool.size(), 1);
  std::atomic<int> n{0};
  pool.parallel_for(33, [&](int64_t, int) { n.fetch_add(1); });
  EXPECT_EQ(n.load(), 33);
}

}  // namespace
}  // namespace fp4
