// thread_pool_executor_test.cpp: ThreadPoolExecutor on its own (no loop): workers start on demand
// up to max_workers, every job runs once, shutdown waits and then refuses new work.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "qaio/errors.h"
#include "qaio/executor.h"

TEST(ThreadPoolExecutor, RunsEveryJobOnAtMostMaxWorkersThreads) {
  qaio::ThreadPoolExecutor pool(3);
  EXPECT_EQ(pool.max_workers(), 3u);
  EXPECT_EQ(pool.worker_count(), 0u);  // started on demand only
  std::atomic<int> ran{0}, inside{0}, max_inside{0};
  for (int i = 0; i < 200; ++i) {
    pool.submit([&] {
      int now = ++inside;
      int seen = max_inside.load();
      while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      --inside;
      ++ran;
    });
  }
  pool.shutdown(true);
  EXPECT_EQ(ran.load(), 200);
  EXPECT_LE(max_inside.load(), 3);
  EXPECT_LE(pool.worker_count(), 3u);
}

TEST(ThreadPoolExecutor, DefaultSizeFollowsCPython) {
  qaio::ThreadPoolExecutor pool;
  std::size_t expected = std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4);
  EXPECT_EQ(pool.max_workers(), expected);
}

TEST(ThreadPoolExecutor, SubmitAfterShutdownRaises) {
  qaio::ThreadPoolExecutor pool(1);
  pool.shutdown(true);
  try {
    pool.submit([] {});
    ADD_FAILURE() << "expected RuntimeError";
  } catch (const qaio::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
  pool.shutdown(true);  // twice is fine
}

TEST(ThreadPoolExecutor, ShutdownWithoutWaitLetsQueuedJobsFinishInTheDestructor) {
  std::atomic<int> ran{0};
  {
    qaio::ThreadPoolExecutor pool(1);
    for (int i = 0; i < 5; ++i) pool.submit([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ++ran;
    });
    pool.shutdown(false);  // returns at once; the destructor joins
  }
  EXPECT_EQ(ran.load(), 5);
}
