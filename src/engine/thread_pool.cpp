#include "engine/thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MUSE_CPU_RELAX() _mm_pause()
#else
#define MUSE_CPU_RELAX() std::this_thread::yield()
#endif

namespace muse {
namespace {
// How long a worker spins for the next run before it sleeps: longer than the gaps between the runs of a decode
// step and than the engine's sampling between steps; short enough that an idle engine frees the core at once.
// By the clock: a pause takes 3 to 140 cycles depending on the CPU. Waking a sleeping worker costs ~50-100 us
// on a virtual machine, as much as a whole small product.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);
// The caller, waiting for the workers' last tasks, spins this many pauses before it yields its core.
constexpr int kCallerSpins = 20000;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_job(int64_t count, Task task, void* ctx) {
  // No worker is inside a job here (the last run waited for pending_ == 0), so these plain writes race with
  // nothing; workers read them only after seeing the new generation.
  task_ = task;
  ctx_ = ctx;
  count_ = count;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  bool sleepers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    sleepers = sleeping_ > 0;
  }
  if (sleepers) wake_.notify_all();
  for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count;) task(ctx, i, 0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kCallerSpins) MUSE_CPU_RELAX();
    else std::this_thread::yield();  // a worker that was descheduled (shared machine) needs the core
  }
}

void ThreadPool::work(int thread) {
  const Task task = task_;
  void* const ctx = ctx_;
  const int64_t count = count_;
  for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count;) task(ctx, i, thread);
  pending_.fetch_sub(1, std::memory_order_release);
}

void ThreadPool::worker_loop(int thread) {
  // Generation 0 is the one before the first run, whenever this thread gets to start: a run issued before it
  // is scheduled must still count it in (pending_), so it must not read the counter as its starting point.
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = generation_.load(std::memory_order_acquire);
    if (now == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      for (int spins = 1; now == seen; ++spins) {
        MUSE_CPU_RELAX();
        now = generation_.load(std::memory_order_acquire);
        if (spins % 64 == 0 && std::chrono::steady_clock::now() > until) break;
      }
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleeping_;
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      --sleeping_;
      now = generation_.load(std::memory_order_acquire);
    }
    // The destructor stores stopping_ before its generation bump, which the acquire load above has seen.
    if (stopping_.load(std::memory_order_relaxed)) return;
    seen = now;
    work(thread);
  }
}

}  // namespace muse
