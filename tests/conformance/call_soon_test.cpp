// call_soon_test.cpp: spec section 2, the ready queue: call_soon handles, FIFO order, batch
// boundaries, cancelled handles and callable checks (items 18-23).
#include "conformance_util.h"

using conformance::run_one_iteration;

QAIO_LOOP_SUITE(CallSoon);

TYPED_TEST(CallSoon, Item18_CallSoonQueuesAHandleWithItsArguments) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> got;
  const auto ready_before = loop.ready_count();
  const auto timers_before = loop.timer_count();
  qaio::Handle h = loop.call_soon([&](int n, const std::string& s) { got.push_back(std::to_string(n) + s); }, 7,
                                  std::string("x"));
  EXPECT_TRUE(h);
  EXPECT_FALSE(h.cancelled());
  EXPECT_EQ(&h.get_loop(), &loop);
  EXPECT_EQ(loop.ready_count(), ready_before + 1);  // the ready queue, not the timer heap
  EXPECT_EQ(loop.timer_count(), timers_before);
  run_one_iteration(loop);
  EXPECT_EQ(got, (std::vector<std::string>{"7x"}));
}

TYPED_TEST(CallSoon, Item19_FifoOrderIncludingThreadsafeCallsFromTheLoopThread) {
  qaio::EventLoop& loop = this->loop;
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) {
    if (i % 2)
      loop.call_soon_threadsafe([&order, i] { order.push_back(i); });
    else
      loop.call_soon([&order, i] { order.push_back(i); });
  }
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(order.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);
}

TYPED_TEST(CallSoon, Item20_CallbacksQueuedByTheBatchRunNextIteration) {
  qaio::EventLoop& loop = this->loop;
  std::uint64_t scheduled_in = 0, ran_in = 0, timer_in = 0, from_timer_in = 0;
  loop.call_soon([&] {
    scheduled_in = loop.iteration_count();
    loop.call_soon([&] { ran_in = loop.iteration_count(); });
  });
  loop.call_later(0.01, [&] {
    timer_in = loop.iteration_count();
    loop.call_soon([&] {
      from_timer_in = loop.iteration_count();
      loop.stop();
    });
  });
  loop.run_forever();
  EXPECT_EQ(ran_in, scheduled_in + 1);
  EXPECT_EQ(from_timer_in, timer_in + 1);
}

TYPED_TEST(CallSoon, Item22_CancelledHandlesAreSkipped) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> ran;
  qaio::Handle early = loop.call_soon([&] { ran.push_back("early"); });
  early.cancel();
  qaio::Handle later;
  loop.call_soon([&] {
    ran.push_back("first");
    later.cancel();  // cancelled by an earlier callback of the same batch
  });
  later = loop.call_soon([&] { ran.push_back("later"); });
  loop.call_soon([&] { ran.push_back("last"); });
  run_one_iteration(loop);
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "last"}));
  EXPECT_EQ(loop.ready_count(), 0u);
}

TYPED_TEST(CallSoon, Item23_NonCallablesAreRejected) {
  qaio::EventLoop& loop = this->loop;
  // Python's TypeError for a non-callable or a coroutine: in C++ a non-invocable argument and a
  // callable returning qaio::Coro are compile errors (static_asserts in detail::bind_callback), so
  // the check holds with and without debug mode. What remains at run time is an empty callable:
  std::function<void()> empty;
  void (*null_fn)() = nullptr;
  QAIO_EXPECT_THROW_MSG(loop.call_soon(empty), std::invalid_argument,
                        "a callable object was expected by call_soon(), got None");
  QAIO_EXPECT_THROW_MSG(loop.call_soon(null_fn), std::invalid_argument,
                        "a callable object was expected by call_soon(), got None");
  QAIO_EXPECT_THROW_MSG(loop.call_soon_threadsafe(empty), std::invalid_argument,
                        "a callable object was expected by call_soon_threadsafe(), got None");
  QAIO_EXPECT_THROW_MSG(loop.call_later(0.1, empty), std::invalid_argument,
                        "a callable object was expected by call_later(), got None");
  QAIO_EXPECT_THROW_MSG(loop.call_at(loop.time(), null_fn), std::invalid_argument,
                        "a callable object was expected by call_at(), got None");
  EXPECT_THROW(loop.run_in_executor(nullptr, empty), std::invalid_argument);
  EXPECT_EQ(loop.ready_count(), 0u);
  EXPECT_EQ(loop.timer_count(), 0u);
  // The loop is still usable.
  int n = 0;
  loop.call_soon([&] { ++n; });
  run_one_iteration(loop);
  EXPECT_EQ(n, 1);
}
