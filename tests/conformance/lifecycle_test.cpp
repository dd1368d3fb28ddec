// lifecycle_test.cpp: spec section 1, the loop's lifecycle: run_forever, stop, run_until_complete,
// close, is_running/is_closed and the running-loop bookkeeping (items 1-16).
#include <cmath>

#include "conformance_util.h"

using conformance::returns;
using conformance::run_one_iteration;
using conformance::timed;

QAIO_LOOP_SUITE(Lifecycle);

namespace {

template <class L, class X>
concept RunsUntilComplete = requires(L& l, X x) { l.run_until_complete(x); };

qaio::Coro<int> add_one(qaio::Future<int> f) {
  int v = co_await f;
  co_return v + 1;
}

qaio::Coro<void> raise_keyboard_interrupt() {
  co_await qaio::sleep(0);
  throw qaio::KeyboardInterrupt();
}

qaio::Coro<int> slow_five() {
  co_await qaio::sleep(0.05);
  co_return 5;
}

}  // namespace

TYPED_TEST(Lifecycle, Item01_CloseIsIdempotentAndRunsRaiseAfterwards) {
  qaio::EventLoop& loop = this->loop;
  auto fut = loop.create_future<int>();
  EXPECT_FALSE(loop.is_closed());
  loop.close();
  EXPECT_TRUE(loop.is_closed());
  loop.close();
  loop.close();
  EXPECT_TRUE(loop.is_closed());
  QAIO_EXPECT_THROW_MSG(loop.run_forever(), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(fut), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(returns(1)), qaio::RuntimeError, "Event loop is closed");
}

TYPED_TEST(Lifecycle, Item02_SchedulingOnAClosedLoopRaises) {
  qaio::EventLoop& loop = this->loop;
  loop.close();
  auto noop = [] {};
  QAIO_EXPECT_THROW_MSG(loop.call_soon(noop), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.call_soon_threadsafe(noop), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.call_later(0.1, noop), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.call_at(loop.time(), noop), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.create_task(returns(1)), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(loop.run_in_executor(nullptr, [] { return 1; }), qaio::RuntimeError,
                        "Event loop is closed");
  // add_signal_handler lives with the signal support (section 19), which has its own tests.
  // From another thread too: call_soon_threadsafe reports the closed loop there as well.
  bool raised = false;
  std::thread([&] {
    try {
      loop.call_soon_threadsafe(noop);
    } catch (const qaio::RuntimeError&) {
      raised = true;
    }
  }).join();
  EXPECT_TRUE(raised);
}

TYPED_TEST(Lifecycle, Item03_FdCallbacksOnAClosedLoop) {
  qaio::EventLoop& loop = this->loop;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  loop.add_reader(fds[0], [] {});
  loop.add_writer(fds[1], [] {});
  loop.close();
  EXPECT_THROW(loop.add_reader(fds[0], [] {}), qaio::RuntimeError);
  EXPECT_THROW(loop.add_writer(fds[1], [] {}), qaio::RuntimeError);
  // Removing never raises: False, even for fds registered before close().
  EXPECT_FALSE(loop.remove_reader(fds[0]));
  EXPECT_FALSE(loop.remove_writer(fds[1]));
  EXPECT_FALSE(loop.remove_reader(12345));
  ::close(fds[0]);
  ::close(fds[1]);
}

TYPED_TEST(Lifecycle, Item04_CloseFromInsideTheRunningLoopRaises) {
  qaio::EventLoop& loop = this->loop;
  std::string message;
  loop.call_soon([&] {
    try {
      loop.close();
    } catch (const qaio::RuntimeError& e) {
      message = e.what();
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(message, "Cannot close a running event loop");
  EXPECT_FALSE(loop.is_closed());
}

TYPED_TEST(Lifecycle, Item05_NestedRunOfTheSameLoopRaises) {
  qaio::EventLoop& loop = this->loop;
  bool running_inside = false;
  std::string nested_ruc, nested_forever;
  std::size_t tasks_before = 0, tasks_after = 0;
  loop.call_soon([&] {
    running_inside = loop.is_running();
    tasks_before = loop.tasks().size();
    try {
      loop.run_until_complete(returns(1));
    } catch (const qaio::RuntimeError& e) {
      nested_ruc = e.what();
    }
    tasks_after = loop.tasks().size();
    try {
      loop.run_forever();
    } catch (const qaio::RuntimeError& e) {
      nested_forever = e.what();
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(running_inside);
  EXPECT_EQ(nested_ruc, "This event loop is already running");
  EXPECT_EQ(nested_forever, "This event loop is already running");
  // As in asyncio, the check comes first: no task was created for the rejected coroutine.
  EXPECT_EQ(tasks_before, tasks_after);
}

TYPED_TEST(Lifecycle, Item06_AnotherLoopCannotRunInsideARunningLoop) {
  qaio::EventLoop& loop = this->loop;
  std::unique_ptr<qaio::EventLoop> other = this->make_other_loop();
  std::string forever_msg, ruc_msg;
  loop.call_soon([&] {
    try {
      other->run_forever();
    } catch (const qaio::RuntimeError& e) {
      forever_msg = e.what();
    }
    try {
      other->run_until_complete(returns(2));
    } catch (const qaio::RuntimeError& e) {
      ruc_msg = e.what();
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(forever_msg, "Cannot run the event loop while another loop is running");
  EXPECT_EQ(ruc_msg, "Cannot run the event loop while another loop is running");
  EXPECT_TRUE(other->tasks().empty());
  other->close();
}

TYPED_TEST(Lifecycle, Item07_StopBeforeFutureCompletedLeavesTaskResumable) {
  qaio::EventLoop& loop = this->loop;
  auto fut = loop.create_future<int>();
  auto task = loop.create_task(add_one(fut));
  loop.call_soon([&] { loop.stop(); });
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(task), qaio::RuntimeError,
                        "Event loop stopped before Future completed.");
  EXPECT_FALSE(task.done());
  loop.call_soon([fut] { fut.set_result(41); });
  EXPECT_EQ(loop.run_until_complete(task), 42);
}

TYPED_TEST(Lifecycle, Item08_PreStoppedRunForeverRunsOneIterationWithoutBlocking) {
  qaio::EventLoop& loop = this->loop;
  int calls = 0;
  loop.call_later(30.0, [] {});  // a far timer must not make the single poll block
  loop.call_soon([&] { ++calls; });
  const auto before = loop.iteration_count();
  double took = timed([&] {
    loop.stop();
    loop.run_forever();
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop.iteration_count() - before, 1u);
  EXPECT_LT(took, 1.0);
  EXPECT_FALSE(loop.is_running());
}

TYPED_TEST(Lifecycle, Item09_RunOnceIdiom) {
  qaio::EventLoop& loop = this->loop;
  int calls = 0;
  loop.call_soon([&] { ++calls; });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(Lifecycle, Item10_StopDoesNotCutTheBatchShort) {
  qaio::EventLoop& loop = this->loop;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::vector<std::string> order;
  // The writer is ready at the poll of the iteration that runs stop(): it still runs in it.
  loop.add_writer(sv[0], [&] {
    order.push_back("io");
    loop.remove_writer(sv[0]);
  });
  loop.call_soon([&] { order.push_back("a"); });
  loop.call_soon([&] { loop.stop(); });
  loop.call_soon([&] { order.push_back("b"); });
  const auto before = loop.iteration_count();
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "io"}));
  EXPECT_EQ(loop.iteration_count() - before, 1u);
  ::close(sv[0]);
  ::close(sv[1]);
}

TYPED_TEST(Lifecycle, Item11_StopRequestIsUsedUpByRunForever) {
  qaio::EventLoop& loop = this->loop;
  int first = 0, second = 0;
  loop.call_soon([&] { ++first; });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(first, 1);
  // The next run waits for its own stop, ~50 ms away, and runs nothing from the first run again.
  loop.call_later(0.05, [&] {
    ++second;
    loop.stop();
  });
  double took = timed([&] { loop.run_forever(); });
  EXPECT_GE(took, 0.04);
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

TYPED_TEST(Lifecycle, Item12_RunUntilCompleteArgumentChecks) {
  qaio::EventLoop& loop = this->loop;
  // TypeError for a non-future/non-coroutine is a compile error in C++:
  static_assert(!RunsUntilComplete<qaio::EventLoop, int>);
  std::unique_ptr<qaio::EventLoop> other = this->make_other_loop();
  auto foreign = other->create_future<int>();
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(foreign), std::invalid_argument,
                        "The future belongs to a different loop than the one specified as the loop argument");
  EXPECT_THROW(loop.run_until_complete(qaio::Future<int>()), std::invalid_argument);
  EXPECT_EQ(loop.run_until_complete(returns(3)), 3);  // still usable
  other->close();
}

TYPED_TEST(Lifecycle, Item13_RunUntilCompleteOfASleep) {
  qaio::EventLoop& loop = this->loop;
  double took = timed([&] { loop.run_until_complete(conformance::sleeps(0.1)); });
  EXPECT_GE(took, 0.1 - 0.05);
  EXPECT_LT(took, 2.0);
}

TYPED_TEST(Lifecycle, Item14_KeyboardInterruptLeavesNoPendingStop) {
  qaio::EventLoop& loop = this->loop;
  this->capture_errors();
  EXPECT_THROW(loop.run_until_complete(raise_keyboard_interrupt()), qaio::KeyboardInterrupt);
  EXPECT_FALSE(loop.is_running());
  bool reached = false;
  loop.call_later(0.05, [&] {
    reached = true;
    loop.stop();
  });
  double took = timed([&] { loop.run_forever(); });
  EXPECT_TRUE(reached);
  EXPECT_GE(took, 0.04);
  // run_until_complete retrieved the task's exception: nothing is reported as never retrieved.
  EXPECT_TRUE(this->errors.empty()) << this->errors.front().message;
}

TYPED_TEST(Lifecycle, Item15_SystemExitFromACallbackAndTheOrphanFuture) {
  qaio::EventLoop& loop = this->loop;
  auto fut = loop.create_future<int>();
  loop.call_soon([] { throw qaio::SystemExit(2); });
  EXPECT_THROW(loop.run_until_complete(fut), qaio::SystemExit);
  // The stop-callback on `fut` was removed: completing it now must not stop the next run.
  loop.call_soon([fut] { fut.set_result(1); });
  EXPECT_EQ(loop.run_until_complete(slow_five()), 5);
  EXPECT_EQ(loop.run_until_complete(fut), 1);
}

TYPED_TEST(Lifecycle, Item16_RunningLoopBookkeeping) {
  qaio::EventLoop& loop = this->loop;
  qaio::EventLoop* seen = nullptr;
  bool running = false;
  loop.call_soon([&] {
    seen = &qaio::get_running_loop();
    running = loop.is_running();
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(seen, &loop);
  EXPECT_TRUE(running);
  EXPECT_FALSE(loop.is_running());
  QAIO_EXPECT_THROW_MSG(qaio::get_running_loop(), qaio::RuntimeError, "no running event loop");
}
