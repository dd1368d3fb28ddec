// handle_pool_test.cpp: the per-thread slab pool HandleStates come from (src/core/handle_pool.cpp).
// A pool must give its memory back once a burst of handles is gone, accept handles released on
// other threads, and survive its own thread's exit while handles made there are still alive.
// (AddressSanitizer builds bypass the pool; there the same paths run on operator new.)
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "qaio/qaio.h"

namespace {

constexpr std::size_t kBlock = std::size_t{2} << 20;
constexpr int kBurst = 100'000;  // about four 2 MiB blocks of 88-byte states

// Schedules kBurst callbacks on `loop` and returns their handles.
std::vector<qaio::Handle> burst(qaio::EventLoop& loop, int* ran) {
  std::vector<qaio::Handle> handles;
  handles.reserve(kBurst);
  for (int i = 0; i < kBurst; ++i) handles.push_back(loop.call_soon([ran] { ++*ran; }));
  return handles;
}

void run_once(qaio::EventLoop& loop) {
  loop.stop();
  loop.run_forever();
}

}  // namespace

TEST(HandlePool, ABurstIsGivenBackOnceItsHandlesAreGone) {
  const std::size_t before = qaio::detail::handle_pool_mapped_bytes();
  qaio::SelectorEventLoop loop;
  int ran = 0;
  {
    std::vector<qaio::Handle> handles = burst(loop, &ran);
    if (qaio::detail::handle_pool_enabled()) {
      EXPECT_GE(qaio::detail::handle_pool_mapped_bytes(), before + 4 * kBlock);
    }
    run_once(loop);
  }
  EXPECT_EQ(ran, kBurst);
  // Everything came back: at most the current block and one spare stay mapped.
  EXPECT_LE(qaio::detail::handle_pool_mapped_bytes(), before + 2 * kBlock);
  // And the pool serves the next burst.
  {
    std::vector<qaio::Handle> handles = burst(loop, &ran);
    run_once(loop);
  }
  EXPECT_EQ(ran, 2 * kBurst);
}

TEST(HandlePool, HandlesReleasedOnAnotherThreadReturnToTheirPool) {
  const std::size_t before = qaio::detail::handle_pool_mapped_bytes();
  qaio::SelectorEventLoop loop;
  int ran = 0;
  std::vector<qaio::Handle> handles = burst(loop, &ran);
  run_once(loop);  // the loop drops its references: the handles below hold the last ones
  std::thread([moved = std::move(handles)]() mutable { moved.clear(); }).join();
  // The owner takes its inbox back when it next needs a block: a second burst reuses the memory.
  {
    std::vector<qaio::Handle> again = burst(loop, &ran);
    run_once(loop);
  }
  EXPECT_EQ(ran, 2 * kBurst);
  EXPECT_LE(qaio::detail::handle_pool_mapped_bytes(), before + 6 * kBlock);
}

TEST(HandlePool, HandlesOutliveTheThreadThatMadeThem) {
  const std::size_t before = qaio::detail::handle_pool_mapped_bytes();
  std::vector<qaio::Handle> handles;
  int ran = 0;
  std::thread([&handles, &ran] {
    qaio::SelectorEventLoop loop;
    handles = burst(loop, &ran);
    run_once(loop);
    loop.close();
  }).join();  // the thread's pool is gone; its blocks are orphans kept alive by `handles`
  EXPECT_EQ(ran, kBurst);
  if (qaio::detail::handle_pool_enabled()) {
    // The orphaned blocks are still mapped: the handles keep them alive after their thread left.
    EXPECT_GE(qaio::detail::handle_pool_mapped_bytes(), before + 4 * kBlock);
  }
  handles.clear();  // the last release of each orphan block unmaps it
  EXPECT_LE(qaio::detail::handle_pool_mapped_bytes(), before);
}

namespace {
std::atomic<int> late_ran{0};

// Destroyed at thread exit after the thread's handle pool (it was constructed before the pool):
// scheduling from here must not touch the dead pool.
struct SchedulesInItsDestructor {
  ~SchedulesInItsDestructor() {
    qaio::SelectorEventLoop loop;
    loop.call_soon([] { late_ran.fetch_add(1); });
    loop.stop();
    loop.run_forever();
  }
};
}  // namespace

TEST(HandlePool, SchedulingAfterTheThreadsPoolIsGoneStillWorks) {
  std::thread([] {
    thread_local SchedulesInItsDestructor late;
    (void)&late;  // constructed first, so destroyed after the pool below
    qaio::SelectorEventLoop loop;
    loop.call_soon([] {});
    loop.stop();
    loop.run_forever();
  }).join();
  EXPECT_EQ(late_ran.load(), 1);
}
