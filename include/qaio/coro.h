// qaio/coro.h: Coro<T>, the coroutine type every qaio coroutine function returns.
//
// A Coro is lazy: calling the function only creates the frame. It runs when it is co_awaited
// (inline, inside the awaiting task: asyncio's `await coro()`) or when a task is made from it
// (loop.create_task). co_await on a Coro resumes the callee directly and the callee returns to its
// awaiter by symmetric transfer, so synchronous chains of any depth never grow the stack (DESIGN
// rule 9). The Coro object owns the frame: destroying it destroys the frame and every frame it
// awaits.
//
// Why a trampoline: returning a handle from await_suspend only keeps the stack flat if the compiler
// turns the resulting resume() into a tail call. g++ 12 does that at -O2 but not at -O0/-O1, and not
// under -fsanitize=address (its default use-after-scope checking unpoisons stack slots after the
// call, so the call is no longer in tail position): a 100,000-deep synchronous chain then overflows
// the stack. So while a task step runs (detail::resume_trampolined), each transfer stores the next
// handle and returns to the step's loop, which resumes it: constant stack in every build. Outside
// a trampoline (a frame resumed directly) the transfer falls back to plain symmetric transfer.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "qaio/detail/awaitable.h"
#include "qaio/detail/slab_pool.h"
#include "qaio/future.h"

namespace qaio {

template <class T = void>
class Coro;

namespace detail {

// The resume loop of the task step running on this thread, if any (see the top of this file).
struct Trampoline {
  std::coroutine_handle<> next;
};
inline thread_local Trampoline* tls_trampoline = nullptr;

// Where await_suspend hands control to `h`: through the active trampoline, else directly.
inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> h) noexcept {
  if (Trampoline* t = tls_trampoline) {
    t->next = h;
    return std::noop_coroutine();
  }
  return h;
}

// Sets the thread's trampoline for a scope and restores the previous one (nested event loops run
// steps of other tasks inside a step; plain callbacks run with none).
class TrampolineScope {
 public:
  explicit TrampolineScope(Trampoline* t) noexcept : previous_(std::exchange(tls_trampoline, t)) {}
  ~TrampolineScope() { tls_trampoline = previous_; }
  TrampolineScope(const TrampolineScope&) = delete;
  TrampolineScope& operator=(const TrampolineScope&) = delete;

 private:
  Trampoline* previous_;
};

// Resumes `h`, then every frame the chain transfers to, until the chain suspends or ends.
inline void resume_trampolined(std::coroutine_handle<> h) {
  Trampoline t;
  TrampolineScope scope(&t);
  while (h) {
    h.resume();
    h = std::exchange(t.next, {});
  }
}

struct CoroPromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;

  // Lazy start. When a task takes its first step, a cancellation requested before that step is
  // thrown from here, so the body never runs (spec item 109).
  struct InitialAwaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const { throw_if_injected(); }
  };
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      std::coroutine_handle<> next = h.promise().continuation;
      return next ? transfer_to(next) : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  // Frames come from the thread's slab pool: tasks make and free them by the million (W3), and
  // glibc's coalescing of those frees was a tenth of the spawn benchmark.
  static void* operator new(std::size_t size) { return slab_allocate(slab_frame_size(size)); }
  static void operator delete(void* p, std::size_t size) noexcept { slab_free(p, slab_frame_size(size)); }

  InitialAwaiter initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }

  // Clear compile errors instead of pages of template noise (QCoro's habit).
  template <class A>
  A&& await_transform(A&& awaitable) const noexcept {
    static_assert(is_awaitable_v<A>,
                  "qaio: this expression cannot be co_awaited. Await a qaio::Coro (as a temporary or "
                  "std::move(coro)), a qaio::Task, a qaio::Future, or a type with operator co_await.");
    return std::forward<A>(awaitable);
  }
};

// Where a coroutine's return value waits for its awaiter.
template <class T, bool = std::is_trivially_destructible_v<T>>
struct ReturnSlot {
  std::optional<T> value;  // the flag says whether a value needs destroying with the frame
  template <class U>
  void set(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() { return std::move(*value); }
};
template <class T>
struct ReturnSlot<T, true> {
  // Nothing to destroy, so no flag: a value is there exactly when the coroutine returned without
  // an exception, and only then is it taken. 8 bytes less in every such frame (W3: the frame of
  // a task returning an integer goes from 80 to 64 bytes).
  union {
    T value;
  };
  ReturnSlot() noexcept {}
  template <class U>
  void set(U&& v) {
    ::new (static_cast<void*>(&value)) T(std::forward<U>(v));
  }
  T take() { return std::move(value); }
};

template <class T>
struct CoroPromise : CoroPromiseBase {
  ReturnSlot<T> result;
  Coro<T> get_return_object() noexcept;
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    result.set(std::forward<U>(v));
  }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return result.take();
  }
};

template <>
struct CoroPromise<void> : CoroPromiseBase {
  Coro<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Coro {
 public:
  using value_type = T;
  using promise_type = detail::CoroPromise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  Coro() noexcept = default;
  explicit Coro(handle_type h) noexcept : handle_(h) {}
  Coro(Coro&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Coro& operator=(Coro&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Coro(const Coro&) = delete;
  Coro& operator=(const Coro&) = delete;
  ~Coro() { reset(); }

  // Destroys the frame (and, through its locals, every frame it was awaiting).
  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }
  bool valid() const noexcept { return static_cast<bool>(handle_); }
  // Gives up ownership of the frame (a task adopts it untyped; see TaskCore).
  handle_type release() noexcept { return std::exchange(handle_, {}); }
  bool done() const noexcept { return handle_ && handle_.done(); }
  handle_type handle() const noexcept { return handle_; }
  // The outcome of a finished coroutine: its value, or its exception rethrown.
  T take_result() { return handle_.promise().take(); }

  struct Awaiter {
    handle_type callee;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) const noexcept {
      callee.promise().continuation = caller;
      return detail::transfer_to(callee);  // start the callee without a nested call
    }
    T await_resume() const { return callee.promise().take(); }
  };
  Awaiter operator co_await() && noexcept { return Awaiter{handle_}; }

 private:
  handle_type handle_;
};

namespace detail {
template <class T>
Coro<T> CoroPromise<T>::get_return_object() noexcept {
  return Coro<T>(std::coroutine_handle<CoroPromise<T>>::from_promise(*this));
}
inline Coro<void> CoroPromise<void>::get_return_object() noexcept {
  return Coro<void>(std::coroutine_handle<CoroPromise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace qaio
