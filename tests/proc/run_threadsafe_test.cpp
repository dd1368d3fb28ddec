// run_threadsafe_test.cpp: qaio::run_coroutine_threadsafe from other threads (asyncio's
// test_tasks.RunCoroutineThreadsafeTests): result, exception, timeout that cancels the task on the
// loop, cancel() before the task starts, a loop closed under a waiter, a closed loop, move-only values.
#include <atomic>
#include <future>
#include <memory>
#include <thread>

#include "conformance_util.h"

namespace {

qaio::Coro<int> add_later(int a, int b, double delay) {
  co_await qaio::sleep(delay);
  co_return a + b;
}

qaio::Coro<int> fails_later() {
  co_await qaio::sleep(0.01);
  throw std::runtime_error("boom");
}

qaio::Coro<void> sleeps_and_notes_cancel(double delay, std::shared_ptr<std::atomic<int>> state) {
  state->store(1);  // started
  try {
    co_await qaio::sleep(delay);
  } catch (const qaio::CancelledError&) {
    state->store(2);  // cancelled on the loop
    throw;
  }
  state->store(3);
}

qaio::Coro<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

// Runs the loop until `done` is set by the helper thread.
template <class Fn>
void run_with_thread(qaio::EventLoop& loop, Fn body) {
  std::thread t([&] {
    body();
    loop.call_soon_threadsafe([&] { loop.stop(); });
  });
  loop.call_later(20, [&] { loop.stop(); });  // safety net only
  loop.run_forever();
  t.join();
}

}  // namespace

QAIO_LOOP_SUITE(RunThreadsafe);

TYPED_TEST(RunThreadsafe, ResultReachesTheOtherThread) {
  auto& loop = this->loop;
  int got = 0;
  std::future_status before{};
  run_with_thread(loop, [&] {
    auto f = qaio::run_coroutine_threadsafe(add_later(40, 2, 0.05), loop);
    before = f.wait_for(std::chrono::milliseconds(1));
    got = f.result(5.0);
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
  });
  EXPECT_EQ(before, std::future_status::timeout);
  EXPECT_EQ(got, 42);
}

TYPED_TEST(RunThreadsafe, ExceptionReachesTheOtherThread) {
  auto& loop = this->loop;
  std::string what;
  std::exception_ptr stored;
  run_with_thread(loop, [&] {
    auto f = qaio::run_coroutine_threadsafe(fails_later(), loop);
    try {
      f.get();
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    stored = f.exception();
  });
  EXPECT_EQ(what, "boom");
  EXPECT_TRUE(stored != nullptr);
}

TYPED_TEST(RunThreadsafe, TimeoutCancelsTheTaskOnTheLoop) {
  auto& loop = this->loop;
  auto state = std::make_shared<std::atomic<int>>(0);
  bool timed_out = false, cancelled = false;
  double waited = 0;
  run_with_thread(loop, [&] {
    auto f = qaio::run_coroutine_threadsafe(sleeps_and_notes_cancel(10, state), loop);
    waited = conformance::timed([&] {
      try {
        f.result(0.1);
      } catch (const qaio::TimeoutError&) {
        timed_out = true;
      }
    });
    cancelled = f.cancelled();
    // The cancellation runs on the loop's thread; wait for it to be seen there.
    for (int i = 0; i < 500 && state->load() != 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(cancelled);
  EXPECT_GE(waited, 0.09);
  EXPECT_LT(waited, 5.0);
  EXPECT_EQ(state->load(), 2);
}

TYPED_TEST(RunThreadsafe, CancelBeforeTheLoopRunsItMeansItNeverStarts) {
  auto& loop = this->loop;
  auto state = std::make_shared<std::atomic<int>>(0);
  auto f = qaio::run_coroutine_threadsafe(sleeps_and_notes_cancel(10, state), loop);
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), qaio::CancelledError);
  this->run_for(0.05);
  EXPECT_EQ(state->load(), 0);
  EXPECT_TRUE(f.cancel());  // cancelling again is harmless
}

TYPED_TEST(RunThreadsafe, CancelAfterItFinishedReturnsFalse) {
  auto& loop = this->loop;
  auto f = qaio::run_coroutine_threadsafe(add_later(1, 2, 0), loop);
  this->run_for(0.05);
  ASSERT_TRUE(f.done());
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 3);
}

TYPED_TEST(RunThreadsafe, ClosingTheLoopWakesWaiters) {
  auto& loop = this->loop;
  auto state = std::make_shared<std::atomic<int>>(0);
  auto f = qaio::run_coroutine_threadsafe(sleeps_and_notes_cancel(10, state), loop);
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    f.wait();
    woke = true;
  });
  this->run_for(0.05);
  EXPECT_EQ(state->load(), 1);
  EXPECT_FALSE(woke.load());
  this->capture_errors();  // "Task was destroyed but it is pending!"
  loop.close();
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_TRUE(f.cancelled());
}

TYPED_TEST(RunThreadsafe, ClosedLoopRaises) {
  auto& loop = this->loop;
  loop.close();
  EXPECT_THROW(qaio::run_coroutine_threadsafe(add_later(1, 1, 0), loop), qaio::RuntimeError);
}

TYPED_TEST(RunThreadsafe, MoveOnlyResult) {
  auto& loop = this->loop;
  std::unique_ptr<int> got;
  run_with_thread(loop, [&] { got = qaio::run_coroutine_threadsafe(boxed(9), loop).result(5.0); });
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 9);
}

TYPED_TEST(RunThreadsafe, ManyThreadsManyCoroutines) {
  auto& loop = this->loop;
  constexpr int kThreads = 4, kEach = 200;
  std::atomic<long> sum{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<qaio::ConcurrentFuture<int>> fs;
      for (int i = 0; i < kEach; ++i) fs.push_back(qaio::run_coroutine_threadsafe(add_later(t, i, 0.001), loop));
      for (auto& f : fs) sum += f.result(10.0);
      if (++finished == kThreads) loop.call_soon_threadsafe([&] { loop.stop(); });
    });
  }
  loop.call_later(30, [&] { loop.stop(); });
  loop.run_forever();
  for (auto& t : threads) t.join();
  long expected = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) expected += t + i;
  EXPECT_EQ(sum.load(), expected);
}
