// bad_input_test.cpp: issue 2's "bad input" list as one place: a closed loop, a non-callable, a
// negative or NaN delay, a result set twice, a foreign-loop future. Each raises the mapped
// exception with CPython's message, and the loop stays usable afterwards.
#include <cmath>

#include "conformance_util.h"

using conformance::returns;
using conformance::run_one_iteration;

QAIO_LOOP_SUITE(BadInput);

namespace {

qaio::Coro<int> await_foreign(qaio::Future<int> foreign) {
  int v = co_await foreign;
  co_return v;
}

qaio::Coro<std::string> await_foreign_and_recover(qaio::Future<int> foreign) {
  std::string what;
  try {
    co_await foreign;
  } catch (const qaio::RuntimeError& e) {
    what = e.what();
  }
  co_await qaio::sleep(0);  // the task is still healthy
  co_return what;
}

qaio::Coro<void> sleep_nan() { co_await qaio::sleep(std::nan("")); }

// The loop still schedules, runs timers and tasks.
template <class Loop>
void expect_usable(Loop& loop) {
  int n = 0;
  loop.call_soon([&] { ++n; });
  loop.call_later(0.001, [&] { ++n; });
  EXPECT_EQ(loop.run_until_complete(conformance::returns(8)), 8);
  loop.call_later(0.01, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(n, 2);
}

}  // namespace

TYPED_TEST(BadInput, NonCallableNaNAndNegativeDelays) {
  qaio::EventLoop& loop = this->loop;
  std::function<void(int)> empty;
  QAIO_EXPECT_THROW_MSG(loop.call_soon(empty, 1), std::invalid_argument,
                        "a callable object was expected by call_soon(), got None");
  QAIO_EXPECT_THROW_MSG(loop.call_later(std::nan(""), [] {}), std::invalid_argument, "delay must not be NaN");
  QAIO_EXPECT_THROW_MSG(loop.call_at(std::nan(""), [] {}), std::invalid_argument, "when must not be NaN");
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(sleep_nan()), std::invalid_argument,
                        "Invalid delay: NaN (not a number)");
  // Negative delays are valid in asyncio: the callback is simply due at once (spec item 27).
  bool ran = false;
  loop.call_later(-5, [&] { ran = true; });
  run_one_iteration(loop);
  EXPECT_TRUE(ran);
  expect_usable(loop);
}

TYPED_TEST(BadInput, ResultSetTwice) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  f.set_result(1);
  QAIO_EXPECT_THROW_MSG(f.set_result(2), qaio::InvalidStateError, "FINISHED: <Future finished>");
  EXPECT_EQ(f.result(), 1);
  auto c = loop.create_future<int>();
  c.cancel();
  QAIO_EXPECT_THROW_MSG(c.set_result(2), qaio::InvalidStateError, "CANCELLED: <Future cancelled>");
  auto t = loop.create_task(returns(3));
  loop.run_until_complete(t);
  QAIO_EXPECT_THROW_MSG(t.set_result(4), qaio::RuntimeError, "Task does not support set_result operation");
  QAIO_EXPECT_THROW_MSG(t.set_exception(std::runtime_error("x")), qaio::RuntimeError,
                        "Task does not support set_exception operation");
  expect_usable(loop);
}

TYPED_TEST(BadInput, ForeignLoopFutures) {
  qaio::EventLoop& loop = this->loop;
  std::unique_ptr<qaio::EventLoop> other = this->make_other_loop();
  auto foreign = other->create_future<int>();
  QAIO_EXPECT_THROW_MSG(loop.run_until_complete(foreign), std::invalid_argument,
                        "The future belongs to a different loop than the one specified as the loop argument");
  // Awaiting it inside a task raises in the task, with CPython's text.
  auto t = loop.create_task(await_foreign(foreign));
  try {
    loop.run_until_complete(t);
    ADD_FAILURE() << "expected RuntimeError";
  } catch (const qaio::RuntimeError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.rfind("Task <Task", 0), 0u) << what;
    EXPECT_NE(what.find("got Future <Future pending> attached to a different loop"), std::string::npos) << what;
  }
  std::string caught = loop.run_until_complete(await_foreign_and_recover(foreign));
  EXPECT_NE(caught.find("attached to a different loop"), std::string::npos);
  expect_usable(loop);
  other->close();
}

TYPED_TEST(BadInput, ClosedLoop) {
  qaio::EventLoop& loop = this->loop;
  std::unique_ptr<qaio::EventLoop> other = this->make_other_loop();
  other->close();
  QAIO_EXPECT_THROW_MSG(other->call_soon([] {}), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(other->run_until_complete(returns(1)), qaio::RuntimeError, "Event loop is closed");
  QAIO_EXPECT_THROW_MSG(other->create_task(returns(1)), qaio::RuntimeError, "Event loop is closed");
  expect_usable(loop);  // a closed loop does not affect the others
}
