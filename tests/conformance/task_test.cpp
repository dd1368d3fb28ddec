// task_test.cpp: spec section 14, Task: creation, names, cancellation with messages,
// cancelling/uncancel, awaiting and current_task (items 105-115).
#include "conformance_util.h"

using conformance::LiveCounter;
using conformance::run_one_iteration;

QAIO_LOOP_SUITE(TaskSuite);

namespace {

template <class L, class X>
concept MakesTask = requires(L& l, X x) { l.create_task(x); };

qaio::Coro<int> record_start(std::vector<int>* order, int id) {
  order->push_back(id);
  co_return id;
}

// The frame keeps its by-value parameters: `alive` counts frames that still exist.
qaio::Coro<int> holds_counter(LiveCounter, int v) {
  co_await qaio::sleep(0);
  co_return v;
}

qaio::Coro<int> body_must_not_run(bool* ran) {
  *ran = true;
  co_return 1;
}

qaio::Coro<int> wait_on(qaio::Future<int> f) {
  int v = co_await f;
  co_return v;
}

qaio::Coro<void> sleep_forever() { co_await qaio::sleep(3600); }

qaio::Coro<int> catch_cancel_and_return() {
  try {
    co_await qaio::sleep(3600);
  } catch (const qaio::CancelledError&) {
    co_return 42;
  }
  co_return 0;
}

qaio::Coro<std::string> cancel_self_then_await() {
  qaio::current_task().cancel("self");
  try {
    co_await qaio::sleep(0);
  } catch (const qaio::CancelledError& e) {
    co_return "raised:" + e.message();
  }
  co_return "not raised";
}

qaio::Coro<int> cancel_self_and_return() {
  qaio::current_task().cancel();
  co_return 5;
}

qaio::Coro<void> cancel_self_then_await_task(qaio::Task<void> inner) {
  qaio::current_task().cancel();
  co_await inner;
}

qaio::Coro<int> uncancel_then_finish() {
  auto me = qaio::current_task();
  me.cancel();
  me.cancel();
  EXPECT_EQ(me.cancelling(), 2);
  EXPECT_EQ(me.uncancel(), 1);
  EXPECT_EQ(me.uncancel(), 0);
  co_await qaio::sleep(0);  // the withdrawn cancel does not fire here
  co_return 9;
}

qaio::Coro<std::string> await_self() {
  try {
    co_await qaio::current_task();
  } catch (const qaio::RuntimeError& e) {
    co_return e.what();
  }
  co_return "no error";
}

qaio::Coro<void> record_current(std::vector<qaio::AnyTask>* seen, qaio::Future<> gate) {
  seen->push_back(qaio::current_task());
  co_await gate;
  seen->push_back(qaio::current_task());
}

}  // namespace

TYPED_TEST(TaskSuite, Item105_CreateTaskSchedulesTheFirstStepInCreationOrder) {
  qaio::EventLoop& loop = this->loop;
  std::vector<int> order;
  auto t1 = loop.create_task(record_start(&order, 1));
  auto t2 = loop.create_task(record_start(&order, 2));
  auto t3 = loop.create_task(record_start(&order, 3));
  EXPECT_TRUE(order.empty());  // not started synchronously
  EXPECT_EQ(loop.ready_count(), 3u);
  run_one_iteration(loop);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(t3.result(), 3);
  // "a coroutine was expected": an empty Coro is the C++ non-coroutine (other types do not compile).
  QAIO_EXPECT_THROW_MSG(loop.create_task(qaio::Coro<int>()), std::invalid_argument,
                        "a coroutine was expected, got an empty Coro");
  static_assert(!MakesTask<qaio::EventLoop, int>);
  // On a closed loop: RuntimeError, and the coroutine frame is destroyed ("closed").
  loop.close();
  const long alive_before = LiveCounter::alive;
  {
    auto coro = holds_counter(LiveCounter{}, 1);
    EXPECT_EQ(LiveCounter::alive, alive_before + 1);
    EXPECT_THROW(loop.create_task(std::move(coro)), qaio::RuntimeError);
    EXPECT_FALSE(coro.valid());
    EXPECT_EQ(LiveCounter::alive, alive_before);
  }
}

TYPED_TEST(TaskSuite, Item106_TaskNames) {
  qaio::EventLoop& loop = this->loop;
  auto a = loop.create_task(conformance::returns(1));
  auto b = loop.create_task(conformance::returns(2));
  ASSERT_EQ(a.get_name().rfind("Task-", 0), 0u);
  ASSERT_EQ(b.get_name().rfind("Task-", 0), 0u);
  EXPECT_LT(std::stol(a.get_name().substr(5)), std::stol(b.get_name().substr(5)));
  auto named = loop.create_task(conformance::returns(3), "worker");
  EXPECT_EQ(named.get_name(), "worker");
  named.set_name("renamed");
  EXPECT_EQ(named.get_name(), "renamed");
  EXPECT_NE(named.repr().find("renamed"), std::string::npos);
  loop.run_until_complete(named);
  loop.run_until_complete(a);
  loop.run_until_complete(b);
}

TYPED_TEST(TaskSuite, Item108_CancelAPendingTask) {
  qaio::EventLoop& loop = this->loop;
  auto t = loop.create_task(sleep_forever());
  run_one_iteration(loop);
  EXPECT_TRUE(t.cancel());
  EXPECT_THROW(loop.run_until_complete(t), qaio::CancelledError);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(t.cancel());
  auto finished = loop.create_task(conformance::returns(1));
  loop.run_until_complete(finished);
  EXPECT_FALSE(finished.cancel());
  EXPECT_FALSE(finished.cancelled());
}

TYPED_TEST(TaskSuite, Item109_CancelMessagesEverywhereAndBeforeTheFirstStep) {
  qaio::EventLoop& loop = this->loop;
  auto t = loop.create_task(sleep_forever());
  run_one_iteration(loop);
  t.cancel("stop it");
  try {
    loop.run_until_complete(t);
    ADD_FAILURE();
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "stop it");
  }
  try {
    t.result();
    ADD_FAILURE();
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "stop it");
  }
  try {
    t.exception();
    ADD_FAILURE();
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "stop it");
  }
  // cancel() without a message: args == () in Python, has_message() false here.
  auto plain = loop.create_task(sleep_forever());
  run_one_iteration(loop);
  plain.cancel();
  try {
    loop.run_until_complete(plain);
  } catch (const qaio::CancelledError& e) {
    EXPECT_FALSE(e.has_message());
  }
  // Cancelled before its first step: the body never runs, the message still arrives.
  bool ran = false;
  auto early = loop.create_task(body_must_not_run(&ran));
  early.cancel("too early");
  try {
    loop.run_until_complete(early);
    ADD_FAILURE();
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "too early");
  }
  EXPECT_FALSE(ran);
  EXPECT_TRUE(early.cancelled());
}

TYPED_TEST(TaskSuite, Item110_CancellingAndUncancel) {
  qaio::EventLoop& loop = this->loop;
  auto t = loop.create_task(sleep_forever());
  run_one_iteration(loop);
  EXPECT_EQ(t.cancelling(), 0);
  EXPECT_TRUE(t.cancel());
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(t.cancelling(), 2);
  EXPECT_THROW(loop.run_until_complete(t), qaio::CancelledError);
  EXPECT_EQ(t.uncancel(), 1);
  EXPECT_TRUE(t.cancelled());  // uncancel() on a finished task leaves it cancelled
  // uncancel() down to 0 withdraws a pending cancel request: the task completes normally.
  EXPECT_EQ(loop.run_until_complete(uncancel_then_finish()), 9);
}

TYPED_TEST(TaskSuite, Item111_CancelPropagatesToAndFromTheAwaitedFuture) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  auto t = loop.create_task(wait_on(f));
  run_one_iteration(loop);
  EXPECT_TRUE(t.cancel());
  EXPECT_TRUE(f.cancelled());  // the task cancels what it awaits
  EXPECT_THROW(loop.run_until_complete(t), qaio::CancelledError);
  EXPECT_TRUE(t.cancelled());

  auto g = loop.create_future<int>();
  auto u = loop.create_task(wait_on(g));
  run_one_iteration(loop);
  EXPECT_TRUE(g.cancel());  // cancelling the awaited future fails the task with CancelledError
  EXPECT_THROW(loop.run_until_complete(u), qaio::CancelledError);
  EXPECT_TRUE(u.cancelled());

  auto h = loop.create_future<int>();
  auto v = loop.create_task(wait_on(h));
  run_one_iteration(loop);
  EXPECT_TRUE(h.cancel());
  EXPECT_TRUE(v.cancel());  // both: still one clean cancellation
  EXPECT_THROW(loop.run_until_complete(v), qaio::CancelledError);
  EXPECT_TRUE(v.cancelled());
}

TYPED_TEST(TaskSuite, Item112_ATaskThatCatchesCancellationFinishesNormally) {
  qaio::EventLoop& loop = this->loop;
  auto t = loop.create_task(catch_cancel_and_return());
  run_one_iteration(loop);
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(loop.run_until_complete(t), 42);
  EXPECT_FALSE(t.cancelled());
  EXPECT_TRUE(t.done());
}

TYPED_TEST(TaskSuite, Item113_SelfCancellation) {
  qaio::EventLoop& loop = this->loop;
  EXPECT_EQ(loop.run_until_complete(cancel_self_then_await()), "raised:self");

  auto at_end = loop.create_task(cancel_self_and_return());
  EXPECT_THROW(loop.run_until_complete(at_end), qaio::CancelledError);
  EXPECT_TRUE(at_end.cancelled());

  auto inner = loop.create_task(conformance::await_void_future(loop.create_future()));
  auto outer = loop.create_task(cancel_self_then_await_task(inner));
  EXPECT_THROW(loop.run_until_complete(outer), qaio::CancelledError);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_TRUE(inner.cancelled());  // the nested task (and what it awaited) was cancelled too
}

TYPED_TEST(TaskSuite, Item115_CurrentTask) {
  qaio::EventLoop& loop = this->loop;
  QAIO_EXPECT_THROW_MSG(qaio::current_task(), qaio::RuntimeError, "no running event loop");
  EXPECT_FALSE(qaio::current_task(loop));
  std::vector<qaio::AnyTask> seen_a, seen_b;
  auto gate_a = loop.create_future();
  auto gate_b = loop.create_future();
  auto a = loop.create_task(record_current(&seen_a, gate_a));
  auto b = loop.create_task(record_current(&seen_b, gate_b));
  qaio::AnyTask outside = a;
  loop.call_soon([&] { outside = qaio::current_task(); });  // a plain callback: no task
  run_one_iteration(loop);
  EXPECT_FALSE(outside);
  gate_b.set_result();  // interleave: b resumes before a
  run_one_iteration(loop);
  run_one_iteration(loop);
  gate_a.set_result();
  loop.run_until_complete(a);
  ASSERT_EQ(seen_a.size(), 2u);
  ASSERT_EQ(seen_b.size(), 2u);
  EXPECT_TRUE(seen_a[0] == qaio::AnyTask(a));
  EXPECT_TRUE(seen_a[1] == qaio::AnyTask(a));
  EXPECT_TRUE(seen_b[0] == qaio::AnyTask(b));
  EXPECT_TRUE(seen_b[1] == qaio::AnyTask(b));
  EXPECT_FALSE(qaio::current_task(loop));
}

TYPED_TEST(TaskSuite, Item113_ATaskCannotAwaitItself) {
  std::string what = this->loop.run_until_complete(await_self());
  EXPECT_EQ(what.rfind("Task cannot await on itself: <Task pending name='Task-", 0), 0u) << what;
}
