// qaio/sync.h: asyncio's synchronization primitives: Event, Lock, Semaphore, BoundedSemaphore,
// Condition and Barrier (asyncio/locks.py, CPython 3.13 semantics).
//
// Every blocking call parks the calling task on a private future kept in a FIFO waiter list, so
// wake-ups are fair and cancellation is asyncio's: cancelling the waiting task cancels its future,
// and the primitive then passes on any wake-up it had already been given (never lost).
// A primitive binds to the loop it first blocks on (asyncio's _LoopBoundMixin); using it from
// another loop afterwards throws RuntimeError.
// The objects are not copyable. Their state is shared with the coroutines waiting on them, so a
// waiting frame destroyed late (for example by loop.close()) never touches freed memory.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/future.h"

namespace qaio {

class EventLoop;

// asyncio.BrokenBarrierError: the barrier was aborted or reset while a task waited on it.
class BrokenBarrierError : public Error {
 public:
  BrokenBarrierError() : Error("BrokenBarrierError") {}
  using Error::Error;
};

namespace detail {
struct EventState;
struct LockState;
struct SemaphoreState;
struct ConditionState;
struct BarrierState;

// Something a ReleaseGuard can release (a lock or a semaphore).
struct Releasable {
  virtual ~Releasable() = default;
  virtual void release_from_guard() = 0;
};

// The loop a primitive is bound to, fixed on first blocking use.
struct LoopBinding {
  EventLoop* loop = nullptr;
  EventLoop& get(const char* owner);
};
}  // namespace detail

// Releases a Lock, Condition or Semaphore when it goes out of scope (asyncio's `async with`).
// Move-only; release() gives the hold up early.
class ReleaseGuard {
 public:
  ReleaseGuard() noexcept = default;
  explicit ReleaseGuard(std::shared_ptr<detail::Releasable> held) noexcept : held_(std::move(held)) {}
  ReleaseGuard(ReleaseGuard&& other) noexcept = default;
  ReleaseGuard& operator=(ReleaseGuard&& other) noexcept {
    if (this != &other) {
      reset();
      held_ = std::move(other.held_);
    }
    return *this;
  }
  ReleaseGuard(const ReleaseGuard&) = delete;
  ReleaseGuard& operator=(const ReleaseGuard&) = delete;
  ~ReleaseGuard() { reset(); }

  bool owns() const noexcept { return held_ != nullptr; }
  explicit operator bool() const noexcept { return owns(); }
  // Releases now (and throws what release() throws); the destructor then does nothing.
  void release();

 private:
  // Destructors must not throw: a release that fails here (the loop is already closed) is dropped.
  void reset() noexcept;
  std::shared_ptr<detail::Releasable> held_;
};

// asyncio.Event: set() wakes every waiter; wait() returns at once while the flag is set.
class Event {
 public:
  Event();
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept;
  void set();
  void clear() noexcept;
  // Waits until the flag is set; returns true (as asyncio does).
  Coro<bool> wait();

 private:
  std::shared_ptr<detail::EventState> state_;
};

// asyncio.Lock: FIFO-fair, not reentrant. release() by a task that did not acquire is allowed (as in
// asyncio); release() of an unlocked lock throws RuntimeError("Lock is not acquired.").
class Lock {
 public:
  using Guard = ReleaseGuard;

  Lock();
  ~Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  Coro<bool> acquire();
  void release();
  bool locked() const noexcept;
  // `auto held = co_await lock.scoped();` acquires and releases when `held` is destroyed.
  Coro<ReleaseGuard> scoped();

 private:
  friend class Condition;
  std::shared_ptr<detail::LockState> state_;
};

// asyncio.Semaphore: acquire() blocks while the counter is zero (or while earlier waiters still
// wait: FIFO). Semaphore(-1) throws std::invalid_argument.
class Semaphore {
 public:
  using Guard = ReleaseGuard;

  explicit Semaphore(long value = 1);
  ~Semaphore();
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  Coro<bool> acquire();
  void release();
  // True if acquire() would block.
  bool locked() const noexcept;
  long value() const noexcept;
  Coro<ReleaseGuard> scoped();

 protected:
  Semaphore(long value, bool bounded);

 private:
  std::shared_ptr<detail::SemaphoreState> state_;
};

// asyncio.BoundedSemaphore: release() above the initial value throws std::invalid_argument
// ("BoundedSemaphore released too many times").
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(long value = 1) : Semaphore(value, true) {}
};

// asyncio.Condition: a lock plus notify/wait. Condition() owns a fresh Lock; Condition(lock) shares
// an existing one. wait() must be called with the lock held; it always re-acquires the lock before
// returning, even when cancelled, and a cancelled waiter that had been notified passes the
// notification on (3.13), so no notify() is lost.
class Condition {
 public:
  Condition();
  explicit Condition(Lock& lock);
  ~Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  Coro<bool> acquire();
  void release();
  bool locked() const noexcept;
  Coro<ReleaseGuard> scoped();

  Coro<bool> wait();
  // Waits until predicate() is truthy; returns its last value.
  template <class P>
  Coro<std::invoke_result_t<P&>> wait_for(P predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }
  // Wakes up to n waiters (RuntimeError without the lock held).
  void notify(std::size_t n = 1);
  void notify_all();

 private:
  friend struct detail::BarrierState;
  std::shared_ptr<detail::ConditionState> state_;
};

// asyncio.Barrier (3.11): `parties` tasks meet at wait(); each gets a distinct index in
// [0, parties). abort() breaks it (waiters get BrokenBarrierError); reset() returns it to empty.
class Barrier {
 public:
  explicit Barrier(std::size_t parties);
  ~Barrier();
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  Coro<std::size_t> wait();
  Coro<void> reset();
  Coro<void> abort();
  std::size_t parties() const noexcept;
  std::size_t n_waiting() const noexcept;
  bool broken() const noexcept;

 private:
  std::shared_ptr<detail::BarrierState> state_;
};

}  // namespace qaio
