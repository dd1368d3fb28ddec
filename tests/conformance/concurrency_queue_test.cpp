// concurrency_queue_test.cpp: Queue, LifoQueue, PriorityQueue (spec item 137), plus task_done/join,
// the nowait errors, 3.13's shutdown, and cancellation that loses no item.
#include <string>
#include <utility>
#include <vector>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencyQueue);

namespace {

template <class Q>
qaio::Coro<std::vector<int>> drain_order(std::vector<int> input) {
  Q q;
  for (int x : input) co_await q.put(x);
  std::vector<int> out;
  while (!q.empty()) out.push_back(co_await q.get());
  co_return out;
}

qaio::Coro<std::vector<std::string>> priority_pairs() {
  qaio::PriorityQueue<std::pair<int, std::string>> q;
  q.put_nowait({3, "c"});
  q.put_nowait({1, "a"});
  q.put_nowait({2, "b"});
  std::vector<std::string> out;
  for (int i = 0; i < 3; ++i) out.push_back((co_await q.get()).second);
  co_return out;
}

qaio::Coro<void> putter(qaio::Queue<int>* q, int value, std::vector<std::string>* log) {
  co_await q->put(value);
  log->push_back("put " + std::to_string(value));
}

qaio::Coro<std::vector<std::string>> bounded_put() {
  auto& loop = qaio::get_running_loop();
  qaio::Queue<int> q(2);
  std::vector<std::string> log;
  co_await q.put(1);
  co_await q.put(2);
  log.push_back(q.full() ? "full" : "not full");
  qaio::Task<void> t = loop.create_task(putter(&q, 3, &log));
  co_await qaio::sleep(0.005);
  log.push_back(t.done() ? "put returned" : "put blocked");
  log.push_back("got " + std::to_string(co_await q.get()));
  co_await t;
  log.push_back("size " + std::to_string(q.qsize()));
  co_return log;
}

}  // namespace

TYPED_TEST(ConcurrencyQueue, Item137_FifoLifoAndPriorityOrder) {
  std::vector<int> in{3, 1, 4, 1, 5};
  EXPECT_EQ(this->loop.run_until_complete(drain_order<qaio::Queue<int>>(in)), (std::vector<int>{3, 1, 4, 1, 5}));
  EXPECT_EQ(this->loop.run_until_complete(drain_order<qaio::LifoQueue<int>>(in)), (std::vector<int>{5, 1, 4, 1, 3}));
  EXPECT_EQ(this->loop.run_until_complete(drain_order<qaio::PriorityQueue<int>>(in)),
            (std::vector<int>{1, 1, 3, 4, 5}));
  EXPECT_EQ(this->loop.run_until_complete(priority_pairs()), (std::vector<std::string>{"a", "b", "c"}));
}

TYPED_TEST(ConcurrencyQueue, Item137_PutBlocksWhenFullAndResumesAfterGet) {
  EXPECT_EQ(this->loop.run_until_complete(bounded_put()),
            (std::vector<std::string>{"full", "put blocked", "got 1", "put 3", "size 2"}));
}

TYPED_TEST(ConcurrencyQueue, NowaitCallsRaiseQueueEmptyAndQueueFull) {
  qaio::Queue<int> q(1);
  EXPECT_THROW(q.get_nowait(), qaio::QueueEmpty);
  q.put_nowait(1);
  EXPECT_THROW(q.put_nowait(2), qaio::QueueFull);
  EXPECT_EQ(q.get_nowait(), 1);
  q.task_done();                                       // one item was put: one task_done() is allowed
  EXPECT_THROW(q.task_done(), std::invalid_argument);  // "task_done() called too many times"
}

namespace {
qaio::Coro<void> worker(qaio::Queue<int>* q, std::vector<int>* done) {
  for (;;) {
    int item = co_await q->get();
    co_await qaio::sleep(0.001);
    done->push_back(item);
    q->task_done();
  }
}

qaio::Coro<std::size_t> join_waits_for_task_done() {
  auto& loop = qaio::get_running_loop();
  qaio::Queue<int> q;
  std::vector<int> done;
  for (int i = 0; i < 5; ++i) q.put_nowait(i);
  qaio::Task<void> w1 = loop.create_task(worker(&q, &done));
  qaio::Task<void> w2 = loop.create_task(worker(&q, &done));
  co_await q.join();
  std::size_t finished = done.size();
  w1.cancel();
  w2.cancel();
  try {
    co_await w1;
  } catch (const qaio::CancelledError&) {
  }
  try {
    co_await w2;
  } catch (const qaio::CancelledError&) {
  }
  co_return finished;
}

struct ShutdownOutcome {
  bool blocked_getter_woke = false;
  bool put_refused = false;
  int remaining_get = -1;
  bool get_after_empty_refused = false;
  bool immediate_emptied = false;
  bool join_released = false;
};

qaio::Coro<void> blocked_get(qaio::Queue<int>* q, bool* woke_with_shutdown) {
  try {
    co_await q->get();
  } catch (const qaio::QueueShutDown&) {
    *woke_with_shutdown = true;
  }
}

qaio::Coro<ShutdownOutcome> shutdown_semantics() {
  auto& loop = qaio::get_running_loop();
  ShutdownOutcome out;
  qaio::Queue<int> empty_q;
  qaio::Task<void> g = loop.create_task(blocked_get(&empty_q, &out.blocked_getter_woke));
  co_await qaio::sleep(0);
  empty_q.shutdown();
  co_await g;

  qaio::Queue<int> q;
  q.put_nowait(7);
  q.shutdown();
  try {
    co_await q.put(8);
  } catch (const qaio::QueueShutDown&) {
    out.put_refused = true;
  }
  out.remaining_get = co_await q.get();  // items already queued can still be taken
  try {
    co_await q.get();
  } catch (const qaio::QueueShutDown&) {
    out.get_after_empty_refused = true;
  }

  qaio::Queue<int> full;
  full.put_nowait(1);
  full.put_nowait(2);
  full.shutdown(true);
  out.immediate_emptied = full.empty();
  co_await full.join();  // discarded items count as done
  out.join_released = true;
  co_return out;
}

qaio::Coro<void> get_into(qaio::Queue<int>* q, std::vector<int>* got) { got->push_back(co_await q->get()); }

// A getter woken by put() but cancelled before resuming must leave the item for the next getter.
qaio::Coro<std::vector<int>> cancelled_getter_keeps_item() {
  auto& loop = qaio::get_running_loop();
  qaio::Queue<int> q;
  std::vector<int> got;
  qaio::Task<void> g1 = loop.create_task(get_into(&q, &got));
  qaio::Task<void> g2 = loop.create_task(get_into(&q, &got));
  co_await qaio::sleep(0);
  q.put_nowait(42);
  g1.cancel();
  try {
    co_await g1;
  } catch (const qaio::CancelledError&) {
  }
  co_await g2;
  got.push_back(static_cast<int>(q.qsize()));
  co_return got;
}
}  // namespace

TYPED_TEST(ConcurrencyQueue, JoinWaitsUntilEveryItemIsTaskDone) {
  EXPECT_EQ(this->loop.run_until_complete(join_waits_for_task_done()), 5u);
}

TYPED_TEST(ConcurrencyQueue, ShutdownWakesBlockedCallersAndRefusesNewWork) {
  ShutdownOutcome out = this->loop.run_until_complete(shutdown_semantics());
  EXPECT_TRUE(out.blocked_getter_woke);
  EXPECT_TRUE(out.put_refused);
  EXPECT_EQ(out.remaining_get, 7);
  EXPECT_TRUE(out.get_after_empty_refused);
  EXPECT_TRUE(out.immediate_emptied);
  EXPECT_TRUE(out.join_released);
}

TYPED_TEST(ConcurrencyQueue, CancelledGetterLosesNoItem) {
  EXPECT_EQ(this->loop.run_until_complete(cancelled_getter_keeps_item()), (std::vector<int>{42, 0}));
}
