// policy_test.cpp: spec section 21, the policy functions and qaio::run (items 154-157).
// qaio follows CPython 3.14 for get_event_loop() (gh-126353): with no running loop and nothing set,
// it raises RuntimeError instead of creating a loop.
#include "conformance_util.h"

QAIO_LOOP_SUITE(Policy);

namespace {

template <class X>
concept SettableAsLoop = requires(X x) { qaio::set_event_loop(x); };

// Restores "no current loop" whatever the test does.
struct ClearCurrentLoop {
  ~ClearCurrentLoop() { qaio::set_event_loop(nullptr); }
};

qaio::Coro<void> check_loops_inside(qaio::EventLoop* expected, bool* ok) {
  *ok = &qaio::get_event_loop() == expected && &qaio::get_running_loop() == expected;
  co_return;
}

qaio::Coro<int> main_coro(int v) {
  co_await qaio::sleep(0.001);
  co_return v * 2;
}

qaio::Coro<void> sleep_until_cancelled(bool* cancelled) {
  try {
    co_await qaio::sleep(3600);
  } catch (const qaio::CancelledError&) {
    *cancelled = true;
    throw;
  }
}

qaio::Coro<void> leave_a_task_behind(bool* cancelled) {
  qaio::get_running_loop().create_task(sleep_until_cancelled(cancelled));
  co_await qaio::sleep(0);
}

}  // namespace

TYPED_TEST(Policy, Item154_GetEventLoopWithNothingSetRaises) {
  ClearCurrentLoop clear;
  qaio::set_event_loop(nullptr);
  QAIO_EXPECT_THROW_MSG(qaio::get_event_loop(), qaio::RuntimeError,
                        "There is no current event loop in thread 'MainThread'.");
  // It never creates one behind the caller's back: still nothing afterwards.
  EXPECT_THROW(qaio::get_event_loop(), qaio::RuntimeError);
}

TYPED_TEST(Policy, Item155_AfterSetNoneAndInOtherThreads) {
  ClearCurrentLoop clear;
  qaio::set_event_loop(&this->loop);
  EXPECT_EQ(&qaio::get_event_loop(), &this->loop);
  qaio::set_event_loop(nullptr);
  QAIO_EXPECT_THROW_MSG(qaio::get_event_loop(), qaio::RuntimeError,
                        "There is no current event loop in thread 'MainThread'.");
  qaio::set_event_loop(&this->loop);
  bool raised = false, set_in_thread = false;
  std::thread([&] {
    try {
      qaio::get_event_loop();  // the main thread's loop is not this thread's
    } catch (const qaio::RuntimeError&) {
      raised = true;
    }
    std::unique_ptr<qaio::EventLoop> own = this->make_other_loop();
    qaio::set_event_loop(own.get());
    set_in_thread = &qaio::get_event_loop() == own.get();
    qaio::set_event_loop(nullptr);
    own->close();
  }).join();
  EXPECT_TRUE(raised);
  EXPECT_TRUE(set_in_thread);
  EXPECT_EQ(&qaio::get_event_loop(), &this->loop);
}

TYPED_TEST(Policy, Item156_NewEventLoopAndSetEventLoop) {
  ClearCurrentLoop clear;
  auto a = qaio::new_event_loop();
  auto b = qaio::new_event_loop();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_NE(a.get(), b.get());
  EXPECT_FALSE(a->is_closed());
  // set_event_loop(non-loop) is Python's TypeError: a compile error here.
  static_assert(!SettableAsLoop<int>);
  qaio::set_event_loop(a.get());
  EXPECT_EQ(&qaio::get_event_loop(), a.get());
  qaio::set_event_loop(&this->loop);
  EXPECT_EQ(&qaio::get_event_loop(), &this->loop);
  a->close();
  b->close();
  // The policy can be replaced and reset.
  EXPECT_NO_THROW(qaio::get_event_loop_policy());
  qaio::set_event_loop_policy(std::make_unique<qaio::EventLoopPolicy>());
  auto c = qaio::new_event_loop();
  EXPECT_TRUE(c);
  c->close();
  qaio::set_event_loop_policy(nullptr);
}

TYPED_TEST(Policy, Item157_RunningLoopWinsInsideCoroutines) {
  ClearCurrentLoop clear;
  qaio::EventLoop& loop = this->loop;
  QAIO_EXPECT_THROW_MSG(qaio::get_running_loop(), qaio::RuntimeError, "no running event loop");
  std::unique_ptr<qaio::EventLoop> other = this->make_other_loop();
  bool ok = false;
  qaio::set_event_loop(other.get());  // another loop is current
  loop.run_until_complete(check_loops_inside(&loop, &ok));
  EXPECT_TRUE(ok);
  ok = false;
  qaio::set_event_loop(nullptr);  // nothing is current
  loop.run_until_complete(check_loops_inside(&loop, &ok));
  EXPECT_TRUE(ok);
  other->close();
}

TYPED_TEST(Policy, Item157_RunCreatesRunsAndClosesALoop) {
  ClearCurrentLoop clear;
  EXPECT_EQ(qaio::run(main_coro(21)), 42);
  // run() cancels what is left and leaves no current loop behind.
  bool cancelled = false;
  qaio::run(leave_a_task_behind(&cancelled));
  EXPECT_TRUE(cancelled);
  EXPECT_THROW(qaio::get_event_loop(), qaio::RuntimeError);
  // Not from inside a running loop.
  bool raised = false;
  this->loop.call_soon([&] {
    try {
      qaio::run(main_coro(1));
    } catch (const qaio::RuntimeError&) {
      raised = true;
    }
    this->loop.stop();
  });
  this->loop.run_forever();
  EXPECT_TRUE(raised);
}
