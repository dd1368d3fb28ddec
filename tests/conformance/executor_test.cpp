// executor_test.cpp: spec section 20, run_in_executor and the default executor (items 151-152),
// plus to_thread, wrap_future and set_default_executor.
#include <atomic>
#include <future>

#include "conformance_util.h"

QAIO_LOOP_SUITE(ExecutorSuite);

namespace {

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

qaio::Coro<std::thread::id> worker_thread_id() {
  auto id = co_await qaio::to_thread([] { return std::this_thread::get_id(); });
  co_return id;
}

qaio::Coro<int> add_in_thread(int a, int b) {
  int v = co_await qaio::to_thread([](int x, int y) { return x + y; }, a, b);
  co_return v;
}

}  // namespace

TYPED_TEST(ExecutorSuite, Item151_RunInExecutorRunsOnAnotherThread) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.run_in_executor(nullptr, [](int x) { return std::make_pair(x * 2, std::this_thread::get_id()); }, 21);
  auto [value, id] = loop.run_until_complete(f);
  EXPECT_EQ(value, 42);
  EXPECT_NE(id, std::this_thread::get_id());
  auto failing = loop.run_in_executor(nullptr, []() -> int { throw Boom(); });
  EXPECT_THROW(loop.run_until_complete(failing), Boom);
  auto void_job = loop.run_in_executor(nullptr, [] {});
  EXPECT_NO_THROW(loop.run_until_complete(void_job));
  EXPECT_NE(loop.run_until_complete(worker_thread_id()), std::this_thread::get_id());
  EXPECT_EQ(loop.run_until_complete(add_in_thread(2, 3)), 5);
}

TYPED_TEST(ExecutorSuite, Item151_CustomAndDefaultExecutors) {
  qaio::EventLoop& loop = this->loop;
  qaio::ThreadPoolExecutor pool(1);
  auto f = loop.run_in_executor(&pool, [] { return 7; });
  EXPECT_EQ(loop.run_until_complete(f), 7);
  EXPECT_EQ(pool.worker_count(), 1u);
  loop.set_default_executor(std::make_unique<qaio::ThreadPoolExecutor>(2));
  auto g = loop.run_in_executor(nullptr, [] { return 8; });
  EXPECT_EQ(loop.run_until_complete(g), 8);
  // wrap_future: a std::future becomes a loop future.
  qaio::set_event_loop(&loop);
  std::promise<int> promise;
  auto wrapped = qaio::wrap_future(promise.get_future());
  std::thread([p = std::move(promise)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    p.set_value(11);
  }).detach();
  EXPECT_EQ(loop.run_until_complete(wrapped), 11);
  qaio::set_event_loop(nullptr);
}

TYPED_TEST(ExecutorSuite, Item152_CancelledWorkNeverTouchesTheClosedLoop) {
  qaio::EventLoop& loop = this->loop;
  std::atomic<bool> started{false}, finished{false};
  auto f = loop.run_in_executor(nullptr, [&] {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = true;
    return 1;
  });
  EXPECT_TRUE(f.cancel());
  loop.run_until_complete(loop.shutdown_default_executor());
  // Either the job had started (then shutdown waited for it) or it was skipped; never half done.
  EXPECT_EQ(started.load(), finished.load());
  QAIO_EXPECT_THROW_MSG(loop.run_in_executor(nullptr, [] { return 1; }), qaio::RuntimeError,
                        "Executor shutdown has been called");
  loop.close();
  EXPECT_TRUE(f.cancelled());
}

TYPED_TEST(ExecutorSuite, Item152_CancelledJobThatHasNotStartedNeverRuns) {
  qaio::EventLoop& loop = this->loop;
  qaio::ThreadPoolExecutor pool(1);
  std::atomic<bool> release{false}, second_ran{false};
  auto first = loop.run_in_executor(&pool, [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  auto second = loop.run_in_executor(&pool, [&] { second_ran = true; });
  EXPECT_TRUE(second.cancel());
  conformance::run_one_iteration(loop);  // the cancellation reaches the job's flag
  release = true;
  loop.run_until_complete(first);
  pool.shutdown(true);
  EXPECT_FALSE(second_ran);
}

TYPED_TEST(ExecutorSuite, Item152_CompletionAfterCloseIsDropped) {
  // The job outlives the loop: close() and even destroying the loop happen while it runs. Its
  // completion must find the loop's queue closed and drop itself (ASan checks no freed memory is
  // touched); the future stays pending.
  std::unique_ptr<qaio::EventLoop> other = this->make_other_loop();
  std::atomic<bool> release{false};
  std::atomic<bool> done{false};
  qaio::ThreadPoolExecutor pool(1);
  auto f = other->run_in_executor(&pool, [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 5;
  });
  other->close();
  release = true;
  pool.submit([&] { done = true; });
  pool.shutdown(true);
  EXPECT_TRUE(done);
  EXPECT_FALSE(f.done());
  other.reset();
}
