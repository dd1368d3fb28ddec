// resources_test.cpp: issue 2's "no leaks" and robustness claims, for every loop: 1,000 loops leave
// the fd count unchanged, 100k finished tasks leave no coroutine frame alive, a throwing callback
// reaches the handler with its handle and the loop goes on, deep synchronous chains stay flat.
#include "conformance_util.h"

using conformance::LiveCounter;

QAIO_LOOP_SUITE(Resources);

namespace {

qaio::Coro<int> counted_step(LiveCounter, int v) {
  if (v % 2) co_await qaio::sleep(0);  // half suspend once, half complete in their first step
  co_return v;
}

qaio::Coro<long> spawn_many(long n) {
  auto& loop = qaio::get_running_loop();
  std::vector<qaio::Task<int>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) tasks.push_back(loop.create_task(counted_step(LiveCounter{}, static_cast<int>(i))));
  long sum = 0;
  for (auto& t : tasks) sum += co_await t;
  co_return sum;
}

qaio::Coro<long> chain(long depth) {
  if (depth == 0) co_return 0;
  long below = co_await chain(depth - 1);
  co_return below + 1;
}

}  // namespace

TYPED_TEST(Resources, ThousandLoopsLeaveTheFdCountUnchanged) {
  // Warm-up: the first loop may create process-wide state (Qt's event dispatcher, for instance).
  {
    std::unique_ptr<qaio::EventLoop> warm = this->make_other_loop();
    warm->run_until_complete(conformance::returns(0));
    warm->close();
  }
  const int before = conformance::open_fd_count();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 1000; ++i) {
    std::unique_ptr<qaio::EventLoop> l = this->make_other_loop();
    l->call_soon([&l] { l->stop(); });
    l->run_forever();
    EXPECT_EQ(l->run_until_complete(conformance::returns(i)), i);
    l->close();
  }
  EXPECT_EQ(conformance::open_fd_count(), before);
}

TYPED_TEST(Resources, HundredThousandFinishedTasksLeaveNoFrames) {
  qaio::EventLoop& loop = this->loop;
  const long before = LiveCounter::alive;
  constexpr long n = 100000;
  EXPECT_EQ(loop.run_until_complete(spawn_many(n)), n * (n - 1) / 2);
  EXPECT_EQ(LiveCounter::alive, before);
  EXPECT_TRUE(loop.tasks().empty());
}

TYPED_TEST(Resources, ThrowingCallbackReachesTheHandlerWithItsHandle) {
  qaio::EventLoop& loop = this->loop;
  this->capture_errors();
  qaio::Handle bad = loop.call_soon([] { throw std::logic_error("bad callback"); });
  int later = 0;
  loop.call_soon([&] { ++later; });
  loop.call_later(0.01, [&] {
    ++later;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(later, 2);
  ASSERT_EQ(this->errors.size(), 1u);
  EXPECT_TRUE(this->errors[0].handle == bad);
  EXPECT_THROW(std::rethrow_exception(this->errors[0].exception), std::logic_error);
}

TYPED_TEST(Resources, HundredThousandDeepSynchronousChain) {
  EXPECT_EQ(this->loop.run_until_complete(chain(100000)), 100000);
}
