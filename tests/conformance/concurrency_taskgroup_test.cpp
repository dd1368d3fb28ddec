// concurrency_taskgroup_test.cpp: TaskGroup (spec items 129, 130).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencyTaskGroup);

namespace {

qaio::Coro<int> value_after(double delay, int value, std::vector<int>* log) {
  co_await qaio::sleep(delay);
  log->push_back(value);
  co_return value;
}

qaio::Coro<void> fail_after(double delay, std::string what) {
  co_await qaio::sleep(delay);
  throw std::runtime_error(what);
}

// A child that later adds a grandchild to the same group.
qaio::Coro<void> spawner(qaio::TaskGroup* tg, std::vector<int>* log) {
  co_await qaio::sleep(0.005);
  tg->create_task(value_after(0.01, 3, log));
  log->push_back(2);
}

qaio::Coro<std::vector<int>> late_children() {
  std::vector<int> log;
  qaio::TaskGroup tg;
  tg.create_task(value_after(0.0, 1, &log));
  tg.create_task(spawner(&tg, &log));
  co_await qaio::sleep(0.001);
  tg.create_task(value_after(0.02, 4, &log));  // created after a delay
  co_await tg.join();
  log.push_back(static_cast<int>(tg.size()));  // nothing left running
  co_return log;
}

struct SiblingOutcome {
  bool cancelled_child_cancelled = false;
  int sibling_value = 0;
};

qaio::Coro<SiblingOutcome> cancel_one_child() {
  std::vector<int> log;
  SiblingOutcome out;
  qaio::TaskGroup tg;
  qaio::Task<int> doomed = tg.create_task(value_after(10, 1, &log));
  qaio::Task<int> sibling = tg.create_task(value_after(0.01, 2, &log));
  co_await qaio::sleep(0.001);
  doomed.cancel();
  co_await tg.join();  // no error: an explicitly cancelled child is not a failure
  out.cancelled_child_cancelled = doomed.cancelled();
  out.sibling_value = sibling.result();
  co_return out;
}

}  // namespace

TYPED_TEST(ConcurrencyTaskGroup, Item129_JoinWaitsForLateChildrenAndGrandchildren) {
  std::vector<int> log = this->loop.run_until_complete(late_children());
  // Every child, the late one and the grandchild included, finished before join() returned (their
  // relative order depends on timers only, so it is not asserted); then nothing was left running.
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log.back(), 0);
  std::vector<int> finished(log.begin(), log.end() - 1);
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(qaio::all_tasks(this->loop).empty());
}

TYPED_TEST(ConcurrencyTaskGroup, Item129_CancellingOneChildLeavesSiblingsAlone) {
  SiblingOutcome out = this->loop.run_until_complete(cancel_one_child());
  EXPECT_TRUE(out.cancelled_child_cancelled);
  EXPECT_EQ(out.sibling_value, 2);
}

namespace {
struct FailureOutcome {
  std::vector<std::string> errors;
  bool body_cancelled = false;
  bool sibling_cancelled = false;
  int cancelling_after = -1;
  bool parent_goes_on = false;
};

std::vector<std::string> messages(const qaio::ExceptionGroup& g) {
  std::vector<std::string> out;
  for (const auto& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      out.push_back(x.what());
    }
  }
  return out;
}

qaio::Coro<void> body_that_waits(qaio::TaskGroup* tg, qaio::Task<int>* sibling, std::vector<int>* log,
                                 bool* body_cancelled) {
  tg->create_task(fail_after(0.01, "child failed"));
  *sibling = tg->create_task(value_after(10, 1, log));
  try {
    co_await qaio::sleep(10);  // the group cancels the body when a child fails
  } catch (const qaio::CancelledError&) {
    *body_cancelled = true;
    throw;
  }
}

qaio::Coro<FailureOutcome> child_failure_with_run() {
  FailureOutcome out;
  std::vector<int> log;
  qaio::Task<int> sibling;
  qaio::TaskGroup tg;
  try {
    co_await tg.run(body_that_waits(&tg, &sibling, &log, &out.body_cancelled));
  } catch (const qaio::ExceptionGroup& g) {
    out.errors = messages(g);
  }
  out.sibling_cancelled = sibling.cancelled();
  out.cancelling_after = qaio::current_task().cancelling();
  co_await qaio::sleep(0.001);
  out.parent_goes_on = true;
  co_return out;
}

// Fails when `gate` opens: children on one gate fail in the same loop iteration.
qaio::Coro<void> fail_on(qaio::Future<> gate, std::string what) {
  co_await gate;
  throw std::runtime_error(what);
}

qaio::Coro<FailureOutcome> two_failures_with_join() {
  FailureOutcome out;
  std::vector<int> log;
  auto& loop = qaio::get_running_loop();
  qaio::Future<> gate = loop.create_future();
  loop.call_later(0.01, [gate] { gate.set_result(); });
  qaio::TaskGroup tg;
  tg.create_task(fail_on(gate, "first"));
  tg.create_task(fail_on(gate, "second"));
  qaio::Task<int> sibling = tg.create_task(value_after(10, 1, &log));
  try {
    co_await tg.join();
  } catch (const qaio::ExceptionGroup& g) {
    out.errors = messages(g);
  }
  out.sibling_cancelled = sibling.cancelled();
  out.cancelling_after = qaio::current_task().cancelling();
  co_return out;
}

qaio::Coro<void> parent_of_long_children(std::vector<qaio::Task<int>>* children, std::vector<int>* log) {
  qaio::TaskGroup tg;
  children->push_back(tg.create_task(value_after(10, 1, log)));
  children->push_back(tg.create_task(value_after(10, 2, log)));
  co_await tg.join();
}
}  // namespace

TYPED_TEST(ConcurrencyTaskGroup, Item130_ChildFailureCancelsSiblingsAndBodyThenRaisesGroup) {
  FailureOutcome out = this->loop.run_until_complete(child_failure_with_run());
  EXPECT_EQ(out.errors, (std::vector<std::string>{"child failed"}));
  EXPECT_TRUE(out.body_cancelled);
  EXPECT_TRUE(out.sibling_cancelled);
  EXPECT_EQ(out.cancelling_after, 0);  // the group withdrew the cancellation it made
  EXPECT_TRUE(out.parent_goes_on);
  EXPECT_TRUE(qaio::all_tasks(this->loop).empty());
}

TYPED_TEST(ConcurrencyTaskGroup, Item130_SeveralFailuresAreReportedTogether) {
  FailureOutcome out = this->loop.run_until_complete(two_failures_with_join());
  EXPECT_EQ(out.errors, (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(out.sibling_cancelled);
  EXPECT_EQ(out.cancelling_after, 0);
}

TYPED_TEST(ConcurrencyTaskGroup, Item130_CancelledParentCancelsEveryChildAndRaisesCancelledError) {
  auto& loop = this->loop;
  std::vector<qaio::Task<int>> children;
  std::vector<int> log;
  qaio::Task<void> parent = loop.create_task(parent_of_long_children(&children, &log));
  loop.call_later(0.01, [parent] { parent.cancel(); });
  EXPECT_THROW(loop.run_until_complete(parent), qaio::CancelledError);
  ASSERT_EQ(children.size(), 2u);
  EXPECT_TRUE(children[0].cancelled());
  EXPECT_TRUE(children[1].cancelled());
  EXPECT_TRUE(parent.cancelled());
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(qaio::all_tasks(loop).empty());
}

namespace {
qaio::Coro<bool> create_after_join() {
  qaio::TaskGroup tg;
  std::vector<int> log;
  tg.create_task(value_after(0, 1, &log));
  co_await tg.join();
  try {
    tg.create_task(value_after(0, 2, &log));
  } catch (const qaio::RuntimeError&) {
    co_return log.size() == 1;
  }
  co_return false;
}
}  // namespace

TYPED_TEST(ConcurrencyTaskGroup, CreateTaskAfterJoinIsRefused) {
  EXPECT_TRUE(this->loop.run_until_complete(create_after_join()));
  EXPECT_TRUE(qaio::all_tasks(this->loop).empty());
}
