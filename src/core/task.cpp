// task.cpp: stepping a task, parking it on futures, and asyncio's cancellation protocol.
//
// The model is asyncio's Task.__step/__wakeup: a step resumes the frame where it last suspended;
// a suspension parks the task on one future (fut_waiter_) whose done-callback queues the next step.
// cancel() cancels fut_waiter_ if there is one, otherwise marks must_cancel_ so that the next step
// throws CancelledError at the resume point (or cancels the next future awaited).
#include <atomic>
#include <string>

#include "qaio/event_loop.h"
#include "qaio/task.h"

namespace qaio::detail {

namespace {
// The N of "Task-N". Each thread takes numbers in blocks, so making a task costs no atomic
// read-modify-write (a full barrier on x86, which waits for the stores to the fresh task state:
// ~5% of W3 spawn). Numbers stay unique and increase within a thread; a program with one loop
// thread numbers its tasks 1, 2, 3... exactly as asyncio does.
std::atomic<std::uint64_t> task_numbers_taken{0};
constexpr std::uint64_t kTaskNumberBlock = 1024;
thread_local std::uint64_t last_task_number = 0;
thread_local std::uint64_t task_number_block_end = 0;

std::uint64_t next_task_number() noexcept {
  if (last_task_number == task_number_block_end) {
    last_task_number = task_numbers_taken.fetch_add(kTaskNumberBlock, std::memory_order_relaxed);
    task_number_block_end = last_task_number + kTaskNumberBlock;
  }
  return ++last_task_number;
}
}  // namespace

TaskCore::TaskCore(FutureBase& self, std::coroutine_handle<> frame, std::string name)
    : frame_(frame), number_(next_task_number()) {
  self.is_task_ = true;
  wakeup_link_.task = &self;
  if (!name.empty()) {
    try {
      set_name(std::move(name));
    } catch (...) {
      destroy_frame();  // ~TaskCore does not run for a constructor that throws
      throw;
    }
  }
}

const std::string& TaskCore::name() const noexcept {
  // Built on first request: most tasks are never asked their name. (An allocation failure here
  // terminates, as any in a noexcept function.)
  FutureColdState& cold = self().cold();
  if (!cold.task_name) cold.task_name = "Task-" + std::to_string(number_);
  return *cold.task_name;
}

void TaskCore::set_name(std::string name) {
  self().cold().task_name = std::move(name);
}

TaskCore* TaskCore::current() noexcept {
  EventLoop* loop = running_loop();
  return loop ? loop->current_task_core() : nullptr;
}

int TaskCore::uncancel() noexcept {
  if (num_cancels_requested_ > 0) {
    --num_cancels_requested_;
    if (num_cancels_requested_ == 0) must_cancel_ = false;
  }
  return num_cancels_requested_;
}

bool TaskCore::cancel_task(std::optional<std::string> msg) {
  self().log_traceback_ = false;  // asyncio: cancelling counts as looking at the outcome
  if (self().done()) return false;
  FutureBase& fut = self();
  // Allocations before any state changes: if one throws, the task is exactly as it was.
  if (msg) fut.cold();
  if (fut_waiter_) {
    if (fut_waiter_->cancel(msg)) {  // the wakeup throws CancelledError
      ++num_cancels_requested_;
      return true;
    }
  }
  // Kept where the future keeps its own: the task's cancelled state reuses it (finish_cancelled).
  if (msg) {
    fut.cold_->cancel_message = std::move(msg);
  } else if (fut.cold_) {
    fut.cold_->cancel_message.reset();
  }
  ++num_cancels_requested_;
  must_cancel_ = true;
  return true;
}

void TaskCore::suspend_on(FutureBase& fut, std::coroutine_handle<> resume_at) {
  if (&fut.loop() != &self().loop())
    throw RuntimeError("Task " + self().repr() + " got Future " + fut.repr() + " attached to a different loop");
  if (&fut == &self()) throw RuntimeError("Task cannot await on itself: " + self().repr());
  if (parked()) {  // an awaiter parked us twice in one suspension: keep only the last future
    fut_waiter_->unlink_wakeup(wakeup_link_);
  }
  fut_waiter_ = &fut;
  resume_point_ = resume_at;
  if (fut.done()) {
    // asyncio's add_done_callback on a done future: the wakeup is scheduled at once.
    schedule_step();
  } else {
    fut.link_wakeup(wakeup_link_);
  }
  if (must_cancel_ && fut.cancel(self().cancel_message())) must_cancel_ = false;
}

void TaskCore::yield_once(std::coroutine_handle<> resume_at) {
  resume_point_ = resume_at;
  schedule_step();
}

void TaskCore::schedule_step() { self().loop().schedule_step(*this); }

void TaskCore::throw_if_injected() {
  FutureColdState* cold = self().cold_.get();
  if (cold && cold->inject) std::rethrow_exception(std::exchange(cold->inject, nullptr));
}

void TaskCore::step() {
  if (self().done() || !resume_point_) return;  // abandoned by close(), or a stale wakeup
  EventLoop& loop = self().loop();
  if (running_) {
    // Only reachable through a nested event loop (a modal dialog inside this very step): a task
    // is never entered twice; its wakeup waits until the outer step returns (DESIGN rule 3).
    schedule_step();
    return;
  }
  if (must_cancel_) {
    self().cold().inject = make_cancelled_error_for_step();
    must_cancel_ = false;
  }
  // Resumed by a step queued for a future that was already done while a later await linked the
  // task into another future: leave that list too, or its completion would wake a running task.
  if (parked()) fut_waiter_->unlink_wakeup(wakeup_link_);
  fut_waiter_ = nullptr;
  std::coroutine_handle<> h = std::exchange(resume_point_, {});
  // No extra reference here: this step is still counted in queued_steps_ (the loop releases it
  // after the step), so the task's own reference holds it even if the step finishes it.
  TaskCore* previous = loop.current_task_core();
  loop.set_current_task_core(this);
  running_ = true;
  struct Leave {
    TaskCore& t;
    EventLoop& loop;
    TaskCore* previous;
    ~Leave() {
      t.running_ = false;
      if (t.self().cold_) t.self().cold_->inject = nullptr;
      loop.set_current_task_core(previous);
    }
  };
  {
    Leave leave{*this, loop, previous};
    resume_trampolined(h);  // constant stack for synchronous chains (coro.h)
  }
  if (root_done()) {
    loop.unregister_task(*this);
    self().finish_task_from_root();  // may rethrow KeyboardInterrupt/SystemExit after storing it
  }
}

std::exception_ptr TaskCore::make_cancelled_error_for_step() const {
  return std::make_exception_ptr(CancelledError(self().cancel_message()));
}

void TaskCore::finish_cancelled(std::exception_ptr cancelled_error) {
  must_cancel_ = false;
  if (cancelled_error) {
    try {
      std::rethrow_exception(cancelled_error);
    } catch (const CancelledError& e) {
      self().cold().cancel_message = e.optional_message();
    } catch (...) {
    }
    self().set_cancelled_exception(cancelled_error);
  }
  std::optional<std::string> msg = self().cancel_message();
  self().cancel_future(std::move(msg));
}

void TaskCore::abandon() noexcept {
  if (parked()) fut_waiter_->unlink_wakeup(wakeup_link_);
  fut_waiter_ = nullptr;
  resume_point_ = {};
  destroy_frame();
}

void finish_task_with_error(TaskCore& task, FutureBase& fut, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError&) {
    task.finish_cancelled(error);
  } catch (const BaseException&) {
    fut.set_exception(error);
    throw;  // KeyboardInterrupt / SystemExit leave the loop, as in asyncio
  } catch (...) {
    fut.set_exception(error);
  }
}

void suspend_current_task_on(FutureBase& fut, std::coroutine_handle<> resume_at) {
  TaskCore* task = TaskCore::current();
  if (!task)
    throw RuntimeError("co_await on a qaio future outside of a task: run the coroutine with "
                       "loop.create_task() or loop.run_until_complete()");
  task->suspend_on(fut, resume_at);
}

void throw_if_injected() {
  if (TaskCore* task = TaskCore::current()) task->throw_if_injected();
}

}  // namespace qaio::detail
