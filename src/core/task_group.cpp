// task_group.cpp: TaskGroup's bookkeeping and its exit protocol, after CPython 3.13's
// asyncio/taskgroups.py.
//
// The cancel count of the parent task is what keeps this honest: the group cancels its parent at
// most once (when the first child fails) and withdraws exactly that request in exit(), so an outer
// cancellation or timeout that hit the parent at the same time is still visible afterwards.
#include <string>

#include "qaio/policy.h"
#include "qaio/task_group.h"

namespace qaio {

namespace detail {

namespace {
bool is_base_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const BaseException&) {
    return true;
  } catch (...) {
    return false;
  }
}

struct ChildDone {
  std::shared_ptr<TaskGroupState> group;
  void operator()(FutureBase& task) { group->on_task_done(task); }
};
}  // namespace

void TaskGroupState::enter() {
  if (entered_) return;
  EventLoop& running = get_running_loop();
  TaskCore* core = TaskCore::current();
  if (core == nullptr) throw RuntimeError("TaskGroup cannot determine the parent task");
  loop = &running;
  parent_ = AnyTask(ref_to(core->future()));
  entered_ = true;
}

void TaskGroupState::check_can_create() {
  enter();
  if (exiting_ && tasks_.empty()) throw RuntimeError("TaskGroup is finished");
  if (aborting_) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroupState::add(const Ref<FutureBase>& task) {
  tasks_.emplace(task.get(), task);
  // Always through the done-callback, even for a task that is somehow done already, so a failure
  // never cancels the parent before create_task() has returned.
  task->add_done_callback(ChildDone{shared_from_this()});
}

void TaskGroupState::abort() {
  aborting_ = true;
  std::vector<Ref<FutureBase>> live;
  for (auto& [ptr, weak] : tasks_)
    if (auto t = weak.lock()) live.push_back(std::move(t));
  for (auto& t : live)
    if (!t->done()) t->cancel(std::nullopt);
}

void TaskGroupState::on_task_done(FutureBase& task) {
  tasks_.erase(&task);
  if (on_completed_ && tasks_.empty() && !on_completed_->done()) on_completed_->set_result();
  if (task.cancelled()) return;
  std::exception_ptr exc = task.exception();
  if (!exc) return;
  errors_.push_back(exc);
  if (is_base_error(exc) && !base_error_) base_error_ = exc;
  if (parent_.done()) {
    ErrorContext ctx;
    ctx.message = "Task has errored out but its parent task is already completed";
    ctx.exception = exc;
    ctx.task = parent_;
    loop->call_exception_handler(ctx);
    return;
  }
  if (!aborting_ && !parent_cancel_requested_) {
    // Stop whatever the parent awaits inside the group so it reaches exit(); exit() withdraws
    // this one cancellation again.
    abort();
    parent_cancel_requested_ = true;
    parent_.cancel();
  }
}

Coro<void> TaskGroupState::exit(std::shared_ptr<TaskGroupState> st, std::exception_ptr exc) {
  st->enter();
  if (st->exiting_) throw RuntimeError("TaskGroup has already been joined");
  st->exiting_ = true;
  if (exc && is_base_error(exc) && !st->base_error_) st->base_error_ = exc;
  std::exception_ptr propagate_cancel = (exc && is_cancelled_error(exc)) ? exc : nullptr;
  if (exc && !st->aborting_) st->abort();

  // A loop, because the parent may be cancelled repeatedly while it waits here.
  while (!st->tasks_.empty()) {
    if (!st->on_completed_) st->on_completed_ = make_ref<FutureState<void>>(*st->loop);
    std::exception_ptr cancelled;
    try {
      Future<void> f(st->on_completed_);
      co_await f;
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled && !st->aborting_) {
      // The parent is being cancelled from outside while children still run.
      propagate_cancel = cancelled;
      st->abort();
    }
    st->on_completed_.reset();
  }

  if (st->base_error_) std::rethrow_exception(st->base_error_);
  if (st->parent_cancel_requested_ && st->parent_.uncancel() == 0) {
    propagate_cancel = nullptr;  // only our own cancellation was pending: do not propagate it
  }
  if (propagate_cancel && st->errors_.empty()) std::rethrow_exception(propagate_cancel);
  if (exc && !is_cancelled_error(exc)) st->errors_.push_back(exc);
  if (!st->errors_.empty()) {
    // Cancelled from outside as well: keep that request, but make it the latest one.
    if (st->parent_.cancelling() > 0) {
      st->parent_.uncancel();
      st->parent_.cancel();
    }
    throw ExceptionGroup("unhandled errors in a TaskGroup", st->errors_);
  }
  if (exc) std::rethrow_exception(exc);
}

}  // namespace detail

TaskGroup::~TaskGroup() {
  if (st_->entered() && !st_->exiting() && st_->running() > 0) {
    try {
      st_->abort();
    } catch (...) {  // only reachable when the loop is already closed
    }
  }
}

}  // namespace qaio
