// A fixed pool of worker threads for data-parallel loops (matmul rows, attention heads, experts).
// parallel_for hands out task indices from one atomic counter, so uneven tasks balance themselves;
// the calling thread works as thread 0, so a pool of size 1 runs everything inline with no threads.
// Workers spin briefly after a loop finishes (the next layer's loop usually follows within
// microseconds) and then sleep on an atomic wait, so an idle server burns no CPU.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace fp4 {

class ThreadPool {
 public:
  // threads: total workers including the caller; 0 = one per core this process may run on.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Number of threads that run tasks, the caller included (>= 1).
  int size() const { return size_; }

  // Runs fn(task, thread) for every task in [0, tasks) and returns once all are done. thread is in
  // [0, size()) and is unique among concurrently running calls, so it can index per-thread scratch.
  // Calls from inside a task of this pool (nested loops) run inline on the calling thread, with
  // thread = the caller's index. Concurrent calls from different outside threads are serialised.
  // An exception thrown by fn is rethrown here after all tasks have finished (the first one wins).
  template <typename Fn>
  void parallel_for(int64_t tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<F*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // The process-wide pool, created on first use with one thread per core. FP4_THREADS in the
  // environment overrides the count (useful to measure scaling or to share a machine).
  static ThreadPool& global();

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void run(int64_t tasks, TaskFn fn, void* ctx);
  void worker_main(int thread);
  void work_on_current_job(int thread);

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;  // one outside caller at a time

  // The current job. generation_ changes once per parallel_for; workers wake on that change.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  TaskFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
  // Workers join a job through a door: entering adds 1 to door_; the caller, once every task has been
  // claimed, closes it (swaps in a large negative value) and waits only for the workers that got in
  // (left_ counts those done). A worker that is asleep or descheduled for the whole job is not waited
  // for, which matters on a busy machine where a woken thread may not run for milliseconds.
  std::atomic<int> door_{0};
  std::atomic<int> left_{0};
  std::atomic<bool> job_failed_{false};
  std::exception_ptr job_error_;
  std::mutex error_mutex_;
};

}  // namespace fp4
