// qaio/handle.h: Handle and TimerHandle, asyncio's references to a scheduled callback.
//
// call_soon() returns a Handle, call_later()/call_at() a TimerHandle. Both are cheap copyable
// references to a pooled, reference-counted HandleState; the loop holds its own reference while the
// callback is queued. cancel() drops the callback (and what it captured) at once, as asyncio does.
#pragma once

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>

#include "qaio/detail/small_function.h"

namespace qaio {

class EventLoop;

namespace detail {

// 56 bytes inline: a lambda capturing up to seven pointers, and every callback the library itself
// queues (a task step: one shared_ptr; a done-callback run: a shared_ptr and its node), fit
// without a heap allocation; 56 keeps HandleState at 88 bytes.
using Callback = SmallFunction<void(), 56>;

// The shared state behind a Handle. Taken from a per-thread slab pool (slab_pool.h). Kept
// small (88 bytes) on purpose: a burst of call_soon holds one per pending callback, and every byte
// is a fresh page the kernel has to clear (W1 batch in docs/benchmarks.md).
struct HandleState {
  std::atomic<std::uint32_t> refs{1};
  bool cancelled = false;
  bool is_timer : 1 = false;
  bool in_heap : 1 = false;  // a TimerHandle still in the loop's timer heap
  bool running : 1 = false;  // the callback is executing: cancel() must not destroy it yet
  bool pooled : 1 = false;   // memory from the slab pool (else from operator new)
  double when = 0;           // deadline in loop.time() seconds (timers only; the heap keeps a copy)
  EventLoop* loop = nullptr;
  Callback callback;

  // A new state with one reference. pooled: from the calling thread's pool (the loop's thread,
  // where nearly every handle is made and released); threads that only post to a loop use
  // operator new instead, so they never map a pool of their own.
  static HandleState* create(bool pooled = true);

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // The last reference needs no atomic read-modify-write: with a count of 1 nobody else holds
    // the state, so nobody can add a reference concurrently. (The loop's own reference is the last
    // one for nearly every handle.)
    if (refs.load(std::memory_order_acquire) == 1 || refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
      destroy(this);
  }

 private:
  HandleState() = default;
  static void destroy(HandleState* h) noexcept;
};

}  // namespace detail

class Handle {
 public:
  Handle() noexcept = default;
  // Adopts one reference (used by the loop).
  explicit Handle(detail::HandleState* state, bool add_ref) noexcept : state_(state) {
    if (state_ && add_ref) state_->add_ref();
  }
  Handle(const Handle& other) noexcept : state_(other.state_) {
    if (state_) state_->add_ref();
  }
  Handle(Handle&& other) noexcept : state_(other.state_) { other.state_ = nullptr; }
  Handle& operator=(Handle other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Handle() {
    if (state_) state_->release();
  }

  // Prevents the callback from running; drops it and its captured arguments. Idempotent.
  void cancel();
  bool cancelled() const noexcept { return state_ == nullptr || state_->cancelled; }
  EventLoop& get_loop() const noexcept { return *state_->loop; }
  // "<Handle name>" / "<TimerHandle when=... name>", with " cancelled" when cancelled.
  std::string repr() const;

  explicit operator bool() const noexcept { return state_ != nullptr; }
  friend bool operator==(const Handle& a, const Handle& b) noexcept { return a.state_ == b.state_; }

  detail::HandleState* state() const noexcept { return state_; }

 protected:
  detail::HandleState* state_ = nullptr;
};

// A Handle with a deadline. TimerHandles compare by deadline (asyncio's TimerHandle.__lt__ etc.);
// two timers with equal deadlines compare equal until one of them is cancelled.
class TimerHandle : public Handle {
 public:
  using Handle::Handle;
  TimerHandle() noexcept = default;
  double when() const noexcept { return state_->when; }

  friend bool operator==(const TimerHandle& a, const TimerHandle& b) noexcept {
    return a.state_->when == b.state_->when && a.cancelled() == b.cancelled();
  }
  friend bool operator<(const TimerHandle& a, const TimerHandle& b) noexcept {
    return a.state_->when < b.state_->when;
  }
  friend bool operator>(const TimerHandle& a, const TimerHandle& b) noexcept { return b < a; }
  friend bool operator<=(const TimerHandle& a, const TimerHandle& b) noexcept { return a < b || a == b; }
  friend bool operator>=(const TimerHandle& a, const TimerHandle& b) noexcept { return a > b || a == b; }
};

}  // namespace qaio
