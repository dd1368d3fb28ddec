// threadsafe_test.cpp: spec section 5, call_soon_threadsafe from other threads (item 40), plus the
// stress cases the design asks for: many producers, per-thread order kept, nothing lost.
#include <atomic>

#include "conformance_util.h"

using conformance::timed;

QAIO_LOOP_SUITE(Threadsafe);

TYPED_TEST(Threadsafe, Item40_AnotherThreadWakesABlockedLoop) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> got;
  loop.call_later(30, [&] { loop.stop(); });  // the only timer: the poll would block 30 s
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    loop.call_soon_threadsafe([&] {
      got.push_back("hello");
      loop.call_soon([&] {
        got.push_back("world");
        loop.stop();
      });
    });
  });
  double took = timed([&] { loop.run_forever(); });
  producer.join();
  EXPECT_EQ(got, (std::vector<std::string>{"hello", "world"}));
  EXPECT_GE(took, 0.05);
  EXPECT_LT(took, 5.0);
}

TYPED_TEST(Threadsafe, Item40_ManyProducersLoseNothingAndKeepTheirOrder) {
  qaio::EventLoop& loop = this->loop;
  constexpr int kThreads = 4, kPerThread = 5000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> finished{0};
  int total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.call_soon_threadsafe([&, t, i] {
          seen[t].push_back(i);
          if (++total == kThreads * kPerThread) loop.stop();
        });
      }
      ++finished;
    });
  }
  loop.call_later(20, [&] { loop.stop(); });  // safety net
  loop.run_forever();
  for (auto& th : threads) th.join();
  EXPECT_EQ(total, kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i);
  }
}
