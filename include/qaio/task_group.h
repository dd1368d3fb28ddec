// qaio/task_group.h: asyncio.TaskGroup (3.11+): structured concurrency for a set of child tasks.
//
// The group belongs to the task that first uses it (its parent). join() waits for every child,
// including children created meanwhile by other children. The first child that fails cancels its
// siblings and the parent (so the parent stops whatever it awaits and reaches join()); join() then
// withdraws that cancellation again (uncancel) and throws qaio::ExceptionGroup with every child
// error. A parent cancelled from outside cancels all children and join() rethrows CancelledError.
//
//   qaio::TaskGroup tg;
//   tg.create_task(a());  tg.create_task(b());
//   co_await tg.join();
//
// C++ has no asynchronous destructor, so if the code between creating the group and join() throws,
// join() is never reached; the group's destructor then only cancels the children. When that code
// itself awaits, prefer run(): `co_await tg.run(body(tg))` treats an exception from the body as
// asyncio's `async with` does (children cancelled and awaited, then the error propagates).
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/event_loop.h"
#include "qaio/task.h"

namespace qaio {

namespace detail {

class TaskGroupState : public std::enable_shared_from_this<TaskGroupState> {
 public:
  // Binds the group to the running loop and the current task, the first time it is used.
  void enter();
  // RuntimeError if no child may be created now (finished, shutting down).
  void check_can_create();
  void add(const Ref<FutureBase>& task);
  void abort();
  void on_task_done(FutureBase& task);
  // asyncio's __aexit__ with `exc` the body's exception (or nullptr).
  static Coro<void> exit(std::shared_ptr<TaskGroupState> st, std::exception_ptr exc);

  EventLoop* loop = nullptr;
  std::size_t running() const noexcept { return tasks_.size(); }
  bool entered() const noexcept { return entered_; }
  bool exiting() const noexcept { return exiting_; }

 private:
  // Weak: a child is kept alive by the loop while it runs; the group must not keep it longer.
  std::unordered_map<FutureBase*, WeakRef<FutureBase>> tasks_;
  std::vector<std::exception_ptr> errors_;
  std::exception_ptr base_error_;
  Ref<FutureState<void>> on_completed_;
  AnyTask parent_;
  bool entered_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
};

}  // namespace detail

class TaskGroup {
 public:
  TaskGroup() : st_(std::make_shared<detail::TaskGroupState>()) {}
  // Cancels children still running if join()/run() was never reached (see the top of the file).
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Starts a child task. RuntimeError once the group is finished or shutting down (the coroutine
  // is then destroyed unstarted).
  template <class T>
  Task<T> create_task(Coro<T> coro, std::string name = {}) {
    st_->check_can_create();
    Task<T> task = st_->loop->create_task(std::move(coro), std::move(name));
    st_->add(task.state());
    return task;
  }

  // Waits for every child; throws ExceptionGroup (child errors) or CancelledError (see top).
  Coro<void> join() { return detail::TaskGroupState::exit(st_, nullptr); }

  // Runs `body` in the current task as the group's `async with` block, then joins. If the body
  // throws, the children are cancelled and awaited before the error propagates (or is grouped).
  template <class T>
  Coro<T> run(Coro<T> body) {
    return run_body(st_, std::move(body));
  }

  // Children still running.
  std::size_t size() const noexcept { return st_->running(); }

 private:
  template <class T>
  static Coro<T> run_body(std::shared_ptr<detail::TaskGroupState> st, Coro<T> body) {
    st->enter();
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>) {
      try {
        co_await std::move(body);
      } catch (...) {
        error = std::current_exception();
      }
      co_await detail::TaskGroupState::exit(st, error);
    } else {
      std::optional<T> value;
      try {
        value.emplace(co_await std::move(body));
      } catch (...) {
        error = std::current_exception();
      }
      co_await detail::TaskGroupState::exit(st, error);
      co_return std::move(*value);
    }
  }

  std::shared_ptr<detail::TaskGroupState> st_;
};

}  // namespace qaio
