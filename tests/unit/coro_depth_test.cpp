// coro_depth_test.cpp: symmetric transfer keeps deep synchronous coroutine chains off the stack
// (DESIGN rule 9), in every build type including the sanitizer build.
#include <gtest/gtest.h>

#include "qaio/coro.h"
#include "qaio/selector_event_loop.h"

namespace {

// Each level awaits the next one, which completes without ever suspending: the whole chain runs in
// one task step. Without symmetric transfer each level would nest a resume() call on the stack.
qaio::Coro<long> chain(long depth) {
  if (depth == 0) co_return 0;
  long below = co_await chain(depth - 1);
  co_return below + 1;
}

qaio::Coro<void> void_chain(long depth, long* counter) {
  if (depth > 0) co_await void_chain(depth - 1, counter);
  ++*counter;
}

}  // namespace

TEST(CoroDepth, HundredThousandDeepChainCompletes) {
  qaio::SelectorEventLoop loop;
  EXPECT_EQ(loop.run_until_complete(chain(100000)), 100000);
}

TEST(CoroDepth, HundredThousandDeepVoidChainCompletes) {
  qaio::SelectorEventLoop loop;
  long counter = 0;
  loop.run_until_complete(void_chain(100000, &counter));
  EXPECT_EQ(counter, 100001);
}
