// qaio/task.h: Task<T>, a coroutine scheduled on a loop (asyncio.Task), and AnyTask, its untyped view.
//
// A task drives one Coro<T> frame step by step. Each step is a handle in the loop's ready deque:
// the first is queued by create_task, later ones by the done-callback of the future the task is
// waiting on (DESIGN rule 1). Cancellation is asyncio's: cancel(msg) cancels the awaited future
// (which throws CancelledError at the co_await), or, if there is none, throws it at the next step;
// cancelling() counts requests and uncancel() withdraws one (spec items 108-113).
// The loop keeps every live task alive until it finishes; the frame is destroyed as soon as the
// task completes.
#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <string>

#include "qaio/coro.h"
#include "qaio/future.h"

namespace qaio {

namespace detail {

// The untyped task machinery; TaskState<T> joins it to a FutureState<T>.
//
// Kept small on purpose (1M live tasks are 1M times every byte, issue 8): the name is only a
// number until someone asks for it, and the cancel message, the injected CancelledError and an
// explicit name live in the future's cold state (future.h), allocated when first needed. It has no
// virtual functions of its own: the frame is held untyped, and the one typed operation (taking the
// frame's outcome) is a virtual of the FutureBase it is joined to.
class TaskCore {
 public:
  TaskCore(FutureBase& self, std::coroutine_handle<> frame, std::string name);
  TaskCore(const TaskCore&) = delete;
  TaskCore& operator=(const TaskCore&) = delete;

  // "Task-N" (N counts tasks in creation order) unless set_name() or create_task() named it.
  const std::string& name() const noexcept;
  void set_name(std::string name);
  int cancelling() const noexcept { return num_cancels_requested_; }
  int uncancel() noexcept;
  bool cancel_task(std::optional<std::string> msg);
  bool is_running_step() const noexcept { return running_; }
  FutureBase& future() noexcept { return *wakeup_link_.task; }

  // One step: resume the frame where it suspended (asyncio's Task.__step).
  void step();
  // Called from the awaiters (future.h): park the task on `fut`, or yield one iteration.
  void suspend_on(FutureBase& fut, std::coroutine_handle<> resume_at);
  void yield_once(std::coroutine_handle<> resume_at);
  // Queues a step (create_task's first step, a wakeup, sleep(0)'s resumption). The ready queue
  // holds the task itself, counted in queued_steps_ and kept alive by the task's own reference
  // (holds_self_).
  void schedule_step();
  // A queued step left the ready queue (it ran, or the loop closed).
  void step_dequeued() noexcept {
    if (--queued_steps_ == 0 && !registered_) release_keep_alive();
  }
  void throw_if_injected();
  // The loop is closing and this task never finished: drop its frame (the loop reports it).
  void abandon() noexcept;
  // The frame ended with CancelledError (or returned with a cancel pending): the task becomes
  // cancelled, keeping that exact CancelledError for its awaiters.
  void finish_cancelled(std::exception_ptr cancelled_error);

  // The future this task is parked on completed: queue the next step (asyncio's Task.__wakeup).
  // Called by FutureBase::schedule_callbacks for the task's DoneLink.
  // (The future has unlinked wakeup_link_ already.)
  static void wake(TaskCore& task) { task.schedule_step(); }
  // The future dropped the wakeup without scheduling it (its loop refused the call, or the future
  // died under a parked task): the task stays parked and no longer points at it.
  static void wakeup_dropped(TaskCore& task) noexcept { task.fut_waiter_ = nullptr; }

  // The task whose step is running on the running loop of this thread, or nullptr.
  static TaskCore* current() noexcept;

 protected:
  // Only TaskState destroys a TaskCore (through FutureBase's virtual destructor).
  // A task still parked here was never finished nor abandoned (a loop never closed): leave the
  // future's list before the frame (and with it the awaiter holding the future) goes.
  ~TaskCore() {
    if (parked()) fut_waiter_->unlink_wakeup(wakeup_link_);
    destroy_frame();
  }

  std::coroutine_handle<> root() const noexcept { return frame_; }
  bool root_done() const noexcept { return frame_ && frame_.done(); }
  void destroy_frame() noexcept {
    if (frame_) std::exchange(frame_, {}).destroy();
  }
  std::exception_ptr make_cancelled_error_for_step() const;

  // The future this task is (TaskState joins the two); stored in the link, which needs it anyway.
  FutureBase& self() const noexcept { return *wakeup_link_.task; }
  // Whether the task is parked: wakeup_link_ is in fut_waiter_'s done-callbacks.
  bool parked() const noexcept { return wakeup_link_.prev != nullptr; }

  // Linked into fut_waiter_'s done-callbacks while the task is parked there.
  DoneLink wakeup_link_;
  // The future the task is parked on (or whose wakeup is queued). Not owning: whoever parks a
  // task keeps the future alive until the task resumes (see suspend_current_task_on), which
  // spares two atomic operations per await.
  FutureBase* fut_waiter_ = nullptr;
  std::coroutine_handle<> resume_point_;
  std::coroutine_handle<> frame_;  // the task's coroutine (owned; a Coro<T> until create_task)
  std::uint64_t number_;           // the N of "Task-N"
  // One word for the counters and flags (a million live tasks are a million times every byte).
  int num_cancels_requested_ = 0;
  std::uint16_t queued_steps_ = 0;  // steps of this task in the ready queue (at most a few)
  bool must_cancel_ : 1 = false;
  bool running_ : 1 = false;
  bool registered_ : 1 = false;  // in the loop's list of live tasks (started, not finished)
  // False for the tasks run_until_complete() makes from a coroutine: asyncio does not report them
  // as "destroyed but pending" when their loop closes (the caller saw the run stop).
  bool log_destroy_pending_ : 1 = true;
  // Lifetime while the loop needs the task: the task holds one reference to itself from
  // start_task on, while it is registered (not finished) or has a step in the ready queue, so
  // queued steps can be plain pointers. A bit, not a Ref member: a million tasks, 8 bytes each.
  bool holds_self_ : 1 = false;

  // Links in the loop's list of live tasks (first_task_/last_task_).
  TaskCore* prev_task_ = nullptr;
  TaskCore* next_task_ = nullptr;

  void hold_self() noexcept {
    if (holds_self_) return;
    self().ref_counts().strong.fetch_add(1, std::memory_order_relaxed);
    holds_self_ = true;
  }
  void release_keep_alive() noexcept {
    holds_self_ = false;
    Ref<FutureBase> last = Ref<FutureBase>::adopt(&self());  // may destroy *this: touch nothing after
  }

 public:
  void set_log_destroy_pending(bool on) noexcept { log_destroy_pending_ = on; }

 protected:
  friend class ::qaio::EventLoop;
};

template <class T>
class TaskState final : public FutureState<T>, public TaskCore {
 public:
  TaskState(EventLoop& loop, Coro<T> coro, std::string name)
      : FutureState<T>(loop), TaskCore(*this, coro.release(), std::move(name)) {}

  bool cancel(std::optional<std::string> msg) override { return cancel_task(std::move(msg)); }
  TaskCore* as_task() noexcept override { return this; }
  std::string repr() const override {
    return "<Task " + std::string(this->state_name()) + " name='" + name() + "'>";
  }

 protected:
  // Moves the finished frame's outcome into the future (value or exception), destroying the frame.
  void finish_task_from_root() override {
    auto typed = Coro<T>::handle_type::from_address(frame_.address());
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>) {
      try {
        typed.promise().take();
      } catch (...) {
        error = std::current_exception();
      }
      destroy_frame();
      if (error) return finish_with_error(error);
      if (must_cancel_) return finish_cancelled(nullptr);
      this->set_result();
    } else {
      std::optional<T> value;
      try {
        value.emplace(typed.promise().take());
      } catch (...) {
        error = std::current_exception();
      }
      destroy_frame();
      if (error) return finish_with_error(error);
      if (must_cancel_) return finish_cancelled(nullptr);
      this->set_result(std::move(*value));
    }
  }

 private:
  void finish_with_error(const std::exception_ptr& error);
};

// Shared tail of finish_from_root for errors (defined in task.cpp for the untyped part).
void finish_task_with_error(TaskCore& task, FutureBase& fut, const std::exception_ptr& error);

template <class T>
void TaskState<T>::finish_with_error(const std::exception_ptr& error) {
  finish_task_with_error(*this, *this, error);
}

}  // namespace detail

// A typed handle to a task: a Future<T> plus the task calls.
template <class T = void>
class Task : public Future<T> {
 public:
  Task() noexcept = default;
  explicit Task(detail::Ref<detail::TaskState<T>> state) noexcept : Future<T>(std::move(state)) {}

  const std::string& get_name() const noexcept { return core()->name(); }
  void set_name(std::string name) const { core()->set_name(std::move(name)); }
  int cancelling() const noexcept { return core()->cancelling(); }
  int uncancel() const noexcept { return core()->uncancel(); }

 private:
  // The state is always a TaskState<T>: no second pointer to keep (a Task is as small as a
  // Future, 16 bytes, which matters for the vectors of tasks that gather works on).
  detail::TaskCore* core() const noexcept { return static_cast<detail::TaskState<T>*>(this->state_.get()); }
};

// An untyped task handle: what current_task(), all_tasks() and task factories see.
class AnyTask {
 public:
  AnyTask() noexcept = default;
  explicit AnyTask(detail::Ref<detail::FutureBase> fut) noexcept
      : fut_(std::move(fut)), core_(fut_ ? fut_->as_task() : nullptr) {}
  template <class T>
  AnyTask(const Task<T>& t) noexcept : AnyTask(detail::Ref<detail::FutureBase>(t.state())) {}

  const std::string& get_name() const noexcept { return core_->name(); }
  void set_name(std::string name) const { core_->set_name(std::move(name)); }
  bool done() const noexcept { return fut_->done(); }
  bool cancelled() const noexcept { return fut_->cancelled(); }
  bool cancel() const { return fut_->cancel(std::nullopt); }
  bool cancel(std::string msg) const { return fut_->cancel(std::move(msg)); }
  int cancelling() const noexcept { return core_->cancelling(); }
  int uncancel() const noexcept { return core_->uncancel(); }
  std::exception_ptr exception() const { return fut_->exception(); }
  EventLoop& get_loop() const noexcept { return fut_->loop(); }
  std::string repr() const { return fut_->repr(); }

  // Waits for the task without taking its value (throws its exception / CancelledError).
  struct Awaiter {
    detail::Ref<detail::FutureBase> fut;
    bool await_ready() const noexcept { return fut->done(); }
    void await_suspend(std::coroutine_handle<> h) const { detail::suspend_current_task_on(*fut, h); }
    void await_resume() const {
      detail::throw_if_injected();
      fut->check_result();
    }
  };
  Awaiter operator co_await() const noexcept { return {fut_}; }

  const detail::Ref<detail::FutureBase>& future() const noexcept { return fut_; }
  explicit operator bool() const noexcept { return fut_ != nullptr; }
  friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.fut_ == b.fut_; }

 private:
  detail::Ref<detail::FutureBase> fut_;
  detail::TaskCore* core_ = nullptr;
};

}  // namespace qaio
