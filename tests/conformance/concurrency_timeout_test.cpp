// concurrency_timeout_test.cpp: qaio::timeout / timeout_at and the Timeout object (spec items 126,
// 127).
#include <optional>
#include <string>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencyTimeout);

namespace {

// Sleeps `delay`; records whether the sleep was interrupted by CancelledError (then rethrows).
qaio::Coro<int> sleeper(double delay, bool* saw_cancel) {
  try {
    co_await qaio::sleep(delay);
  } catch (const qaio::CancelledError&) {
    if (saw_cancel) *saw_cancel = true;
    throw;
  }
  co_return 1;
}

struct ExpiryOutcome {
  bool body_saw_cancel = false;
  bool timeout_error = false;
  bool expired = false;
  std::optional<double> when;
  double deadline = 0;
  int cancelling_after = -1;
  bool task_goes_on = false;
  double elapsed = 0;
};

// Runs a 10 s sleep under a 20 ms deadline, made by timeout() or timeout_at().
qaio::Coro<ExpiryOutcome> expire_once(bool use_timeout_at) {
  auto& loop = qaio::get_running_loop();
  ExpiryOutcome out;
  double t0 = loop.time();
  qaio::Timeout cm = use_timeout_at ? qaio::timeout_at(t0 + 0.02) : qaio::timeout(0.02);
  out.deadline = use_timeout_at ? t0 + 0.02 : *cm.when();
  try {
    co_await cm.run(sleeper(10, &out.body_saw_cancel));
  } catch (const qaio::TimeoutError&) {
    out.timeout_error = true;
  }
  out.elapsed = loop.time() - t0;
  out.expired = cm.expired();
  out.when = cm.when();
  out.cancelling_after = qaio::current_task().cancelling();
  co_await qaio::sleep(0.001);  // the task was not left cancelled: it can go on awaiting
  out.task_goes_on = true;
  co_return out;
}

qaio::Coro<int> one_liner(double delay, double work) {
  bool saw_cancel = false;
  try {
    co_return co_await qaio::timeout(delay, sleeper(work, &saw_cancel));
  } catch (const qaio::TimeoutError&) {
  }
  co_return saw_cancel ? -1 : -2;
}

qaio::Coro<int> one_liner_at(double delay) {
  bool saw_cancel = false;
  double when = qaio::get_running_loop().time() + delay;
  try {
    co_return co_await qaio::timeout_at(when, sleeper(10, &saw_cancel));
  } catch (const qaio::TimeoutError&) {
  }
  co_return saw_cancel ? -1 : -2;
}

qaio::Coro<void> move_deadline(qaio::Timeout* cm, double delay) {
  cm->reschedule(qaio::get_running_loop().time() + delay);
  co_await qaio::sleep(10);
}

struct RescheduleOutcome {
  bool error_before_enter = false;
  bool timeout_error = false;
  bool error_after_exit = false;
  double elapsed = 0;
};

qaio::Coro<RescheduleOutcome> reschedule_inside() {
  auto& loop = qaio::get_running_loop();
  RescheduleOutcome out;
  qaio::Timeout cm = qaio::timeout(std::nullopt);
  try {
    cm.reschedule(loop.time() + 1);
  } catch (const qaio::RuntimeError&) {
    out.error_before_enter = true;
  }
  double t0 = loop.time();
  try {
    co_await cm.run(move_deadline(&cm, 0.02));
  } catch (const qaio::TimeoutError&) {
    out.timeout_error = true;
  }
  out.elapsed = loop.time() - t0;
  try {
    cm.reschedule(std::nullopt);
  } catch (const qaio::RuntimeError&) {
    out.error_after_exit = true;
  }
  co_return out;
}

}  // namespace

TYPED_TEST(ConcurrencyTimeout, Item126_ExpiryCancelsTheBodyAndRaisesTimeoutError) {
  for (bool at : {false, true}) {
    ExpiryOutcome out = this->loop.run_until_complete(expire_once(at));
    EXPECT_TRUE(out.body_saw_cancel);
    EXPECT_TRUE(out.timeout_error);
    EXPECT_TRUE(out.expired);
    ASSERT_TRUE(out.when.has_value());
    EXPECT_DOUBLE_EQ(*out.when, out.deadline);
    EXPECT_EQ(out.cancelling_after, 0);  // the timeout withdrew its own cancellation
    EXPECT_TRUE(out.task_goes_on);
    EXPECT_GE(out.elapsed, 0.015);
    EXPECT_LT(out.elapsed, 1.0);
  }
}

TYPED_TEST(ConcurrencyTimeout, Item126_OneLinersAndWorkThatFinishesInTime) {
  EXPECT_EQ(this->loop.run_until_complete(one_liner(0.01, 10)), -1);
  EXPECT_EQ(this->loop.run_until_complete(one_liner_at(0.01)), -1);
  EXPECT_EQ(this->loop.run_until_complete(one_liner(1.0, 0.001)), 1);
}

TYPED_TEST(ConcurrencyTimeout, Item126_RescheduleMovesTheDeadlineOnlyWhileActive) {
  RescheduleOutcome out = this->loop.run_until_complete(reschedule_inside());
  EXPECT_TRUE(out.error_before_enter);
  EXPECT_TRUE(out.timeout_error);
  EXPECT_TRUE(out.error_after_exit);
  EXPECT_GE(out.elapsed, 0.015);
  EXPECT_LT(out.elapsed, 1.0);
}

namespace {
struct NestedOutcome {
  bool inner_saw_cancelled_error = false;
  bool inner_saw_timeout_error = false;
  bool outer_timeout_error = false;
  bool outer_expired = false;
  bool inner_expired = false;
};

qaio::Coro<void> inner_block(qaio::Timeout* inner, NestedOutcome* out) {
  bool body_cancel = false;
  try {
    co_await inner->run(sleeper(10, &body_cancel));
  } catch (const qaio::TimeoutError&) {
    out->inner_saw_timeout_error = true;
    throw;
  } catch (const qaio::CancelledError&) {
    out->inner_saw_cancelled_error = true;
    throw;
  }
}

qaio::Coro<NestedOutcome> nested_same_deadline() {
  NestedOutcome out;
  double when = qaio::get_running_loop().time() + 0.01;
  qaio::Timeout outer(when);
  qaio::Timeout inner(when);
  try {
    co_await outer.run(inner_block(&inner, &out));
  } catch (const qaio::TimeoutError&) {
    out.outer_timeout_error = true;
  }
  out.outer_expired = outer.expired();
  out.inner_expired = inner.expired();
  co_return out;
}

qaio::Coro<void> yield_once() { co_await qaio::sleep(0); }

qaio::Coro<int> zero_deadline(bool in_the_past) {
  auto& loop = qaio::get_running_loop();
  try {
    if (in_the_past) {
      co_await qaio::timeout_at(loop.time() - 1, yield_once());
    } else {
      co_await qaio::timeout(0.0, yield_once());
    }
  } catch (const qaio::TimeoutError&) {
    co_return 1;
  }
  co_return 0;
}

struct DisabledOutcome {
  bool when_empty = false;
  bool expired = true;
  int value = 0;
};

qaio::Coro<DisabledOutcome> disabled_timeout() {
  DisabledOutcome out;
  qaio::Timeout cm = qaio::timeout(std::nullopt);
  out.when_empty = !cm.when().has_value();
  out.value = co_await cm.run(sleeper(0.02, nullptr));
  out.expired = cm.expired();
  co_return out;
}
}  // namespace

TYPED_TEST(ConcurrencyTimeout, Item127_NestedTimeoutsWithOneDeadlineOnlyOutermostRaises) {
  NestedOutcome out = this->loop.run_until_complete(nested_same_deadline());
  EXPECT_TRUE(out.inner_saw_cancelled_error);
  EXPECT_FALSE(out.inner_saw_timeout_error);
  EXPECT_TRUE(out.outer_timeout_error);
  EXPECT_TRUE(out.outer_expired);
  EXPECT_TRUE(out.inner_expired);
}

TYPED_TEST(ConcurrencyTimeout, Item127_ZeroOrPastDeadlineFiresAtTheNextAwaitEvenSleepZero) {
  EXPECT_EQ(this->loop.run_until_complete(zero_deadline(false)), 1);
  EXPECT_EQ(this->loop.run_until_complete(zero_deadline(true)), 1);
}

TYPED_TEST(ConcurrencyTimeout, Item127_NoDeadlineNeverFires) {
  DisabledOutcome out = this->loop.run_until_complete(disabled_timeout());
  EXPECT_TRUE(out.when_empty);
  EXPECT_FALSE(out.expired);
  EXPECT_EQ(out.value, 1);
}
