// qaio/run_threadsafe.h: run_coroutine_threadsafe and ConcurrentFuture<T>, the result other threads
// wait on (asyncio.run_coroutine_threadsafe and concurrent.futures.Future).
//
//     qaio::ConcurrentFuture<int> f = qaio::run_coroutine_threadsafe(work(), loop);   // any thread
//     int v = f.result(2.0);   // blocks up to 2 s; TimeoutError after that, and the task is cancelled
//
// The coroutine becomes a task of `loop`, created on the loop's thread through call_soon_threadsafe.
// When the task finishes its outcome is copied into the ConcurrentFuture under a mutex and waiting
// threads wake. cancel() from any thread makes the ConcurrentFuture cancelled at once and asks the
// loop (again through call_soon_threadsafe) to cancel the task, as asyncio's _chain_future does.
// If the loop is closed before the task finishes, the ConcurrentFuture is cancelled too, so waiters
// never hang on a dead loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/event_loop.h"
#include "qaio/task.h"

namespace qaio {

namespace detail {

// The untyped half: state, waiting, cancellation. Defined in run_threadsafe.cpp.
class ConcurrentStateBase {
 public:
  enum class State { pending, cancelled, finished };
  virtual ~ConcurrentStateBase() = default;

  bool done() const;
  bool cancelled() const;
  // concurrent.futures.Future.cancel(): false once finished; otherwise the state becomes
  // cancelled now and the loop is asked to cancel the task.
  bool cancel();
  // Blocks until done, or until the deadline (false if it passed first).
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  void wait() const;
  // Throws CancelledError if cancelled; the stored exception if the task failed. Requires done().
  void check_outcome() const;
  std::exception_ptr stored_exception() const;

  // Loop side. abandon(): the task (or the call that would create it) was dropped by close().
  void abandon();
  // Records the task for cancel(); false if the ConcurrentFuture was cancelled in the meantime.
  bool attach(WeakRef<FutureBase> task, std::shared_ptr<ThreadsafeQueue> queue);
  // Stores the coroutine's outcome: an error, a cancellation, or (error null, cancelled false) a
  // value that publish() stores under the lock. False if the ConcurrentFuture was already done.
  bool complete(std::exception_ptr error, bool cancelled, const std::function<void()>& publish);

 protected:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  State state_ = State::pending;
  std::exception_ptr error_;
  WeakRef<FutureBase> task_;
  std::shared_ptr<ThreadsafeQueue> queue_;
  bool cancel_posted_ = false;
};

// Held by the loop side: first by the call that creates the task, then by the task's coroutine
// frame. If it is destroyed while the outcome is still unknown (the loop closed and dropped the
// call or the frame, or the task was cancelled before its first step), the ConcurrentFuture
// becomes cancelled, so waiting threads wake instead of hanging on a dead loop.
struct ConcurrentLink {
  std::shared_ptr<ConcurrentStateBase> state;
  explicit ConcurrentLink(std::shared_ptr<ConcurrentStateBase> s) noexcept : state(std::move(s)) {}
  ConcurrentLink(ConcurrentLink&&) noexcept = default;
  ConcurrentLink& operator=(ConcurrentLink&&) noexcept = default;
  ConcurrentLink(const ConcurrentLink&) = delete;
  ConcurrentLink& operator=(const ConcurrentLink&) = delete;
  ~ConcurrentLink() {
    if (state) state->abandon();
  }
};

template <class T>
class ConcurrentState : public ConcurrentStateBase {
 public:
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
};

// The task's coroutine: runs `coro` and copies its outcome into the ConcurrentFuture itself (so
// the outcome counts as retrieved, as asyncio's _chain_future retrieves it). Errors stay in the
// ConcurrentFuture; a cancellation also cancels the task.
template <class T>
Coro<void> run_linked(Coro<T> coro, ConcurrentLink link) {
  auto& st = static_cast<ConcurrentState<T>&>(*link.state);
  std::exception_ptr error;
  std::exception_ptr cancelled;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      st.complete(nullptr, false, [&st] { st.value = true; });
    } else {
      std::optional<T> v;
      v.emplace(co_await std::move(coro));
      st.complete(nullptr, false, [&st, &v] { st.value.emplace(std::move(*v)); });
    }
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  if (cancelled) {
    st.complete(nullptr, true, nullptr);
    std::rethrow_exception(cancelled);
  }
  if (error) st.complete(error, false, nullptr);
}

// Seconds (double) -> a steady_clock deadline, saturating for huge values.
std::chrono::steady_clock::time_point deadline_after(double seconds);

}  // namespace detail

template <class T = void>
class ConcurrentFuture {
 public:
  ConcurrentFuture() = default;
  explicit ConcurrentFuture(std::shared_ptr<detail::ConcurrentState<T>> s) : state_(std::move(s)) {}

  bool valid() const noexcept { return state_ != nullptr; }
  bool done() const { return state_->done(); }
  bool cancelled() const { return state_->cancelled(); }
  bool cancel() const { return state_->cancel(); }

  // std::future's waiting calls.
  void wait() const { state_->wait(); }
  template <class Rep, class Period>
  std::future_status wait_for(std::chrono::duration<Rep, Period> d) const {
    return state_->wait_until(std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(d))
               ? std::future_status::ready
               : std::future_status::timeout;
  }
  // Blocks until done; the value, or the task's exception, or CancelledError.
  decltype(auto) get() const { return result(); }
  decltype(auto) result() const {
    state_->wait();
    return take();
  }
  // Waits at most `timeout` seconds. If the task is not done by then the caller gives up:
  // the task is cancelled on its loop and TimeoutError is thrown (the asyncio idiom
  // `try: f.result(t) except TimeoutError: f.cancel()` in one call).
  decltype(auto) result(double timeout) const {
    if (!state_->wait_until(detail::deadline_after(timeout))) {
      state_->cancel();
      throw TimeoutError("The coroutine took too long, cancelling the task...");
    }
    return take();
  }
  // The task's exception (nullptr after success); CancelledError if cancelled. Blocks until done.
  std::exception_ptr exception() const {
    state_->wait();
    if (state_->cancelled()) throw CancelledError();
    return state_->stored_exception();
  }

 private:
  decltype(auto) take() const {
    state_->check_outcome();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return T(*state_->value);
    } else {
      return T(std::move(*state_->value));  // move-only values go to the one caller
    }
  }

  std::shared_ptr<detail::ConcurrentState<T>> state_;
};

// asyncio.run_coroutine_threadsafe: schedules `coro` as a task of `loop` from any thread.
// RuntimeError("Event loop is closed") if the loop is closed.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Coro<T> coro, EventLoop& loop) {
  if (!coro.valid()) throw std::invalid_argument("A coroutine object is required");
  auto state = std::make_shared<detail::ConcurrentState<T>>();
  loop.call_soon_threadsafe([link = detail::ConcurrentLink(state), &loop, coro = std::move(coro)]() mutable {
    auto shared = link.state;
    if (shared->cancelled()) return;  // given up before the loop got to it
    Task<void> task = loop.create_task(detail::run_linked<T>(std::move(coro), std::move(link)));
    if (!shared->attach(task.state(), loop.threadsafe_queue())) task.cancel();  // cancel() raced us
  });
  return ConcurrentFuture<T>(std::move(state));
}

}  // namespace qaio
