// smoke_test.cpp: the basics every other case relies on.
#include "loop_factories.h"

QAIO_LOOP_SUITE(Smoke);

namespace {
qaio::Coro<int> answer() {
  co_await qaio::sleep(0.001);
  co_return 42;
}
qaio::Coro<int> twice() {
  int a = co_await answer();
  int b = co_await answer();
  co_return a + b;
}
}  // namespace

TYPED_TEST(Smoke, CallSoonRunsAndStops) {
  int n = 0;
  this->loop.call_soon([&] { ++n; });
  this->loop.call_soon([&] { this->loop.stop(); });
  this->loop.run_forever();
  EXPECT_EQ(n, 1);
}

TYPED_TEST(Smoke, RunUntilCompleteReturnsValue) {
  EXPECT_EQ(this->loop.run_until_complete(twice()), 84);
}
