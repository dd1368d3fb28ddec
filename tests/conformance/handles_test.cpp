// handles_test.cpp: spec section 4, Handle cancellation and the loop's cancelled-timer bookkeeping
// (items 36-39).
#include <memory>

#include "conformance_util.h"

using conformance::run_one_iteration;

QAIO_LOOP_SUITE(Handles);

TYPED_TEST(Handles, Item36_CancelMarksTheHandleAndDropsTheCallback) {
  qaio::EventLoop& loop = this->loop;
  auto payload = std::make_shared<int>(1);
  qaio::Handle h = loop.call_soon([payload](int) {}, 3);
  qaio::TimerHandle t = loop.call_later(10, [payload] {});
  EXPECT_FALSE(h.cancelled());
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(payload.use_count(), 3);
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(payload.use_count(), 2);  // the callback and its captures are gone at once
  t.cancel();
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(payload.use_count(), 1);
  h.cancel();  // twice: nothing more
  t.cancel();
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(loop.cancelled_timer_count(), 1u);
  EXPECT_NE(h.repr().find("cancelled"), std::string::npos);
}

TYPED_TEST(Handles, Item37_HandlesCancelledBeforeTheirTurnNeverRun) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> ran;
  loop.call_soon([&] { ran.push_back("soon"); }).cancel();
  loop.call_later(0.001, [&] { ran.push_back("later"); }).cancel();
  loop.call_at(loop.time(), [&] { ran.push_back("at"); }).cancel();
  loop.call_later(0.03, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_TRUE(ran.empty());
}

TYPED_TEST(Handles, Item38_CancelledTimerBookkeepingAndHeapRebuild) {
  qaio::EventLoop& loop = this->loop;
  std::vector<qaio::TimerHandle> timers;
  for (int i = 0; i < 10; ++i) timers.push_back(loop.call_later(10 + i, [] {}));
  timers[3].cancel();
  timers[5].cancel();
  timers[5].cancel();  // counted once
  EXPECT_EQ(loop.cancelled_timer_count(), 2u);
  EXPECT_EQ(loop.timer_count(), 10u);
  // Only cancelled timers at the head go at the next iteration: none here.
  run_one_iteration(loop);
  EXPECT_EQ(loop.timer_count(), 10u);
  EXPECT_EQ(loop.cancelled_timer_count(), 2u);
  timers[0].cancel();  // now the head is cancelled
  run_one_iteration(loop);
  EXPECT_EQ(loop.timer_count(), 9u);
  EXPECT_EQ(loop.cancelled_timer_count(), 2u);
  for (auto& t : timers) t.cancel();
  timers.clear();

  // More than 100 timers, more than half cancelled: the heap is rebuilt with the live ones only.
  run_one_iteration(loop);
  EXPECT_EQ(loop.timer_count(), 0u);
  std::vector<qaio::TimerHandle> many;
  for (int i = 0; i < 150; ++i) many.push_back(loop.call_later(20 + i, [] {}));
  for (int i = 1; i < 150; i += 2) many[i].cancel();  // 75 of 150: exactly half, no rebuild
  run_one_iteration(loop);
  EXPECT_EQ(loop.timer_count(), 150u);
  many[2].cancel();  // 76 of 150: more than half
  EXPECT_EQ(loop.cancelled_timer_count(), 76u);
  run_one_iteration(loop);
  EXPECT_EQ(loop.timer_count(), 74u);
  EXPECT_EQ(loop.cancelled_timer_count(), 0u);
  // Cancelling an already-removed timer does not count it again.
  many[1].cancel();
  EXPECT_EQ(loop.cancelled_timer_count(), 0u);
}

namespace {
qaio::Coro<void> sleep_long() { co_await qaio::sleep(30); }
}  // namespace

TYPED_TEST(Handles, Item39_CancellingASleepingTaskCancelsItsTimer) {
  qaio::EventLoop& loop = this->loop;
  auto task = loop.create_task(sleep_long());
  run_one_iteration(loop);  // the task starts and sleeps
  EXPECT_EQ(loop.timer_count(), 1u);
  EXPECT_EQ(loop.cancelled_timer_count(), 0u);
  EXPECT_TRUE(task.cancel());
  EXPECT_THROW(loop.run_until_complete(task), qaio::CancelledError);
  EXPECT_TRUE(task.cancelled());
  // The sleep's TimerHandle was cancelled: no live timer is left.
  EXPECT_EQ(loop.cancelled_timer_count(), loop.timer_count());
  EXPECT_FALSE(loop.next_timer_deadline().has_value());
}
