// exception_handler_test.cpp: spec section 6, the exception handler: failing callbacks, custom and
// broken handlers, and the reports of unretrieved exceptions and destroyed pending tasks
// (items 43-49).
#include <gmock/gmock.h>

#include "conformance_util.h"

using ::testing::HasSubstr;
using conformance::run_one_iteration;

QAIO_LOOP_SUITE(ExceptionHandler);

namespace {

template <class L, class H>
concept HandlerAccepts = requires(L& l, H h) { l.set_exception_handler(h); };

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

void throw_boom() { throw Boom(); }

qaio::Coro<void> fail_soon() {
  co_await qaio::sleep(0);
  throw Boom();
}

qaio::Coro<void> wait_forever(qaio::Future<> f) { co_await f; }

}  // namespace

TYPED_TEST(ExceptionHandler, Item43_FailingCallbacksAreLoggedAndTheLoopKeepsRunning) {
  qaio::EventLoop& loop = this->loop;
  int after = 0;
  ::testing::internal::CaptureStderr();
  loop.call_soon(throw_boom);
  loop.call_later(0.001, throw_boom);
  loop.call_soon([&] { ++after; });
  loop.call_later(0.02, [&] {
    ++after;
    loop.stop();
  });
  loop.run_forever();
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(after, 2);
  EXPECT_THAT(log, HasSubstr("Exception in callback"));
  EXPECT_THAT(log, HasSubstr("<Handle "));       // the call_soon handle
  EXPECT_THAT(log, HasSubstr("<TimerHandle "));  // the call_later handle
  EXPECT_THAT(log, HasSubstr("Boom: boom"));      // the exception, type and text
}

TYPED_TEST(ExceptionHandler, Item44_GetSetAndResetTheHandler) {
  qaio::EventLoop& loop = this->loop;
  EXPECT_FALSE(static_cast<bool>(loop.get_exception_handler()));
  int calls = 0;
  loop.set_exception_handler([&](qaio::EventLoop&, const qaio::ErrorContext&) { ++calls; });
  EXPECT_TRUE(static_cast<bool>(loop.get_exception_handler()));
  loop.call_soon(throw_boom);
  run_one_iteration(loop);
  EXPECT_EQ(calls, 1);
  // Python's TypeError for a non-callable handler is a compile error here:
  static_assert(!HandlerAccepts<qaio::EventLoop, int>);
  loop.set_exception_handler(nullptr);
  EXPECT_FALSE(static_cast<bool>(loop.get_exception_handler()));
  ::testing::internal::CaptureStderr();
  loop.call_soon(throw_boom);
  run_one_iteration(loop);
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(calls, 1);  // back to the default logger
  EXPECT_THAT(log, HasSubstr("Exception in callback"));
}

TYPED_TEST(ExceptionHandler, Item45_CustomHandlerGetsLoopMessageExceptionAndHandle) {
  qaio::EventLoop& loop = this->loop;
  std::vector<qaio::ErrorContext> seen;
  qaio::EventLoop* seen_loop = nullptr;
  loop.set_exception_handler([&](qaio::EventLoop& l, const qaio::ErrorContext& ctx) {
    seen_loop = &l;
    seen.push_back(ctx);
  });
  qaio::Handle h = loop.call_soon(throw_boom);
  int after = 0;
  loop.call_soon([&] { ++after; });
  run_one_iteration(loop);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen_loop, &loop);
  EXPECT_EQ(seen[0].message.rfind("Exception in callback", 0), 0u) << seen[0].message;
  EXPECT_TRUE(seen[0].handle == h);
  EXPECT_THROW(std::rethrow_exception(seen[0].exception), Boom);
  EXPECT_FALSE(seen[0].future);
  EXPECT_FALSE(seen[0].task);
  EXPECT_EQ(after, 1);
}

TYPED_TEST(ExceptionHandler, Item46_ABrokenHandlerDoesNotCrashTheLoop) {
  qaio::EventLoop& loop = this->loop;
  loop.set_exception_handler([](qaio::EventLoop&, const qaio::ErrorContext&) {
    throw std::runtime_error("handler is broken");
  });
  int after = 0;
  ::testing::internal::CaptureStderr();
  loop.call_soon(throw_boom);
  loop.call_soon([&] { ++after; });
  run_one_iteration(loop);
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(after, 1);
  EXPECT_THAT(log, HasSubstr("Unhandled error in exception handler"));
  EXPECT_THAT(log, HasSubstr("handler is broken"));
}

TYPED_TEST(ExceptionHandler, Item49_UnretrievedTaskExceptionIsReported) {
  qaio::EventLoop& loop = this->loop;
  this->capture_errors();
  loop.create_task(fail_soon());  // fire and forget: nobody looks at the exception
  loop.call_later(0.02, [&] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(this->errors.size(), 1u);
  EXPECT_EQ(this->errors[0].message, "Task exception was never retrieved");
  EXPECT_THROW(std::rethrow_exception(this->errors[0].exception), Boom);
}

TYPED_TEST(ExceptionHandler, Item49_RetrievedExceptionIsNotReported) {
  qaio::EventLoop& loop = this->loop;
  this->capture_errors();
  {
    auto task = loop.create_task(fail_soon());
    loop.call_later(0.02, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_TRUE(task.exception());
  }
  {
    auto f = loop.create_future<int>();
    f.set_exception(Boom());
    EXPECT_THROW(f.result(), Boom);
  }
  run_one_iteration(loop);
  EXPECT_TRUE(this->errors.empty());
}

TYPED_TEST(ExceptionHandler, Item49_UnretrievedFutureExceptionIsReported) {
  qaio::EventLoop& loop = this->loop;
  this->capture_errors();
  {
    auto f = loop.create_future<int>();
    f.set_exception(Boom());
  }
  ASSERT_EQ(this->errors.size(), 1u);
  EXPECT_EQ(this->errors[0].message, "Future exception was never retrieved");
}

TYPED_TEST(ExceptionHandler, Item49_DestroyedPendingTaskIsReported) {
  qaio::EventLoop& loop = this->loop;
  this->capture_errors();
  auto never = loop.create_future();
  auto task = loop.create_task(wait_forever(never), "stuck");
  run_one_iteration(loop);
  EXPECT_FALSE(task.done());
  loop.close();
  ASSERT_EQ(this->errors.size(), 1u);
  EXPECT_EQ(this->errors[0].message, "Task was destroyed but it is pending!");
  ASSERT_TRUE(this->errors[0].task);
  EXPECT_EQ(this->errors[0].task.get_name(), "stuck");
}
