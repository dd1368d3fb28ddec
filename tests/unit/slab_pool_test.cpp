// slab_pool_test.cpp: the per-thread slab pools that handles, coroutine frames and future/task
// states come from (include/qaio/detail/slab_pool.h, src/core/slab_pool.cpp).
// A pool must give its memory back once a burst is gone, accept objects released on other
// threads, survive its own thread's exit while objects made there are still alive, and hand out
// memory aligned and sized for what asked. (AddressSanitizer builds bypass the pool; there the same
// paths run on operator new.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <cstdint>
#include <cstring>

#include "qaio/detail/slab_pool.h"
#include "qaio/qaio.h"

namespace {

constexpr std::size_t kBlock = std::size_t{2} << 20;
constexpr int kBurst = 250'000;  // about five 2 MiB blocks of 40-byte states (a one-pointer lambda)

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

TEST(SlabPool, ABurstIsGivenBackOnceItsHandlesAreGone) {
  const std::size_t before = qaio::detail::slab_mapped_bytes();
  qaio::SelectorEventLoop loop;
  int ran = 0;
  {
    std::vector<qaio::Handle> handles = burst(loop, &ran);
    if (qaio::detail::slab_pool_enabled()) {
      EXPECT_GE(qaio::detail::slab_mapped_bytes(), before + 4 * kBlock);
    }
    run_once(loop);
  }
  EXPECT_EQ(ran, kBurst);
  // Everything came back: at most the current block and one spare stay mapped.
  EXPECT_LE(qaio::detail::slab_mapped_bytes(), before + 2 * kBlock);
  // And the pool serves the next burst.
  {
    std::vector<qaio::Handle> handles = burst(loop, &ran);
    run_once(loop);
  }
  EXPECT_EQ(ran, 2 * kBurst);
}

TEST(SlabPool, HandlesReleasedOnAnotherThreadReturnToTheirPool) {
  const std::size_t before = qaio::detail::slab_mapped_bytes();
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
  EXPECT_LE(qaio::detail::slab_mapped_bytes(), before + 6 * kBlock);
}

TEST(SlabPool, HandlesOutliveTheThreadThatMadeThem) {
  const std::size_t before = qaio::detail::slab_mapped_bytes();
  std::vector<qaio::Handle> handles;
  int ran = 0;
  std::thread([&handles, &ran] {
    qaio::SelectorEventLoop loop;
    handles = burst(loop, &ran);
    run_once(loop);
    loop.close();
  }).join();  // the thread's pool is gone; its blocks are orphans kept alive by `handles`
  EXPECT_EQ(ran, kBurst);
  if (qaio::detail::slab_pool_enabled()) {
    // The orphaned blocks are still mapped: the handles keep them alive after their thread left.
    EXPECT_GE(qaio::detail::slab_mapped_bytes(), before + 4 * kBlock);
  }
  handles.clear();  // the last release of each orphan block unmaps it
  EXPECT_LE(qaio::detail::slab_mapped_bytes(), before);
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

TEST(SlabPool, SchedulingAfterTheThreadsPoolIsGoneStillWorks) {
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

TEST(SlabPool, SlotsAreAlignedAndSizedForWhatAskedForThem) {
  // Every size class up to the pool's limit, and two sizes beyond it (operator new's).
  std::vector<std::pair<void*, std::size_t>> taken;
  for (std::size_t size = 8; size <= qaio::detail::kSlabMaxSize + 16; size += 8) {
    for (int i = 0; i < 3; ++i) {
      void* p = qaio::detail::slab_allocate(size);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u) << size;
      // Sizes that are multiples of 16 (frames, shared states) get 16-byte alignment.
      if (size % 16 == 0) {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u) << size;
      }
      std::memset(p, 0xab, size);  // the whole slot is usable (ASan and the neighbours check it)
      taken.emplace_back(p, size);
    }
  }
  // No two slots overlap.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  for (auto [p, size] : taken) ranges.emplace_back(reinterpret_cast<std::uintptr_t>(p), reinterpret_cast<std::uintptr_t>(p) + size);
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) EXPECT_LE(ranges[i - 1].second, ranges[i].first);
  for (auto [p, size] : taken) qaio::detail::slab_free(p, size);
}

namespace {
qaio::Coro<int> leaf(int i) { co_return i; }

qaio::Coro<long> spawn_and_sum(qaio::EventLoop* loop, int n) {
  std::vector<qaio::Task<int>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(loop->create_task(leaf(i)));
  long sum = 0;
  for (auto& t : tasks) sum += co_await t;
  co_return sum;
}
}  // namespace

TEST(SlabPool, TaskStatesAndFramesGoBackWhenTheTasksAreGone) {
  qaio::SelectorEventLoop loop;
  const std::size_t before = qaio::detail::slab_live_bytes_this_thread();
  constexpr int kTasks = 50'000;
  {
    qaio::Task<long> main = loop.create_task(spawn_and_sum(&loop, kTasks));
    EXPECT_EQ(loop.run_until_complete(main), long{kTasks} * (kTasks - 1) / 2);
    if (qaio::detail::slab_pool_enabled()) {
      // Only the finished main task (its state; its frame is gone) is still held, by `main`.
      EXPECT_LT(qaio::detail::slab_live_bytes_this_thread(), before + 1024);
    }
  }
  EXPECT_LE(qaio::detail::slab_live_bytes_this_thread(), before);
  EXPECT_TRUE(loop.tasks().empty());
}

TEST(SlabPool, ACoroutineMadeOnOneThreadIsDestroyedOnAnother) {
  // Frames of coroutines created on a worker (and never run) are freed by the main thread after
  // the worker exited: the worker's blocks are orphans then, unmapped by their last free.
  std::vector<qaio::Coro<int>> made;
  std::thread([&made] {
    for (int i = 0; i < 20'000; ++i) made.push_back(leaf(i));
  }).join();
  ASSERT_EQ(made.size(), 20'000u);
  made.clear();
  // And the other way round: made here, destroyed on a worker whose pool is not their owner.
  for (int i = 0; i < 20'000; ++i) made.push_back(leaf(i));
  std::thread([moved = std::move(made)]() mutable { moved.clear(); }).join();
  // The main thread's pool takes them back from its inbox when it next needs a block.
  qaio::SelectorEventLoop loop;
  EXPECT_EQ(loop.run_until_complete(spawn_and_sum(&loop, 20'000)), 20'000L * 19'999 / 2);
}
