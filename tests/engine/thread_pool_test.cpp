// The decode path's thread pool: every index runs exactly once per run, writes made on any thread are seen by
// the caller after run(), and back-to-back runs (the decode step's pattern) and idle gaps (workers asleep) both
// work. Many repeats, because a missed wake-up or a lost index would show only now and then.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "engine/thread_pool.h"

using namespace muse;

TEST(ThreadPool, EveryIndexOnceManyRuns) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    std::vector<int> hits(97);
    std::vector<int64_t> plain(97);  // written without atomics: visibility comes from run()'s ordering
    for (int run = 0; run < 5000; ++run) {
      const int64_t count = 1 + run % 97;
      pool.run(count, [&](int64_t i, int thread) {
        ASSERT_GE(thread, 0);
        ASSERT_LT(thread, threads);
        plain[static_cast<size_t>(i)] = run * 1000 + i;
        __atomic_fetch_add(&hits[static_cast<size_t>(i)], 1, __ATOMIC_RELAXED);
      });
      for (int64_t i = 0; i < count; ++i) ASSERT_EQ(plain[static_cast<size_t>(i)], run * 1000 + i) << run;
    }
    int64_t total = 0;
    for (int h : hits) total += h;
    int64_t expected = 0;
    for (int run = 0; run < 5000; ++run) expected += 1 + run % 97;
    EXPECT_EQ(total, expected) << threads << " threads";
  }
}

TEST(ThreadPool, WorkersSleepAndWakeUp) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int run = 0; run < 20; ++run) {
    std::this_thread::sleep_for(std::chrono::milliseconds(run % 3 == 0 ? 5 : 0));  // past the spin: asleep
    pool.run(8, [&](int64_t i, int) { sum.fetch_add(i, std::memory_order_relaxed); });
  }
  EXPECT_EQ(sum.load(), 20 * 28);
}

TEST(ThreadPool, UsesItsWorkers) {  // with slow tasks, more than the calling thread takes part
  ThreadPool pool(2);
  std::set<int> seen;
  std::vector<int> by_index(64, -1);
  pool.run(64, [&](int64_t i, int thread) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    by_index[static_cast<size_t>(i)] = thread;
  });
  for (int t : by_index) {
    ASSERT_GE(t, 0);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST(ThreadPool, DestroyWhileIdleOrAsleep) {
  for (int i = 0; i < 200; ++i) {
    ThreadPool pool(2 + i % 3);
    if (i % 2) pool.run(4, [](int64_t, int) {});
    if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}
