// run_threadsafe.cpp: the untyped half of ConcurrentFuture (run_threadsafe.h): the state machine
// shared between the loop's thread and the threads that wait, and cancellation across threads.
#include "qaio/run_threadsafe.h"

#include <cmath>

namespace qaio::detail {

std::chrono::steady_clock::time_point deadline_after(double seconds) {
  if (std::isnan(seconds)) throw std::invalid_argument("timeout must not be NaN");
  const auto now = std::chrono::steady_clock::now();
  // A year is "forever" here; it keeps the conversion below far from overflowing.
  if (seconds > 365.0 * 24 * 3600) return std::chrono::steady_clock::time_point::max();
  if (seconds <= 0) return now;
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

bool ConcurrentStateBase::done() const {
  std::lock_guard lock(mutex_);
  return state_ != State::pending;
}

bool ConcurrentStateBase::cancelled() const {
  std::lock_guard lock(mutex_);
  return state_ == State::cancelled;
}

bool ConcurrentStateBase::cancel() {
  std::shared_ptr<ThreadsafeQueue> queue;
  WeakRef<FutureBase> task;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::finished) return false;
    if (state_ == State::cancelled) return true;
    state_ = State::cancelled;
    cv_.notify_all();
    if (!queue_ || cancel_posted_) return true;  // not created yet: the creating call sees the flag
    cancel_posted_ = true;
    queue = queue_;
    task = task_;
  }
  // The task belongs to the loop's thread: cancel it there (a no-op if the loop closed).
  post_threadsafe(queue, [task] {
    if (auto t = task.lock()) t->cancel(std::nullopt);
  });
  return true;
}

void ConcurrentStateBase::abandon() {
  std::lock_guard lock(mutex_);
  if (state_ != State::pending) return;
  state_ = State::cancelled;
  cv_.notify_all();
}

bool ConcurrentStateBase::wait_until(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    cv_.wait(lock, [this] { return state_ != State::pending; });
    return true;
  }
  return cv_.wait_until(lock, deadline, [this] { return state_ != State::pending; });
}

void ConcurrentStateBase::wait() const { wait_until(std::chrono::steady_clock::time_point::max()); }

void ConcurrentStateBase::check_outcome() const {
  std::lock_guard lock(mutex_);
  if (state_ == State::cancelled) throw CancelledError();
  if (state_ == State::pending) throw InvalidStateError("Result is not ready.");
  if (error_) std::rethrow_exception(error_);
}

std::exception_ptr ConcurrentStateBase::stored_exception() const {
  std::lock_guard lock(mutex_);
  return error_;
}

bool ConcurrentStateBase::attach(WeakRef<FutureBase> task, std::shared_ptr<ThreadsafeQueue> queue) {
  std::lock_guard lock(mutex_);
  task_ = std::move(task);
  queue_ = std::move(queue);
  return state_ != State::cancelled;
}

bool ConcurrentStateBase::complete(std::exception_ptr error, bool cancelled, const std::function<void()>& publish) {
  std::lock_guard lock(mutex_);
  if (state_ != State::pending) return false;
  if (cancelled) {
    state_ = State::cancelled;
  } else {
    if (error) {
      error_ = std::move(error);
    } else if (publish) {
      publish();
    }
    state_ = State::finished;
  }
  cv_.notify_all();
  return true;
}

}  // namespace qaio::detail
