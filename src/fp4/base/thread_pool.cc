#include "fp4/base/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include "fp4/base/error.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace fp4 {
namespace {

// The pool whose task the current thread is running (nullptr outside any task) and its index there;
// lets a nested parallel_for run inline instead of deadlocking on its own workers.
thread_local const ThreadPool* tls_pool = nullptr;
thread_local int tls_thread = 0;

// Spin iterations before a worker sleeps. One iteration is a load and a pause (~10-40 ns), so this
// is tens of microseconds: long enough to catch the next loop of a forward pass, short enough not to
// steal a core from the rest of the process when idle.
constexpr int kSpinIterations = 2000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Cores this process may run on: the affinity mask (which container CPU limits and taskset narrow),
// falling back to hardware_concurrency where the mask is unavailable.
int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int default_thread_count() {
  if (const char* env = std::getenv("FP4_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    FP4_CHECK(end != nullptr && *end == '\0' && n >= 1 && n <= 4096,
              "FP4_THREADS={}: expected a whole number of threads in [1, 4096]", env);
    return static_cast<int>(n);
  }
  return usable_cores();
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  FP4_CHECK(threads >= 0, "ThreadPool: thread count {} is negative (0 means one per core)", threads);
  size_ = threads == 0 ? usable_cores() : threads;
  workers_.reserve(static_cast<size_t>(size_ - 1));
  for (int t = 1; t < size_; ++t) {
    workers_.emplace_back([this, t] { worker_main(t); });
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_thread_count());
  return pool;
}

void ThreadPool::work_on_current_job(int thread) {
  const ThreadPool* saved_pool = tls_pool;
  int saved_thread = tls_thread;
  tls_pool = this;
  tls_thread = thread;
  for (;;) {
    int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= job_tasks_) break;
    if (job_failed_.load(std::memory_order_relaxed)) continue;  // drain remaining tasks quickly
    try {
      job_fn_(job_ctx_, task, thread);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!job_failed_.load(std::memory_order_relaxed)) job_error_ = std::current_exception();
      job_failed_.store(true, std::memory_order_relaxed);
    }
  }
  tls_pool = saved_pool;
  tls_thread = saved_thread;
}

void ThreadPool::worker_main(int thread) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 0; gen == seen && i < kSpinIterations; ++i) {
      cpu_relax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    // Enter the job unless the caller has already closed it (then every task is taken and the job's
    // fields may already belong to the next job: do not touch them).
    if (door_.fetch_add(1, std::memory_order_acq_rel) < 0) continue;
    work_on_current_job(thread);
    left_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int64_t tasks, TaskFn fn, void* ctx) {
  if (tasks <= 0) return;
  // A loop inside one of our own tasks runs inline on that task's thread (its index stays exclusive).
  if (tls_pool == this) {
    for (int64_t t = 0; t < tasks; ++t) fn(ctx, t, tls_thread);
    return;
  }
  std::lock_guard<std::mutex> submit(submit_mutex_);
  if (size_ == 1 || tasks == 1) {
    // Nothing to share: run on the caller as thread 0 (under the lock, so that index stays exclusive
    // against other outside callers), marked as ours so nested loops run inline too.
    struct Restore {
      const ThreadPool* pool;
      int thread;
      ~Restore() {
        tls_pool = pool;
        tls_thread = thread;
      }
    } restore{tls_pool, tls_thread};
    tls_pool = this;
    tls_thread = 0;
    for (int64_t t = 0; t < tasks; ++t) fn(ctx, t, 0);
    return;
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  job_tasks_ = tasks;
  job_failed_.store(false, std::memory_order_relaxed);
  job_error_ = nullptr;
  next_task_.store(0, std::memory_order_relaxed);
  left_.store(0, std::memory_order_relaxed);
  // Opening the door (release) publishes the job fields above to every worker that enters it.
  door_.store(0, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();

  work_on_current_job(0);
  // Every task has been claimed. Close the door; the workers that entered may still be running their
  // last task, so wait for exactly those (they are awake, so this is short). This also guarantees that
  // nobody reads job_ctx_, which lives on the caller's stack, after we return.
  const int entered = door_.exchange(std::numeric_limits<int>::min() / 2, std::memory_order_acq_rel);
  for (int i = 0; left_.load(std::memory_order_acquire) != entered; ++i) {
    if (i < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  if (job_failed_.load(std::memory_order_relaxed)) {
    std::exception_ptr error = job_error_;
    job_error_ = nullptr;
    std::rethrow_exception(error);
  }
}

}  // namespace fp4
