// concurrency_sync_test.cpp: Lock and Event (spec items 133, 134), and the other primitives of
// sync.h (Semaphore, BoundedSemaphore, Condition, Barrier) against asyncio's behaviour.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencySync);

namespace {

qaio::Coro<void> take_lock(qaio::Lock* m, int id, std::vector<int>* order) {
  co_await m->acquire();
  order->push_back(id);
  m->release();
}

qaio::Coro<std::vector<int>> fifo_lock() {
  auto& loop = qaio::get_running_loop();
  qaio::Lock m;
  std::vector<int> order;
  co_await m.acquire();
  std::vector<qaio::Task<void>> tasks;
  for (int id : {1, 2, 3}) {
    tasks.push_back(loop.create_task(take_lock(&m, id, &order)));
    co_await qaio::sleep(0);  // each one queues behind the previous
  }
  m.release();
  for (auto& t : tasks) co_await t;
  co_return order;
}

struct CancelOutcome {
  std::vector<int> order;
  bool first_cancelled = false;
  bool locked_at_end = true;
};

// Waiter 1 is cancelled, either while queued or just after release() woke it: either way
// waiter 2 must get the lock (the wake-up is not lost) and waiter 1 is gone from the queue.
qaio::Coro<CancelOutcome> cancelled_acquire(bool after_wakeup) {
  auto& loop = qaio::get_running_loop();
  qaio::Lock m;
  CancelOutcome out;
  co_await m.acquire();
  qaio::Task<void> t1 = loop.create_task(take_lock(&m, 1, &out.order));
  qaio::Task<void> t2 = loop.create_task(take_lock(&m, 2, &out.order));
  co_await qaio::sleep(0);
  if (after_wakeup) {
    m.release();
    t1.cancel();
  } else {
    t1.cancel();
    co_await qaio::sleep(0);
    m.release();
  }
  try {
    co_await t1;
  } catch (const qaio::CancelledError&) {
    out.first_cancelled = true;
  }
  co_await t2;
  out.locked_at_end = m.locked();
  co_return out;
}

struct ScopedOutcome {
  bool locked_inside = false;
  bool locked_after = true;
  bool release_unlocked_throws = false;
};

qaio::Coro<ScopedOutcome> scoped_lock() {
  qaio::Lock m;
  ScopedOutcome out;
  {
    auto held = co_await m.scoped();
    out.locked_inside = m.locked() && held.owns();
  }
  out.locked_after = m.locked();
  try {
    m.release();
  } catch (const qaio::RuntimeError&) {
    out.release_unlocked_throws = true;
  }
  co_return out;
}

}  // namespace

TYPED_TEST(ConcurrencySync, Item133_LockIsGrantedInFifoOrder) {
  EXPECT_EQ(this->loop.run_until_complete(fifo_lock()), (std::vector<int>{1, 2, 3}));
}

TYPED_TEST(ConcurrencySync, Item133_CancelledAcquireLeavesTheQueueAndLosesNoWakeup) {
  for (bool after_wakeup : {false, true}) {
    CancelOutcome out = this->loop.run_until_complete(cancelled_acquire(after_wakeup));
    EXPECT_TRUE(out.first_cancelled) << after_wakeup;
    EXPECT_EQ(out.order, (std::vector<int>{2})) << after_wakeup;
    EXPECT_FALSE(out.locked_at_end) << after_wakeup;
  }
}

TYPED_TEST(ConcurrencySync, Item133_ScopedHoldAndReleaseOfUnlockedLock) {
  ScopedOutcome out = this->loop.run_until_complete(scoped_lock());
  EXPECT_TRUE(out.locked_inside);
  EXPECT_FALSE(out.locked_after);
  EXPECT_TRUE(out.release_unlocked_throws);
}

namespace {
qaio::Coro<void> wait_event(qaio::Event* e, int id, std::vector<int>* order) {
  bool woke = co_await e->wait();
  if (woke) order->push_back(id);
}

qaio::Coro<std::vector<int>> event_order() {
  auto& loop = qaio::get_running_loop();
  qaio::Event e;
  std::vector<int> order;
  qaio::Task<void> t1 = loop.create_task(wait_event(&e, 1, &order));
  qaio::Task<void> t2 = loop.create_task(wait_event(&e, 2, &order));
  co_await qaio::sleep(0);
  qaio::Task<void> t3 = loop.create_task(wait_event(&e, 3, &order));
  e.set();
  co_await qaio::sleep(0);
  std::vector<int> after_one_iteration = order;
  co_await t1;
  co_await t2;
  co_await t3;
  co_return after_one_iteration;
}

struct SetClearOutcome {
  bool woke = false;
  bool set_at_end = true;
  bool immediate = false;
};

qaio::Coro<SetClearOutcome> set_then_clear() {
  auto& loop = qaio::get_running_loop();
  qaio::Event e;
  std::vector<int> order;
  qaio::Task<void> t = loop.create_task(wait_event(&e, 1, &order));
  co_await qaio::sleep(0);
  e.set();
  e.clear();
  co_await t;
  SetClearOutcome out;
  out.woke = order == std::vector<int>{1};
  out.set_at_end = e.is_set();
  e.set();
  double t0 = loop.time();
  bool waited = co_await e.wait();  // not inside a condition: g++ 12 miscompiles that
  out.immediate = waited && loop.time() - t0 < 0.5;
  co_return out;
}
}  // namespace

TYPED_TEST(ConcurrencySync, Item134_EventSetWakesAllInCallSoonOrder) {
  EXPECT_EQ(this->loop.run_until_complete(event_order()), (std::vector<int>{3, 1, 2}));
}

TYPED_TEST(ConcurrencySync, Item134_SetThenClearStillWakesAndSetEventReturnsAtOnce) {
  SetClearOutcome out = this->loop.run_until_complete(set_then_clear());
  EXPECT_TRUE(out.woke);
  EXPECT_FALSE(out.set_at_end);
  EXPECT_TRUE(out.immediate);
}

namespace {
struct SemaphoreLog {
  int inside = 0;
  int max_inside = 0;
  std::vector<int> order;
};

qaio::Coro<void> use_semaphore(qaio::Semaphore* s, int id, SemaphoreLog* log) {
  auto held = co_await s->scoped();
  log->order.push_back(id);
  log->max_inside = std::max(log->max_inside, ++log->inside);
  co_await qaio::sleep(0.002);
  --log->inside;
}

qaio::Coro<SemaphoreLog> semaphore_limits() {
  auto& loop = qaio::get_running_loop();
  qaio::Semaphore s(2);
  SemaphoreLog log;
  std::vector<qaio::Task<void>> tasks;
  for (int id = 0; id < 6; ++id) tasks.push_back(loop.create_task(use_semaphore(&s, id, &log)));
  for (auto& t : tasks) co_await t;
  co_return log;
}

qaio::Coro<bool> semaphore_cancel_after_wakeup() {
  auto& loop = qaio::get_running_loop();
  qaio::Semaphore s(1);
  SemaphoreLog log;
  co_await s.acquire();
  qaio::Task<void> a = loop.create_task(use_semaphore(&s, 1, &log));
  qaio::Task<void> b = loop.create_task(use_semaphore(&s, 2, &log));
  co_await qaio::sleep(0);
  s.release();  // hands the unit to a...
  a.cancel();   // ...which is cancelled before it resumes: b must get it
  try {
    co_await a;
  } catch (const qaio::CancelledError&) {
  }
  co_await b;
  co_return log.order == std::vector<int>{2} && s.value() == 1 && !s.locked();
}
}  // namespace

TYPED_TEST(ConcurrencySync, SemaphoreBoundsConcurrencyInFifoOrder) {
  SemaphoreLog log = this->loop.run_until_complete(semaphore_limits());
  EXPECT_EQ(log.max_inside, 2);
  EXPECT_EQ(log.order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(this->loop.run_until_complete(semaphore_cancel_after_wakeup()));
}

TYPED_TEST(ConcurrencySync, BoundedSemaphoreRejectsExtraReleaseAndNegativeValue) {
  qaio::BoundedSemaphore bs(1);
  EXPECT_THROW(bs.release(), std::invalid_argument);
  EXPECT_THROW(qaio::Semaphore(-1), std::invalid_argument);
  qaio::Semaphore plain(0);
  plain.release();  // an unbounded semaphore may grow
  EXPECT_EQ(plain.value(), 1);
}

namespace {
qaio::Coro<void> condition_consumer(qaio::Condition* cv, int* items, int id, std::vector<int>* got) {
  auto held = co_await cv->scoped();
  auto has_item = [items] { return *items > 0; };
  co_await cv->wait_for(has_item);  // the lambda is built outside the co_await (g++ 12)
  --*items;
  got->push_back(id);
}

qaio::Coro<std::vector<int>> condition_notify() {
  auto& loop = qaio::get_running_loop();
  qaio::Condition cv;
  int items = 0;
  std::vector<int> got;
  std::vector<qaio::Task<void>> tasks;
  for (int id = 1; id <= 3; ++id) tasks.push_back(loop.create_task(condition_consumer(&cv, &items, id, &got)));
  co_await qaio::sleep(0.001);
  {
    auto held = co_await cv.scoped();
    items = 1;
    cv.notify(1);
  }
  co_await qaio::sleep(0.001);
  std::vector<int> after_one = got;
  {
    auto held = co_await cv.scoped();
    items = 2;
    cv.notify_all();
  }
  for (auto& t : tasks) co_await t;
  got.insert(got.begin(), static_cast<int>(after_one.size()));
  co_return got;
}

qaio::Coro<bool> condition_needs_lock() {
  qaio::Condition cv;
  bool wait_refused = false;
  bool notify_refused = false;
  try {
    co_await cv.wait();
  } catch (const qaio::RuntimeError&) {
    wait_refused = true;
  }
  try {
    cv.notify();
  } catch (const qaio::RuntimeError&) {
    notify_refused = true;
  }
  co_return wait_refused && notify_refused;
}

// Waiter 1 is notified and cancelled before it resumes: the notification passes to waiter 2.
qaio::Coro<std::vector<int>> condition_cancel_passes_notification() {
  auto& loop = qaio::get_running_loop();
  qaio::Condition cv;
  int items = 0;
  std::vector<int> got;
  qaio::Task<void> w1 = loop.create_task(condition_consumer(&cv, &items, 1, &got));
  qaio::Task<void> w2 = loop.create_task(condition_consumer(&cv, &items, 2, &got));
  co_await qaio::sleep(0.001);
  co_await cv.acquire();
  items = 1;
  cv.notify(1);
  cv.release();
  w1.cancel();
  try {
    co_await w1;
  } catch (const qaio::CancelledError&) {
    got.push_back(-1);
  }
  co_await w2;
  std::sort(got.begin(), got.end());  // w2 may run before this task sees w1's end
  co_return got;
}
}  // namespace

TYPED_TEST(ConcurrencySync, ConditionNotifyWakesTheRequestedNumber) {
  std::vector<int> got = this->loop.run_until_complete(condition_notify());
  EXPECT_EQ(got, (std::vector<int>{1, 1, 2, 3}));  // one woke after notify(1), then the rest in order
  EXPECT_TRUE(this->loop.run_until_complete(condition_needs_lock()));
}

TYPED_TEST(ConcurrencySync, ConditionCancelledWaiterPassesItsNotificationOn) {
  EXPECT_EQ(this->loop.run_until_complete(condition_cancel_passes_notification()), (std::vector<int>{-1, 2}));
}

namespace {
qaio::Coro<void> meet(qaio::Barrier* b, std::vector<std::size_t>* indices, std::vector<int>* phases, int round) {
  indices->push_back(co_await b->wait());
  phases->push_back(round);
}

qaio::Coro<bool> barrier_rounds() {
  auto& loop = qaio::get_running_loop();
  qaio::Barrier b(3);
  std::vector<std::size_t> indices;
  std::vector<int> phases;
  for (int round = 0; round < 2; ++round) {
    std::vector<qaio::Task<void>> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(loop.create_task(meet(&b, &indices, &phases, round)));
    co_await qaio::sleep(0.001);
    for (auto& t : tasks) co_await t;
  }
  std::vector<std::size_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());
  co_return sorted == (std::vector<std::size_t>{0, 0, 1, 1, 2, 2}) && phases == (std::vector<int>{0, 0, 0, 1, 1, 1}) &&
      b.n_waiting() == 0 && !b.broken();
}

qaio::Coro<bool> barrier_abort() {
  auto& loop = qaio::get_running_loop();
  qaio::Barrier b(3);
  std::vector<std::size_t> indices;
  std::vector<int> phases;
  qaio::Task<void> t = loop.create_task(meet(&b, &indices, &phases, 0));
  co_await qaio::sleep(0.001);
  bool one_waiting = b.n_waiting() == 1;
  co_await b.abort();
  bool broken_error = false;
  try {
    co_await t;
  } catch (const qaio::BrokenBarrierError&) {
    broken_error = true;
  }
  bool later_refused = false;
  try {
    co_await b.wait();
  } catch (const qaio::BrokenBarrierError&) {
    later_refused = true;
  }
  co_await b.reset();
  co_return one_waiting && broken_error && later_refused && !b.broken();
}
}  // namespace

TYPED_TEST(ConcurrencySync, BarrierReleasesEachRoundAndAbortBreaksIt) {
  EXPECT_TRUE(this->loop.run_until_complete(barrier_rounds()));
  EXPECT_TRUE(this->loop.run_until_complete(barrier_abort()));
  EXPECT_THROW(qaio::Barrier(0), std::invalid_argument);
}
