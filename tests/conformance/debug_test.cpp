// debug_test.cpp: spec section 7, debug mode (slow-callback warnings, QAIO_DEBUG, foreign-thread
// checks) and the task factory hook (item 50).
#include <gmock/gmock.h>

#include <cctype>
#include <cstdlib>

#include "conformance_util.h"

using ::testing::HasSubstr;
using conformance::run_one_iteration;

QAIO_LOOP_SUITE(Debug);

namespace {

void busy_for(double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
  }
}

void slow_callback() { busy_for(0.06); }

// True if `log` has a line "...Executing <prefix...> took N.NNN seconds" (std::regex is avoided:
// g++ 12 reports false maybe-uninitialized warnings inside it under -fsanitize=address).
bool has_slow_warning(const std::string& log, const std::string& prefix) {
  std::size_t at = 0;
  while ((at = log.find("Executing " + prefix, at)) != std::string::npos) {
    std::size_t eol = log.find('\n', at);
    std::string line = log.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    std::size_t took = line.rfind("> took ");
    if (took != std::string::npos && line.size() >= took + 7 + 13) {
      std::string tail = line.substr(took + 7);  // "0.061 seconds"
      if (std::isdigit(static_cast<unsigned char>(tail[0])) && tail[1] == '.' &&
          std::isdigit(static_cast<unsigned char>(tail[2])) && std::isdigit(static_cast<unsigned char>(tail[3])) &&
          std::isdigit(static_cast<unsigned char>(tail[4])) && tail.substr(5) == " seconds")
        return true;
    }
    ++at;
  }
  return false;
}

qaio::Coro<void> slow_task() {
  busy_for(0.06);
  co_return;
}

}  // namespace

TYPED_TEST(Debug, Item50_SlowCallbackWarningForHandlesAndTasks) {
  qaio::EventLoop& loop = this->loop;
  EXPECT_DOUBLE_EQ(loop.slow_callback_duration(), 0.1);
  loop.set_debug(true);
  EXPECT_TRUE(loop.get_debug());
  loop.set_slow_callback_duration(0.05);
  ::testing::internal::CaptureStderr();
  loop.call_soon(slow_callback);
  run_one_iteration(loop);
  std::string handle_log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has_slow_warning(handle_log, "<Handle ")) << handle_log;

  ::testing::internal::CaptureStderr();
  loop.run_until_complete(slow_task());
  std::string task_log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has_slow_warning(task_log, "<Task ")) << task_log;

  // Fast callbacks and a non-debug loop stay quiet.
  loop.set_debug(false);
  ::testing::internal::CaptureStderr();
  loop.call_soon(slow_callback);
  run_one_iteration(loop);
  EXPECT_EQ(::testing::internal::GetCapturedStderr().find("Executing"), std::string::npos);
  EXPECT_THROW(loop.set_slow_callback_duration(-1), std::invalid_argument);
}

TYPED_TEST(Debug, Item50_QaioDebugEnvironmentTurnsDebugOn) {
  ::setenv("QAIO_DEBUG", "1", 1);
  std::unique_ptr<qaio::EventLoop> debug_loop = this->make_other_loop();
  ::unsetenv("QAIO_DEBUG");
  std::unique_ptr<qaio::EventLoop> plain_loop = this->make_other_loop();
  EXPECT_TRUE(debug_loop->get_debug());
  EXPECT_FALSE(plain_loop->get_debug());
  debug_loop->close();
  plain_loop->close();
}

TYPED_TEST(Debug, Item50_DebugModeRejectsCallsFromForeignThreads) {
  qaio::EventLoop& loop = this->loop;
  loop.set_debug(true);
  std::string message;
  bool threadsafe_ok = false;
  loop.call_soon([&] {
    std::thread([&] {
      try {
        loop.call_soon([] {});
      } catch (const qaio::RuntimeError& e) {
        message = e.what();
      }
      loop.call_soon_threadsafe([&] { threadsafe_ok = true; });  // always allowed
    }).join();
    loop.call_soon([&] { loop.stop(); });
  });
  loop.run_forever();
  run_one_iteration(loop);
  EXPECT_THAT(message, HasSubstr("Non-thread-safe operation invoked on an event loop other than the current one"));
  EXPECT_TRUE(threadsafe_ok);
}

TYPED_TEST(Debug, TaskFactoryDecoratesEveryNewTask) {
  qaio::EventLoop& loop = this->loop;
  EXPECT_FALSE(static_cast<bool>(loop.get_task_factory()));
  std::vector<std::string> seen;
  loop.set_task_factory([&](qaio::EventLoop& l, qaio::AnyTask& task) {
    EXPECT_EQ(&l, &loop);
    seen.push_back(task.get_name());
    task.set_name("decorated-" + task.get_name());
  });
  EXPECT_TRUE(static_cast<bool>(loop.get_task_factory()));
  auto t = loop.create_task(conformance::returns(4), "mine");
  EXPECT_EQ(t.get_name(), "decorated-mine");
  EXPECT_EQ(loop.run_until_complete(t), 4);
  EXPECT_EQ(loop.run_until_complete(conformance::returns(5)), 5);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "mine");
  EXPECT_EQ(seen[1].rfind("Task-", 0), 0u);
  loop.set_task_factory(nullptr);
  EXPECT_FALSE(static_cast<bool>(loop.get_task_factory()));
}
