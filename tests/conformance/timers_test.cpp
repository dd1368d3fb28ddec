// timers_test.cpp: spec section 3, call_later/call_at: the timer heap, ordering, deadlines,
// TimerHandle comparison, timeout rounding and sleep (items 25-35).
#include <cmath>
#include <limits>

#include "conformance_util.h"

using conformance::run_one_iteration;
using conformance::timed;

QAIO_LOOP_SUITE(Timers);

namespace {

// A named callable, not a lambda: clang 14 mis-evaluates lambdas inside requires-expressions.
struct Noop {
  void operator()() const {}
};
template <class L, class D>
concept CallLaterAccepts = requires(L& l, D d, Noop f) { l.call_later(d, f); };
template <class L, class W>
concept CallAtAccepts = requires(L& l, W w, Noop f) { l.call_at(w, f); };

qaio::Coro<std::string> sleep_with_result(double d) {
  std::string r = co_await qaio::sleep(d, std::string("done"));
  co_return r;
}

qaio::Coro<void> tiny_sleeps() {
  for (double d : {1e-2, 1e-4, 1e-6, 1e-8, 1e-10}) co_await qaio::sleep(d);
}

qaio::Coro<bool> sleep_zero_lets_queued_callback_run(qaio::EventLoop* loop) {
  bool ran = false;
  loop->call_soon([&ran] { ran = true; });
  co_await qaio::sleep(0);
  co_return ran;
}

qaio::Coro<void> sleep_nan() { co_await qaio::sleep(std::numeric_limits<double>::quiet_NaN()); }

}  // namespace

TYPED_TEST(Timers, Item25_CallLaterGoesToTheTimerHeap) {
  qaio::EventLoop& loop = this->loop;
  const double before = loop.time();
  qaio::TimerHandle t = loop.call_later(10.0, [] {});
  EXPECT_EQ(loop.timer_count(), 1u);
  EXPECT_EQ(loop.ready_count(), 0u);
  EXPECT_GE(t.when(), before + 10.0);
  EXPECT_LE(t.when(), loop.time() + 10.0);
  // Python's call_later(None, cb) TypeError: `delay` is a double or a std::chrono duration, so a
  // missing delay does not compile. A NaN delay is rejected at the call:
  static_assert(!CallLaterAccepts<qaio::EventLoop, std::nullptr_t>);
  QAIO_EXPECT_THROW_MSG(loop.call_later(std::nan(""), [] {}), std::invalid_argument, "delay must not be NaN");
  EXPECT_EQ(loop.timer_count(), 1u);
}

TYPED_TEST(Timers, Item26_CallLaterRunsOnceWithItsArgument) {
  qaio::EventLoop& loop = this->loop;
  std::vector<int> got;
  loop.call_later(0.1, [&](int v) { got.push_back(v); }, 5);
  loop.call_later(std::chrono::milliseconds(150), [&] { loop.stop(); });
  double took = timed([&] { loop.run_forever(); });
  EXPECT_EQ(got, std::vector<int>{5});
  EXPECT_GE(took, 0.1);
}

TYPED_TEST(Timers, Item27_NegativeDelaysOrderByDeadlineAfterReadyCallbacks) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> order;
  loop.call_soon([&] { order.push_back("soon"); });
  loop.call_later(-1, [&] { order.push_back("a"); });
  loop.call_later(-2, [&] { order.push_back("b"); });
  run_one_iteration(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"soon", "b", "a"}));
}

TYPED_TEST(Timers, Item28_CallAtNeverFiresEarly) {
  qaio::EventLoop& loop = this->loop;
  const double start = loop.time();
  double fired = 0;
  loop.call_at(start + 0.1, [&] {
    fired = loop.time();
    loop.stop();
  });
  loop.run_forever();
  EXPECT_GE(fired - start, 0.1 - 0.05);
  static_assert(!CallAtAccepts<qaio::EventLoop, std::nullptr_t>);  // "when cannot be None"
  QAIO_EXPECT_THROW_MSG(loop.call_at(std::nan(""), [] {}), std::invalid_argument, "when must not be NaN");
}

TYPED_TEST(Timers, Item30_TimerHandlesCompareByDeadline) {
  qaio::EventLoop& loop = this->loop;
  const double when = loop.time() + 10;
  qaio::TimerHandle h1 = loop.call_at(when, [] {});
  qaio::TimerHandle h2 = loop.call_at(when, [] {});
  EXPECT_TRUE(h1 == h2);
  EXPECT_TRUE(h1 <= h2);
  EXPECT_TRUE(h1 >= h2);
  EXPECT_FALSE(h1 < h2);
  EXPECT_FALSE(h1 > h2);
  h2.cancel();
  EXPECT_FALSE(h1 == h2);
  qaio::TimerHandle later = loop.call_at(when + 1, [] {});
  EXPECT_TRUE(h1 < later);
  EXPECT_TRUE(later > h1);
  EXPECT_TRUE(h1 <= later);
  EXPECT_FALSE(h1 >= later);
  EXPECT_FALSE(h1 == later);
}

TYPED_TEST(Timers, Item31_EqualDeadlinesAllRunAndZeroDelaysRunInCallOrder) {
  qaio::EventLoop& loop = this->loop;
  // Identical deadlines: every callback runs (asyncio does not promise FIFO; qaio happens to).
  std::vector<int> same;
  const double t = loop.time();
  for (int i = 0; i < 50; ++i) loop.call_at(t, [&same, i] { same.push_back(i); });
  // Successive call_later(0) get successive deadlines, so they run in call order.
  std::vector<int> zero;
  for (int i = 0; i < 50; ++i) loop.call_later(0, [&zero, i] { zero.push_back(i); });
  loop.call_later(0.02, [&] { loop.stop(); });
  loop.run_forever();
  std::vector<int> sorted = same;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_EQ(sorted.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  ASSERT_EQ(zero.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(zero[i], i);
}

TYPED_TEST(Timers, Item32_ExpiredTimersQueueBehindReadyCallbacks) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> order;
  loop.call_later(0, [&] { order.push_back("A"); });
  loop.call_soon([&] { order.push_back("B"); });
  loop.call_later(0.01, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"B", "A"}));
}

TYPED_TEST(Timers, Item33_CancelledHeadTimersAreDroppedBeforeTheTimeoutIsComputed) {
  qaio::EventLoop& loop = this->loop;
  // White box: a cancelled timer at the head is gone after one iteration and the next deadline is
  // the first live timer.
  qaio::TimerHandle head = loop.call_later(0.01, [] {});
  qaio::TimerHandle live = loop.call_later(10, [] {});
  head.cancel();
  EXPECT_EQ(loop.cancelled_timer_count(), 1u);
  run_one_iteration(loop);
  EXPECT_EQ(loop.timer_count(), 1u);
  EXPECT_EQ(loop.cancelled_timer_count(), 0u);
  ASSERT_TRUE(loop.next_timer_deadline().has_value());
  EXPECT_EQ(*loop.next_timer_deadline(), live.when());
  live.cancel();
  // Black box: with a cancelled timer due soon and a live one 200 ms away, the poll sleeps until
  // the live one: a couple of iterations at most, not a wake-up for the cancelled timer.
  loop.call_later(0.02, [] {}).cancel();
  loop.call_later(0.2, [&] { loop.stop(); });
  const auto before = loop.iteration_count();
  double took = timed([&] { loop.run_forever(); });
  EXPECT_GE(took, 0.15);
  EXPECT_LE(loop.iteration_count() - before, 3u);
}

TYPED_TEST(Timers, Item34_TinyTimeoutsDoNotSpin) {
  qaio::EventLoop& loop = this->loop;
  const auto before = loop.iteration_count();
  loop.run_until_complete(tiny_sleeps());
  EXPECT_LE(loop.iteration_count() - before, 20u);
}

TYPED_TEST(Timers, Item35_SleepResultNanAndZero) {
  qaio::EventLoop& loop = this->loop;
  EXPECT_EQ(loop.run_until_complete(sleep_with_result(0.01)), "done");
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(sleep_nan()), std::invalid_argument,
                        "Invalid delay: NaN (not a number)");
  EXPECT_TRUE(loop.run_until_complete(sleep_zero_lets_queued_callback_run(&loop)));
  // sleep(0) is exactly one iteration: the task's resumption is the next iteration's batch.
  const auto before = loop.iteration_count();
  loop.run_until_complete(conformance::sleeps(0));
  // one iteration for the first step, one for the resumption, one for the stop callback
  EXPECT_LE(loop.iteration_count() - before, 3u);
}
