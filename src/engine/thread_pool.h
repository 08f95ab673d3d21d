// A small persistent pool for the fused decode path: run(count, f) calls f(i, thread) for every i in [0, count)
// on the calling thread (thread 0) and the pool's workers (threads 1 .. threads() - 1), and returns when all calls are done. Workers are created once; between
// runs they spin briefly (a decode step issues a few dozen runs a few microseconds apart) and then sleep on a
// condition variable, so an idle engine costs no CPU.
//
// Memory ordering: everything the caller wrote before run() is visible to f on every thread (the job is
// published with a release store of the generation counter under the mutex, read with an acquire load), and
// everything f wrote on any thread is visible to the caller after run() returns (each worker's release
// decrement of `pending_`, the caller's acquire loads until it reaches zero). f must not throw, and must not
// call run() on the same pool. One thread at a time may call run().
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace muse {

class ThreadPool {
 public:
  // `threads` in all, the caller included (threads - 1 workers); <= 1: no workers, run() is a plain loop.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  template <typename F>
  void run(int64_t count, F&& f) {
    if (count <= 0) return;
    if (workers_.empty() || count == 1) {
      for (int64_t i = 0; i < count; ++i) f(i, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_job(count, [](void* ctx, int64_t i, int thread) { (*static_cast<Fn*>(ctx))(i, thread); },
            const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  using Task = void (*)(void*, int64_t, int);
  void run_job(int64_t count, Task task, void* ctx);
  void work(int thread);  // takes tasks of the current job until none are left
  void worker_loop(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int sleeping_ = 0;          // guarded by mutex_
  std::atomic<bool> stopping_{false};  // set before the last generation bump
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};  // workers still inside the current job
  // The current job: written by the caller before the generation's release store.
  Task task_ = nullptr;
  void* ctx_ = nullptr;
  int64_t count_ = 0;
};

}  // namespace muse
