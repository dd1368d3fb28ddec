// concurrency_wait_test.cpp: wait, wait_for and shield (spec items 121, 122, 124, 125), plus
// as_completed.
#include <stdexcept>
#include <string>
#include <vector>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencyWait);

namespace {

qaio::Coro<int> value_after(double delay, int value) {
  co_await qaio::sleep(delay);
  co_return value;
}

qaio::Coro<int> fail_after(double delay) {
  co_await qaio::sleep(delay);
  throw std::runtime_error("failed");
}

// Sleeps; when cancelled, spends `cleanup` seconds cleaning up before letting the
// CancelledError go, and records both facts.
struct Cleanup {
  bool cancelled = false;
  bool cleaned_up = false;
};
qaio::Coro<int> slow_with_cleanup(double delay, double cleanup, Cleanup* log) {
  std::exception_ptr error;
  try {
    co_await qaio::sleep(delay);
  } catch (const qaio::CancelledError&) {
    error = std::current_exception();
    log->cancelled = true;
  }
  if (error) {
    co_await qaio::sleep(cleanup);
    log->cleaned_up = true;
    std::rethrow_exception(error);
  }
  co_return 1;
}

// Swallows its cancellation and returns 42 instead.
qaio::Coro<int> swallow_cancel(bool* swallowed) {
  try {
    co_await qaio::sleep(10);
  } catch (const qaio::CancelledError&) {
    *swallowed = true;
  }
  co_return 42;
}

using Tasks = std::vector<qaio::Task<int>>;

template <class W>
std::vector<int> names(const std::vector<W>& fs, const Tasks& all) {
  std::vector<int> out;
  for (const auto& f : fs)
    for (std::size_t i = 0; i < all.size(); ++i)
      if (f == all[i]) out.push_back(static_cast<int>(i));
  return out;
}

struct WaitOutcome {
  std::vector<int> done, pending;
  double elapsed = 0;
};

qaio::Coro<WaitOutcome> wait_on(Tasks tasks, qaio::ReturnWhen when, std::optional<double> timeout) {
  auto& loop = qaio::get_running_loop();
  double t0 = loop.time();
  auto [done, pending] = co_await qaio::wait(tasks, when, timeout);
  WaitOutcome out{names(done, tasks), names(pending, tasks), loop.time() - t0};
  for (auto& t : tasks) t.cancel();
  co_return out;
}

// Compile-time checks for the cases where asyncio raises TypeError.
template <class A>
concept waitable = requires(A a) { qaio::wait(a); };
static_assert(waitable<std::vector<qaio::Task<int>>>);
static_assert(waitable<std::vector<qaio::AnyTask>>);
static_assert(!waitable<qaio::Task<int>>, "a bare task is not a collection");
static_assert(!waitable<std::vector<qaio::Coro<int>>>, "coroutines must be wrapped in tasks");

}  // namespace

TYPED_TEST(ConcurrencyWait, Item121_FirstCompletedReturnsDoneAndPending) {
  auto& loop = this->loop;
  Tasks tasks{loop.create_task(value_after(10, 0)), loop.create_task(value_after(0.01, 1)),
              loop.create_task(value_after(10, 2))};
  WaitOutcome out = loop.run_until_complete(wait_on(tasks, qaio::FIRST_COMPLETED, std::nullopt));
  EXPECT_EQ(out.done, (std::vector<int>{1}));
  EXPECT_EQ(out.pending, (std::vector<int>{0, 2}));
  this->run_for(0.001);
}

TYPED_TEST(ConcurrencyWait, Item121_FirstExceptionStopsAtTheFailure) {
  auto& loop = this->loop;
  Tasks tasks{loop.create_task(value_after(0.005, 0)), loop.create_task(fail_after(0.02)),
              loop.create_task(value_after(10, 2))};
  WaitOutcome out = loop.run_until_complete(wait_on(tasks, qaio::FIRST_EXCEPTION, std::nullopt));
  EXPECT_EQ(out.done, (std::vector<int>{0, 1}));
  EXPECT_EQ(out.pending, (std::vector<int>{2}));
  EXPECT_THROW(tasks[1].result(), std::runtime_error);
  this->run_for(0.001);

  // Without any failure FIRST_EXCEPTION waits for everything.
  Tasks ok{loop.create_task(value_after(0.0, 0)), loop.create_task(value_after(0.01, 1))};
  WaitOutcome all = loop.run_until_complete(wait_on(ok, qaio::FIRST_EXCEPTION, std::nullopt));
  EXPECT_EQ(all.done, (std::vector<int>{0, 1}));
  EXPECT_TRUE(all.pending.empty());
}

TYPED_TEST(ConcurrencyWait, Item121_AllCompletedAndTimeoutCancelsNothing) {
  auto& loop = this->loop;
  Tasks tasks{loop.create_task(value_after(0.0, 0)), loop.create_task(value_after(0.01, 1))};
  WaitOutcome all = loop.run_until_complete(wait_on(tasks, qaio::ALL_COMPLETED, std::nullopt));
  EXPECT_EQ(all.done, (std::vector<int>{0, 1}));
  EXPECT_TRUE(all.pending.empty());

  Tasks slow{loop.create_task(value_after(0.0, 0)), loop.create_task(value_after(10, 1))};
  qaio::Task<int> slow_one = slow[1];
  // wait_on cancels the leftovers itself afterwards, so look at the pending task inside the
  // timeout window through a second wait that does not clean up.
  auto check = [](Tasks t) -> qaio::Coro<bool> {
    auto [done, pending] = co_await qaio::wait(t, qaio::ALL_COMPLETED, 0.03);
    co_return done.size() == 1 && pending.size() == 1 && !pending[0].done() && !pending[0].cancelled();
  };
  double t0 = loop.time();
  EXPECT_TRUE(loop.run_until_complete(check(slow)));
  double elapsed = loop.time() - t0;
  EXPECT_GE(elapsed, 0.025);
  EXPECT_LT(elapsed, 1.0);
  EXPECT_FALSE(slow_one.done());  // the timeout did not cancel it
  slow_one.cancel();
  this->run_for(0.001);
  EXPECT_TRUE(slow_one.cancelled());
}

TYPED_TEST(ConcurrencyWait, Item121_EmptySetOrBadReturnWhenIsRejected) {
  auto& loop = this->loop;
  auto empty = []() -> qaio::Coro<void> {
    Tasks none;
    co_await qaio::wait(none);
  };
  EXPECT_THROW(loop.run_until_complete(empty()), std::invalid_argument);
  auto bad_flag = []() -> qaio::Coro<void> {
    Tasks one{qaio::get_running_loop().create_task(value_after(0, 1))};
    co_await qaio::wait(one, static_cast<qaio::ReturnWhen>(42));
  };
  EXPECT_THROW(loop.run_until_complete(bad_flag()), std::invalid_argument);
  this->run_for(0.001);
}

namespace {
struct WaitForTimeoutOutcome {
  bool timeout_error = false;
  bool nested_cancelled_error = false;
  bool inner_done_at_timeout = false;
  bool inner_cancelled = false;
  double elapsed = 0;
};

qaio::Coro<WaitForTimeoutOutcome> wait_for_task_times_out(Cleanup* log) {
  auto& loop = qaio::get_running_loop();
  qaio::Task<int> inner = loop.create_task(slow_with_cleanup(10, 0.02, log));
  WaitForTimeoutOutcome out;
  double t0 = loop.time();
  try {
    co_await qaio::wait_for(inner, 0.01);
  } catch (const qaio::TimeoutError& e) {
    out.timeout_error = true;
    try {
      std::rethrow_if_nested(e);
    } catch (const qaio::CancelledError&) {
      out.nested_cancelled_error = true;
    }
  }
  out.elapsed = loop.time() - t0;
  out.inner_done_at_timeout = inner.done();
  out.inner_cancelled = inner.cancelled();
  co_return out;
}

qaio::Coro<bool> wait_for_coro_times_out(Cleanup* log) {
  try {
    co_await qaio::wait_for(slow_with_cleanup(10, 0.01, log), 0.01);
  } catch (const qaio::TimeoutError&) {
    co_return true;
  }
  co_return false;
}

qaio::Coro<int> wait_for_without_limit() { co_return co_await qaio::wait_for(value_after(0.02, 9), std::nullopt); }
}  // namespace

TYPED_TEST(ConcurrencyWait, Item122_WaitForTimeoutCancelsInnerTaskAndWaitsForIt) {
  Cleanup log;
  WaitForTimeoutOutcome out = this->loop.run_until_complete(wait_for_task_times_out(&log));
  EXPECT_TRUE(out.timeout_error);
  EXPECT_TRUE(out.nested_cancelled_error);  // Python's __context__
  EXPECT_TRUE(log.cancelled);
  EXPECT_TRUE(log.cleaned_up);  // wait_for returned only after the inner cleanup ran
  EXPECT_TRUE(out.inner_done_at_timeout);
  EXPECT_TRUE(out.inner_cancelled);
  EXPECT_GE(out.elapsed, 0.025);  // 0.01 timeout + 0.02 cleanup, with clock slack
  EXPECT_LT(out.elapsed, 1.0);

  Cleanup coro_log;
  EXPECT_TRUE(this->loop.run_until_complete(wait_for_coro_times_out(&coro_log)));
  EXPECT_TRUE(coro_log.cancelled);
  EXPECT_TRUE(coro_log.cleaned_up);
}

TYPED_TEST(ConcurrencyWait, Item122_WaitForWithoutTimeoutWaitsForTheResult) {
  EXPECT_EQ(this->loop.run_until_complete(wait_for_without_limit()), 9);
}

namespace {
qaio::Coro<int> wait_for_inner(qaio::Task<int> inner) { co_return co_await qaio::wait_for(inner, 10.0); }

qaio::Coro<int> wait_for_swallowing(bool* swallowed) {
  qaio::Task<int> inner = qaio::get_running_loop().create_task(swallow_cancel(swallowed));
  co_return co_await qaio::wait_for(inner, 0.01);
}
}  // namespace

TYPED_TEST(ConcurrencyWait, Item124_CancellingTheWaiterCancelsTheInnerTask) {
  auto& loop = this->loop;
  Cleanup log;
  qaio::Task<int> inner = loop.create_task(slow_with_cleanup(10, 0.0, &log));
  qaio::Task<int> outer = loop.create_task(wait_for_inner(inner));
  loop.call_later(0.01, [outer] { outer.cancel(); });
  EXPECT_THROW(loop.run_until_complete(outer), qaio::CancelledError);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(log.cancelled);
}

TYPED_TEST(ConcurrencyWait, Item124_InnerThatSwallowsTheCancellationGivesItsValue) {
  bool swallowed = false;
  EXPECT_EQ(this->loop.run_until_complete(wait_for_swallowing(&swallowed)), 42);
  EXPECT_TRUE(swallowed);
}

namespace {
qaio::Coro<int> await_int(qaio::Future<int> f) { co_return co_await f; }
}  // namespace

TYPED_TEST(ConcurrencyWait, Item125_ShieldPassesResultAndException) {
  auto& loop = this->loop;
  qaio::Task<int> ok = loop.create_task(value_after(0.005, 3));
  EXPECT_EQ(loop.run_until_complete(await_int(qaio::shield(ok))), 3);
  qaio::Task<int> bad = loop.create_task(fail_after(0.005));
  qaio::Future<int> shielded_bad = qaio::shield(bad);
  EXPECT_THROW(loop.run_until_complete(await_int(shielded_bad)), std::runtime_error);
}

TYPED_TEST(ConcurrencyWait, Item125_CancellingTheOuterLeavesInnerRunning) {
  auto& loop = this->loop;
  qaio::Task<int> inner = loop.create_task(value_after(0.2, 5));  // far enough after the cancel, even under load
  qaio::Future<int> outer = qaio::shield(inner);
  qaio::Task<int> waiter = loop.create_task(await_int(outer));
  loop.call_later(0.005, [waiter] { waiter.cancel(); });
  EXPECT_THROW(loop.run_until_complete(waiter), qaio::CancelledError);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_FALSE(inner.done());
  EXPECT_EQ(loop.run_until_complete(inner), 5);  // finishes on its own
}

TYPED_TEST(ConcurrencyWait, Item125_CancellingInnerCancelsOuterAndDoneInnerIsReturned) {
  auto& loop = this->loop;
  qaio::Task<int> inner = loop.create_task(value_after(10, 5));
  qaio::Future<int> outer = qaio::shield(inner);
  loop.call_later(0.005, [inner] { inner.cancel(); });
  EXPECT_THROW(loop.run_until_complete(await_int(outer)), qaio::CancelledError);
  EXPECT_TRUE(outer.cancelled());

  qaio::Future<int> done = loop.template create_future<int>();
  done.set_result(8);
  qaio::Future<int> same = qaio::shield(done);
  EXPECT_TRUE(same == done);  // the shortcut: nothing to shield
  EXPECT_EQ(same.result(), 8);
}

namespace {
qaio::Coro<std::vector<int>> completion_order() {
  auto& loop = qaio::get_running_loop();
  Tasks tasks{loop.create_task(value_after(0.03, 1)), loop.create_task(value_after(0.0, 2)),
              loop.create_task(value_after(0.015, 3))};
  std::vector<int> order;
  for (auto& next : qaio::as_completed(tasks)) order.push_back(co_await next);
  co_return order;
}

qaio::Coro<std::vector<int>> completion_with_timeout() {
  std::vector<qaio::Coro<int>> coros;
  coros.push_back(value_after(0.0, 1));
  coros.push_back(value_after(10, 2));
  std::vector<int> got;
  for (auto& next : qaio::as_completed(std::move(coros), 0.02)) {
    try {
      got.push_back(co_await next);
    } catch (const qaio::TimeoutError&) {
      got.push_back(-1);
    }
  }
  for (auto& t : qaio::all_tasks())
    if (!(t == qaio::current_task())) t.cancel();
  co_return got;
}
}  // namespace

TYPED_TEST(ConcurrencyWait, AsCompletedYieldsInCompletionOrderAndTimesOut) {
  EXPECT_EQ(this->loop.run_until_complete(completion_order()), (std::vector<int>{2, 3, 1}));
  EXPECT_EQ(this->loop.run_until_complete(completion_with_timeout()), (std::vector<int>{1, -1}));
  this->run_for(0.001);
}
