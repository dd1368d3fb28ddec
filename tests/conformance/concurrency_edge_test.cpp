// concurrency_edge_test.cpp: the corners of the concurrency toolkit that the spec items do not
// pin down but asyncio does: a failing TaskGroup body, a group dropped without join, wait_for with
// no time at all, a timeout whose task is also cancelled from outside, a cancelled gather with
// return_exceptions, loop binding, cancelled putters, and waiters alive when the loop closes.
#include <stdexcept>
#include <string>
#include <vector>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencyEdge);

namespace {

qaio::Coro<int> value_after(double delay, int value, int* runs) {
  ++*runs;
  co_await qaio::sleep(delay);
  co_return value;
}

qaio::Coro<void> failing_body(qaio::TaskGroup* tg, std::vector<qaio::Task<int>>* children, int* runs) {
  children->push_back(tg->create_task(value_after(10, 1, runs)));
  co_await qaio::sleep(0.005);
  throw std::logic_error("body failed");
}

struct BodyOutcome {
  std::vector<std::string> errors;
  bool children_cancelled = false;
  bool children_done_when_caught = false;
};

qaio::Coro<BodyOutcome> body_failure() {
  BodyOutcome out;
  int runs = 0;
  std::vector<qaio::Task<int>> children;
  qaio::TaskGroup tg;
  try {
    co_await tg.run(failing_body(&tg, &children, &runs));
  } catch (const qaio::ExceptionGroup& g) {
    for (const auto& e : g.exceptions()) out.errors.push_back(qaio::describe_exception(e));
    out.children_done_when_caught = children.at(0).done();
  }
  out.children_cancelled = children.at(0).cancelled();
  co_return out;
}

qaio::Coro<bool> group_dropped_without_join(std::vector<qaio::Task<int>>* children) {
  int runs = 0;
  {
    qaio::TaskGroup tg;
    children->push_back(tg.create_task(value_after(10, 1, &runs)));
    co_await qaio::sleep(0);
  }  // destroyed without join(): the child is cancelled
  co_await qaio::sleep(0);
  co_await qaio::sleep(0);
  co_return children->at(0).cancelled();
}
}  // namespace

TYPED_TEST(ConcurrencyEdge, TaskGroupBodyErrorCancelsAndAwaitsChildrenThenGroupsTheError) {
  BodyOutcome out = this->loop.run_until_complete(body_failure());
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].find("body failed"), std::string::npos);
  EXPECT_TRUE(out.children_done_when_caught);  // awaited before the error left run()
  EXPECT_TRUE(out.children_cancelled);
  EXPECT_TRUE(qaio::all_tasks(this->loop).empty());
}

TYPED_TEST(ConcurrencyEdge, TaskGroupDestroyedWithoutJoinCancelsItsChildren) {
  std::vector<qaio::Task<int>> children;
  EXPECT_TRUE(this->loop.run_until_complete(group_dropped_without_join(&children)));
}

namespace {
struct ZeroOutcome {
  bool timeout_error = false;
  int runs = -1;
  int done_value = 0;
};

qaio::Coro<ZeroOutcome> wait_for_zero() {
  ZeroOutcome out;
  int runs = 0;
  try {
    co_await qaio::wait_for(value_after(0, 1, &runs), 0.0);
  } catch (const qaio::TimeoutError&) {
    out.timeout_error = true;
  }
  out.runs = runs;  // the coroutine was cancelled before its first step
  qaio::Future<int> done = qaio::get_running_loop().create_future<int>();
  done.set_result(5);
  out.done_value = co_await qaio::wait_for(done, 0.0);  // already done: its result, no timeout
  co_return out;
}

// The timeout and an outside cancel() hit the task together: the CancelledError is not ours
// alone, so it passes through instead of becoming TimeoutError (asyncio's cancelling() rule).
qaio::Coro<void> timeout_and_outside_cancel(int* runs) {
  auto& loop = qaio::get_running_loop();
  qaio::AnyTask me = qaio::current_task();
  double when = loop.time() + 0.01;  // one deadline: both fire in the same iteration
  loop.call_at(when, [me] { me.cancel(); });
  co_await qaio::timeout_at(when, value_after(10, 1, runs));
}
}  // namespace

TYPED_TEST(ConcurrencyEdge, WaitForWithNoTimeCancelsBeforeTheWorkRuns) {
  ZeroOutcome out = this->loop.run_until_complete(wait_for_zero());
  EXPECT_TRUE(out.timeout_error);
  EXPECT_EQ(out.runs, 0);
  EXPECT_EQ(out.done_value, 5);
}

TYPED_TEST(ConcurrencyEdge, TimeoutDoesNotSwallowAnOutsideCancellation) {
  int runs = 0;
  qaio::Task<void> t = this->loop.create_task(timeout_and_outside_cancel(&runs));
  EXPECT_THROW(this->loop.run_until_complete(t), qaio::CancelledError);
  EXPECT_TRUE(t.cancelled());
}

namespace {
qaio::Coro<void> await_settled(qaio::Future<std::tuple<qaio::Result<int>, qaio::Result<int>>> g) { co_await g; }
}  // namespace

TYPED_TEST(ConcurrencyEdge, CancellingASettledGatherStillRaisesCancelledError) {
  auto& loop = this->loop;
  qaio::set_event_loop(&loop);
  int runs = 0;
  auto g = qaio::gather_settled(value_after(10, 1, &runs), value_after(10, 2, &runs));
  qaio::Task<void> waiter = loop.create_task(await_settled(g));
  loop.call_later(0.01, [waiter] { waiter.cancel(); });
  EXPECT_THROW(loop.run_until_complete(waiter), qaio::CancelledError);
  qaio::set_event_loop(nullptr);
  EXPECT_TRUE(g.done());
  EXPECT_TRUE(waiter.cancelled());
}

namespace {
qaio::Coro<void> pause(double seconds) { co_await qaio::sleep(seconds); }

qaio::Coro<void> hold(qaio::Lock* m, double seconds) {
  co_await m->acquire();
  co_await qaio::sleep(seconds);
  m->release();
}
}  // namespace

TYPED_TEST(ConcurrencyEdge, APrimitiveStaysBoundToTheLoopItFirstBlockedOn) {
  qaio::Lock m;
  this->loop.create_task(hold(&m, 0.005));
  this->loop.run_until_complete(hold(&m, 0.0));  // the second one blocked: bound to this loop
  auto other = this->make_other_loop();
  other->create_task(hold(&m, 0.005));
  EXPECT_THROW(other->run_until_complete(hold(&m, 0.0)), qaio::RuntimeError);
  other->run_until_complete(pause(0.02));  // let the first holder finish on its loop
  EXPECT_FALSE(m.locked());
  other->close();
}

namespace {
qaio::Coro<void> put_into(qaio::Queue<int>* q, int v, std::vector<int>* put) {
  co_await q->put(v);
  put->push_back(v);
}

// A putter woken by get() but cancelled before resuming hands the free slot to the next putter.
qaio::Coro<std::vector<int>> cancelled_putter_passes_the_slot() {
  auto& loop = qaio::get_running_loop();
  qaio::Queue<int> q(1);
  std::vector<int> put;
  q.put_nowait(0);
  qaio::Task<void> p1 = loop.create_task(put_into(&q, 1, &put));
  qaio::Task<void> p2 = loop.create_task(put_into(&q, 2, &put));
  co_await qaio::sleep(0);
  int first = q.get_nowait();
  p1.cancel();
  try {
    co_await p1;
  } catch (const qaio::CancelledError&) {
  }
  co_await p2;
  put.push_back(first);
  put.push_back(q.get_nowait());
  co_return put;
}
}  // namespace

TYPED_TEST(ConcurrencyEdge, CancelledPutterPassesTheFreeSlotOn) {
  EXPECT_EQ(this->loop.run_until_complete(cancelled_putter_passes_the_slot()), (std::vector<int>{2, 0, 2}));
}

namespace {
qaio::Coro<void> block_on_everything(qaio::Lock* m, qaio::Queue<int>* q, qaio::Event* e, qaio::Semaphore* s) {
  co_await m->acquire();
  co_await s->acquire();
  co_await q->get();
  co_await e->wait();
}
}  // namespace

TYPED_TEST(ConcurrencyEdge, WaitersStillBlockedWhenTheLoopClosesAreDroppedSafely) {
  this->capture_errors();
  {
    qaio::Lock m;
    qaio::Queue<int> q;
    qaio::Event e;
    qaio::Semaphore s(1);
    this->loop.create_task(block_on_everything(&m, &q, &e, &s));  // ends up blocked on the queue
    this->loop.create_task(block_on_everything(&m, &q, &e, &s));  // ends up blocked on the lock
    this->run_for(0.01);
    EXPECT_TRUE(m.locked());
  }  // the primitives go first; their waiting frames are destroyed by close() below
  this->loop.close();
  EXPECT_EQ(this->errors.size(), 2u);  // "Task was destroyed but it is pending!" for each
}
