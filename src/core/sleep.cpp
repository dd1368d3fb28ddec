// sleep.cpp: qaio::sleep as a frameless awaiter: a future completed by a loop timer.
#include "qaio/sleep.h"

#include <cmath>
#include <stdexcept>

#include "qaio/detail/slab_pool.h"
#include "qaio/event_loop.h"
#include "qaio/policy.h"

namespace qaio::detail {

SleepAwaiter::SleepAwaiter(double delay) : delay_(delay) {
  if (std::isnan(delay)) throw std::invalid_argument("Invalid delay: NaN (not a number)");
}

void SleepAwaiter::await_suspend(std::coroutine_handle<> h) {
  TaskCore* task = TaskCore::current();
  if (!task) throw RuntimeError("qaio::sleep() must be awaited inside a task");
  if (delay_ <= 0) {
    task->yield_once(h);  // sleep(0): exactly one iteration (spec item 35)
    return;
  }
  EventLoop& loop = task->future().loop();
  future_ = make_ref<FutureState<void>>(loop);
  WeakRef<FutureState<void>> weak = future_;
  timer_ = loop.call_later(delay_, [weak] {
    if (auto f = weak.lock(); f && !f->done()) f->set_result();
  });
  task->suspend_on(*future_, h);
}

void SleepAwaiter::await_resume() {
  if (timer_) timer_.cancel();  // cancelled sleep: the timer goes too (spec item 39)
  throw_if_injected();
  if (future_) future_->result();
}

}  // namespace qaio::detail
