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

// A type-erased callable passed around before it reaches a handle (fd callbacks, calls posted
// from other threads, signal handlers). 56 bytes inline: a lambda capturing up to seven pointers.
using Callback = SmallFunction<void(), 56>;

// What a HandleState needs to run, name and destroy the callable stored behind it.
struct CallbackOps {
  void (*invoke)(void*);
  void (*destroy)(void*) noexcept;  // nullptr: nothing to destroy (a trivially destructible callable)
  std::string (*describe)(const void*);
};

// The shared state behind a Handle: a 32-byte header followed by the callable itself, so the
// state is exactly as large as what it runs (40 bytes for a lambda capturing one pointer). Taken
// from the per-thread slab pool (slab_pool.h). Every byte counts: a burst of call_soon holds one
// per pending callback, and every byte is a fresh page the kernel has to clear (W1 batch in
// docs/benchmarks.md). Callables up to kMaxInline bytes are stored inline; larger ones (and those
// needing more than 8-byte alignment) on the heap, with a pointer inline.
struct HandleState {
  static constexpr std::size_t kMaxInline = 480;

  std::atomic<std::uint32_t> refs{1};
  bool cancelled = false;
  bool is_timer : 1 = false;
  bool in_heap : 1 = false;  // a TimerHandle still in the loop's timer heap
  bool running : 1 = false;  // the callback is executing: cancel() must not destroy it yet
  bool pooled : 1 = false;   // memory from the slab pool (else from operator new)
  std::uint16_t bytes = 0;   // size of this allocation, header included
  double when = 0;           // deadline in loop.time() seconds (timers only; the heap keeps a copy)
  EventLoop* loop = nullptr;
  const CallbackOps* ops = nullptr;  // nullptr once the callable is gone (cancelled, or never set)

  // A new state holding `fn`, with one reference. pooled: from the calling thread's pool (the
  // loop's thread, where nearly every handle is made and released); threads that only post to a
  // loop use operator new instead, so they never map a pool of their own.
  template <class F>
  static HandleState* create(F&& fn, bool pooled = true);

  void invoke() { ops->invoke(storage()); }
  // Destroys the callable now (cancel). Re-entrant: the callable's destructor may drop handles.
  void drop_callback() noexcept {
    if (const CallbackOps* o = ops) {
      ops = nullptr;
      if (o->destroy) o->destroy(storage());
    }
  }
  std::string describe() const { return ops ? ops->describe(storage()) : std::string("None"); }

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
  void* storage() const noexcept { return const_cast<HandleState*>(this) + 1; }
  static void* allocate(std::size_t bytes, bool pooled);
  static void deallocate(void* p, std::size_t bytes, bool pooled) noexcept;
  static void destroy(HandleState* h) noexcept;

  template <class D>
  static constexpr bool stored_inline =
      sizeof(D) <= kMaxInline && alignof(D) <= alignof(void*) && std::is_nothrow_destructible_v<D>;
  // A lambda capturing pointers needs no destructor call: most handles skip an indirect call.
  template <class D>
  static constexpr CallbackOps inline_ops = {
      [](void* p) { (*static_cast<D*>(p))(); },
      std::is_trivially_destructible_v<D> ? nullptr : +[](void* p) noexcept { static_cast<D*>(p)->~D(); },
      [](const void* p) { return describe_callable(*static_cast<const D*>(p)); },
  };
  template <class D>
  static constexpr CallbackOps heap_ops = {
      [](void* p) { (**static_cast<D**>(p))(); },
      [](void* p) noexcept { delete *static_cast<D**>(p); },
      [](const void* p) { return describe_callable(**static_cast<D* const*>(p)); },
  };
};
static_assert(sizeof(HandleState) == 32 || sizeof(void*) != 8, "the handle header is 32 bytes");

template <class F>
HandleState* HandleState::create(F&& fn, bool pooled) {
  using D = std::decay_t<F>;
  constexpr std::size_t payload = stored_inline<D> ? (sizeof(D) + 7) & ~std::size_t{7} : sizeof(D*);
  constexpr std::size_t size = sizeof(HandleState) + payload;
  void* memory = allocate(size, pooled);
  auto* h = ::new (memory) HandleState();
  h->pooled = pooled;
  h->bytes = static_cast<std::uint16_t>(size);
  try {
    if constexpr (stored_inline<D>) {
      ::new (h->storage()) D(std::forward<F>(fn));
      h->ops = &inline_ops<D>;
    } else {
      *static_cast<D**>(h->storage()) = new D(std::forward<F>(fn));
      h->ops = &heap_ops<D>;
    }
  } catch (...) {
    h->~HandleState();
    deallocate(memory, size, pooled);
    throw;
  }
  return h;
}

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
