// qaio/timeouts.h: asyncio.timeout / asyncio.timeout_at (3.11+) and the Timeout object.
//
// A timeout bounds work that runs *in the current task*: at the deadline the task is cancelled
// (task.cancel()), the work sees CancelledError at its current co_await, and when it unwinds out of
// the timeout the CancelledError becomes qaio::TimeoutError. Whether a CancelledError is "ours" is
// decided with the task's cancel count, as asyncio does: on exit we uncancel() once, and only if the
// count is back to what it was on entry is the error converted; otherwise somebody else cancelled
// the task too and the CancelledError passes through (nested timeouts, outer cancellation).
// The TimeoutError carries the CancelledError as its nested exception (std::nested_exception),
// which is where Python keeps it (__context__).
//
//   int v = co_await qaio::timeout(0.5, work());          // work() runs in this task
//   qaio::Timeout cm = qaio::timeout(10);                  // or keep the object to inspect/move it:
//   co_await cm.run(work_that_may_call_reschedule(cm));
//   if (cm.expired()) ...
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "qaio/coro.h"
#include "qaio/handle.h"
#include "qaio/task.h"

namespace qaio {

class Timeout {
 public:
  // when: a loop.time() deadline, or nullopt for "never" (reschedule() may set one later).
  explicit Timeout(std::optional<double> when) noexcept : when_(when) {}
  ~Timeout();
  // The running timer refers to this object: it stays where it was made.
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;

  std::optional<double> when() const noexcept { return when_; }
  // Moves the deadline (nullopt: none). RuntimeError unless the timeout is active (inside run()).
  void reschedule(std::optional<double> when);
  // True once the deadline fired (asyncio: state is EXPIRING or EXPIRED).
  bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }
  // "<Timeout [active] when=12.5>" like asyncio's repr.
  std::string repr() const;

  // Runs `work` inside this timeout, in the current task (asyncio's `async with timeout: await work`).
  // A Timeout can be entered once.
  template <class T>
  Coro<T> run(Coro<T> work);

  // asyncio's __aenter__/__aexit__, used by run(). leave() rethrows `error`, converted to
  // TimeoutError when the cancellation was this timeout's.
  void enter();
  void leave(std::exception_ptr error);

 private:
  enum class State { created, entered, expiring, expired, exited };
  void on_timeout();

  State state_ = State::created;
  std::optional<double> when_;
  AnyTask task_;
  int cancelling_ = 0;
  Handle handler_;
};

template <class T>
Coro<T> Timeout::run(Coro<T> work) {
  enter();
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    try {
      co_await std::move(work);
    } catch (...) {
      error = std::current_exception();
    }
    leave(error);
  } else {
    std::optional<T> value;
    try {
      value.emplace(co_await std::move(work));
    } catch (...) {
      error = std::current_exception();
    }
    leave(error);
    co_return std::move(*value);
  }
}

// asyncio.timeout(delay): a Timeout whose deadline is loop.time() + delay (nullopt: none).
// Needs a running loop.
Timeout timeout(std::optional<double> delay);
template <class Rep, class Period>
Timeout timeout(std::chrono::duration<Rep, Period> delay) {
  return timeout(std::optional<double>(std::chrono::duration<double>(delay).count()));
}
// asyncio.timeout_at(when).
inline Timeout timeout_at(std::optional<double> when) { return Timeout(when); }

namespace detail {
std::optional<double> deadline_after(std::optional<double> delay);  // running loop's time() + delay
}

// The one-liners: run `work` in the current task, bounded by delay / deadline.
template <class T>
Coro<T> timeout_at(std::optional<double> when, Coro<T> work) {
  Timeout cm(when);
  co_return co_await cm.run(std::move(work));
}
template <class T>
Coro<T> timeout(std::optional<double> delay, Coro<T> work) {
  // The deadline is taken when the coroutine starts, which for `co_await timeout(d, w)` is at once.
  Timeout cm(detail::deadline_after(delay));
  co_return co_await cm.run(std::move(work));
}
template <class Rep, class Period, class T>
Coro<T> timeout(std::chrono::duration<Rep, Period> delay, Coro<T> work) {
  return timeout(std::optional<double>(std::chrono::duration<double>(delay).count()), std::move(work));
}

}  // namespace qaio
