// qaio/sleep.h: qaio::sleep, asyncio.sleep.
//
// sleep(d) suspends the current task for d seconds (double or std::chrono); sleep(0) yields exactly
// one iteration; sleep(NaN) throws std::invalid_argument. Cancelling the sleeping task cancels the
// timer (spec items 35, 39). The awaiter needs no coroutine frame.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>

#include "qaio/future.h"
#include "qaio/handle.h"

namespace qaio {

namespace detail {

class SleepAwaiter {
 public:
  explicit SleepAwaiter(double delay);
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  double delay_;
  Ref<FutureState<void>> future_;
  TimerHandle timer_;
};

template <class T>
class SleepValueAwaiter : SleepAwaiter {
 public:
  SleepValueAwaiter(double delay, T value) : SleepAwaiter(delay), value_(std::move(value)) {}
  using SleepAwaiter::await_ready;
  using SleepAwaiter::await_suspend;
  T await_resume() {
    SleepAwaiter::await_resume();
    return std::move(value_);
  }

 private:
  T value_;
};

}  // namespace detail

inline detail::SleepAwaiter sleep(double seconds) { return detail::SleepAwaiter(seconds); }
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) {
  return detail::SleepAwaiter(std::chrono::duration<double>(d).count());
}
// sleep(delay, result): returns result after the delay.
template <class T>
detail::SleepValueAwaiter<T> sleep(double seconds, T result) {
  return detail::SleepValueAwaiter<T>(seconds, std::move(result));
}

}  // namespace qaio
