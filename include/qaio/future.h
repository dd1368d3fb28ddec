// qaio/future.h: Future<T>, asyncio's Future as a cheap copyable handle to shared state.
//
// A Future is bound to one loop. It is completed once (set_result / set_exception / cancel) and
// then calls its done-callbacks, always through the loop's call_soon, in registration order
// (spec items 95-101). A failed future whose exception nobody looked at reports it to the loop's
// exception handler when the last reference goes ("Future exception was never retrieved").
//
// co_await on a Future suspends the current task until the future is done (see task.h); the value
// is the result, or the stored exception is thrown, or CancelledError if it was cancelled.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qaio/detail/small_function.h"
#include "qaio/detail/state_ref.h"
#include "qaio/errors.h"

namespace qaio {

class EventLoop;
template <class T>
class Future;

using CallbackId = std::uint64_t;

namespace detail {

class TaskCore;
class FutureBase;

using DoneCallback = SmallFunction<void(FutureBase&), 32>;

// One entry of a future's done-callback list, which is doubly linked so that entries keep their
// registration order and leave in O(1). The first entry's prev points to the last one, so the
// future needs no tail pointer. A task parked on a future links the DoneLink it embeds
// (task != nullptr): awaiting a future allocates nothing. Other callbacks are DoneNodes on the heap.
struct DoneLink {
  DoneLink* next = nullptr;
  DoneLink* prev = nullptr;  // never nullptr while linked
  FutureBase* task = nullptr;  // the parked task (its own future); nullptr for a DoneNode
};

// The state a future rarely needs, allocated on first use so that the common future (and every
// task) stays small: 1M live tasks are 1M times every byte (issue 8).
struct FutureColdState {
  std::exception_ptr exception;               // of set_exception
  std::optional<std::string> cancel_message;  // of cancel(msg); a task's pending one too
  std::exception_ptr cancelled_exc;           // the CancelledError a cancelled task ended with
  std::exception_ptr inject;                  // a task's CancelledError for its next resume point
  std::optional<std::string> task_name;       // set_name(), or "Task-N" once someone asked
};

// The untyped part of every future and task: state, exception, cancel message, done-callbacks.
class FutureBase : public RefCounted {
 public:
  enum class State : std::uint8_t { pending, cancelled, finished };

  explicit FutureBase(EventLoop& loop) noexcept : loop_(&loop) {}
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;
  virtual ~FutureBase();

  EventLoop& loop() const noexcept { return *loop_; }
  State state() const noexcept { return state_; }
  bool done() const noexcept { return state_ != State::pending; }
  bool cancelled() const noexcept { return state_ == State::cancelled; }

  // asyncio's Future.cancel(msg): false if already done. Tasks override it (task.h).
  virtual bool cancel(std::optional<std::string> msg = std::nullopt);
  void set_exception(std::exception_ptr e);
  // The stored exception (nullptr after a result); InvalidStateError while pending; CancelledError
  // if cancelled. Marks the exception as retrieved.
  std::exception_ptr exception();
  // Throws what result() would throw (InvalidStateError, CancelledError, the stored exception).
  void check_result();
  // The exception counts as seen: no "exception was never retrieved" report.
  void mark_retrieved() noexcept { log_traceback_ = false; }

  CallbackId add_done_callback(DoneCallback cb);
  std::size_t remove_done_callback(CallbackId id);

  virtual TaskCore* as_task() noexcept { return nullptr; }
  // "<Future pending>", "<Task finished name='Task-3' ...>", ...
  virtual std::string repr() const;
  const char* state_name() const noexcept;

  // The CancelledError a cancelled future raises (carries the cancel message).
  std::exception_ptr make_cancelled_error() const;

 protected:
  // Tasks only (TaskState): store the finished coroutine's outcome and destroy its frame. A
  // virtual here rather than in TaskCore, so that a task carries one vtable pointer, not two.
  virtual void finish_task_from_root() {}
  void ensure_pending(const char* what) const;  // InvalidStateError unless pending
  void finish();                               // pending -> finished, schedule callbacks
  bool cancel_future(std::optional<std::string> msg);
  void schedule_callbacks();
  // A task that ended by raising CancelledError keeps that exact exception for its awaiters.
  void set_cancelled_exception(std::exception_ptr e) { cold().cancelled_exc = std::move(e); }
  FutureColdState& cold() const;
  const std::optional<std::string>& cancel_message() const noexcept;

  // A parked task's wakeup: `link` joins the done-callbacks in order; unlink_wakeup takes it out
  // (the task is abandoned by close()).
  void link_wakeup(DoneLink& link) noexcept { append(&link); }
  void unlink_wakeup(DoneLink& link) noexcept { unlink(&link); }

  friend class TaskCore;

  EventLoop* loop_;
  State state_ = State::pending;
  bool log_traceback_ = false;
  // Set by TaskCore: the destructor cannot ask the (already destroyed) derived part as_task().
  bool is_task_ = false;

 private:
  void append(DoneLink* link) noexcept;
  void unlink(DoneLink* link) noexcept;

  // 32 bits: ids are unique per future, and no future sees four billion callbacks.
  std::uint32_t last_callback_id_ = 0;
  DoneLink* head_ = nullptr;
  mutable std::unique_ptr<FutureColdState> cold_;
};

template <class T>
class FutureState : public FutureBase {
 public:
  using FutureBase::FutureBase;
  template <class U>
  void set_result(U&& value) {
    ensure_pending("set_result");
    value_.emplace(std::forward<U>(value));
    finish();
  }
  T& result() {
    check_result();
    return *value_;
  }

 private:
  std::optional<T> value_;
};

template <>
class FutureState<void> : public FutureBase {
 public:
  using FutureBase::FutureBase;
  void set_result() {
    ensure_pending("set_result");
    finish();
  }
  void result() { check_result(); }
};

// Suspends the running task until `fut` is done: asyncio's "yield future" inside Task.__step.
// Throws RuntimeError outside a task or for a future of another loop. Defined in task.cpp.
// The caller (an awaiter, which lives in the suspended frame) must hold a reference to `fut` until
// the task resumes: the task itself does not.
void suspend_current_task_on(FutureBase& fut, std::coroutine_handle<> resume_at);
// Throws the exception a task step injected at this resume point (CancelledError), if any.
void throw_if_injected();

template <class T>
struct FutureAwaiter {
  Ref<FutureState<T>> state;

  bool await_ready() const noexcept { return state->done(); }
  void await_suspend(std::coroutine_handle<> h) { suspend_current_task_on(*state, h); }
  T await_resume() {
    throw_if_injected();
    if constexpr (std::is_void_v<T>) {
      state->result();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return state->result();
    } else {
      return std::move(state->result());  // move-only results go to the (single) awaiter
    }
  }
};

}  // namespace detail

template <class T = void>
class Future {
 public:
  using value_type = T;
  using state_type = detail::FutureState<T>;

  Future() noexcept = default;
  explicit Future(detail::Ref<state_type> state) noexcept : state_(std::move(state)) {}

  bool done() const noexcept { return state_->done(); }
  bool cancelled() const noexcept { return state_->cancelled(); }
  bool cancel() const { return state_->cancel(std::nullopt); }
  bool cancel(std::string msg) const { return state_->cancel(std::move(msg)); }

  // On a task these raise RuntimeError, as asyncio's Task does: only its coroutine completes it.
  template <class U = T>
    requires(!std::is_void_v<U>)
  void set_result(U value) const {
    reject_task("set_result");
    state_->set_result(std::move(value));
  }
  template <class U = T>
    requires std::is_void_v<U>
  void set_result() const {
    reject_task("set_result");
    state_->set_result();
  }
  void set_exception(std::exception_ptr e) const {
    reject_task("set_exception");
    state_->set_exception(std::move(e));
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  void set_exception(E&& e) const {
    reject_task("set_exception");
    state_->set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }

  // The result (a reference into the shared state; void for Future<void>), or throws.
  decltype(auto) result() const { return state_->result(); }
  std::exception_ptr exception() const { return state_->exception(); }

  // fn(Future<T>&) runs via call_soon once the future is done; returns an id for removal.
  template <class F>
  CallbackId add_done_callback(F fn) const {
    static_assert(std::is_invocable_v<F&, Future<T>&>,
                  "qaio: a done-callback must be callable as fn(qaio::Future<T>&)");
    return state_->add_done_callback([fn = std::move(fn)](detail::FutureBase& base) mutable {
      Future<T> self(detail::ref_to(static_cast<state_type&>(base)));
      fn(self);
    });
  }
  std::size_t remove_done_callback(CallbackId id) const { return state_->remove_done_callback(id); }

  EventLoop& get_loop() const noexcept { return state_->loop(); }
  std::string repr() const { return state_->repr(); }

  detail::FutureAwaiter<T> operator co_await() const noexcept { return {state_}; }

  const detail::Ref<state_type>& state() const noexcept { return state_; }
  explicit operator bool() const noexcept { return state_ != nullptr; }
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_ == b.state_; }

 protected:
  void reject_task(const char* what) const {
    if (state_->as_task()) throw RuntimeError(std::string("Task does not support ") + what + " operation");
  }
  detail::Ref<state_type> state_;
};

}  // namespace qaio
