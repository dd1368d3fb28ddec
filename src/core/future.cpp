// future.cpp: the untyped Future machinery: completion, cancellation, done-callbacks, and the
// "exception was never retrieved" report.
#include <string>

#include "qaio/detail/slab_pool.h"
#include "qaio/event_loop.h"
#include "qaio/future.h"

namespace qaio::detail {

namespace {
// A done-callback that is not a task wakeup.
struct DoneNode : DoneLink {
  CallbackId id = 0;
  DoneCallback fn;

  // From the slab pool: gather, wait and shield add one per awaited future.
  static void* operator new(std::size_t size) { return slab_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { slab_free(p, size); }
};

// Runs one done-callback; queued with call_soon so callbacks never run synchronously (item 100).
// It owns the node, so the callable is not moved again on its way to the ready deque.
struct RunDoneCallback {
  Ref<FutureBase> future;
  std::unique_ptr<DoneNode> node;
  void operator()() { node->fn(*future); }
  std::string describe() const { return node->fn.describe(); }
};
}  // namespace

FutureBase::~FutureBase() {
  // Normally only DoneNodes are left: whoever parks a task holds its future until the task
  // resumes (suspend_current_task_on). A task link left here is let go of, never woken.
  while (DoneLink* l = head_) {
    unlink(l);
    if (l->task) {
      TaskCore::wakeup_dropped(*l->task->as_task());
    } else {
      delete static_cast<DoneNode*>(l);
    }
  }
  if (log_traceback_ && cold_ && cold_->exception) {
    ErrorContext ctx;
    ctx.message = std::string(is_task_ ? "Task" : "Future") + " exception was never retrieved";
    ctx.exception = cold_->exception;
    report_to_live_loop(loop_, ctx);
  }
}

const char* FutureBase::state_name() const noexcept {
  switch (state_) {
    case State::pending:
      return "pending";
    case State::cancelled:
      return "cancelled";
    case State::finished:
      return "finished";
  }
  return "?";
}

std::string FutureBase::repr() const { return std::string("<Future ") + state_name() + ">"; }

void FutureBase::ensure_pending(const char*) const {
  // CPython's text: f'{self._state}: {self!r}', e.g. "FINISHED: <Future finished result=1>".
  if (state_ == State::finished) throw InvalidStateError("FINISHED: " + repr());
  if (state_ == State::cancelled) throw InvalidStateError("CANCELLED: " + repr());
}

FutureColdState& FutureBase::cold() const {
  if (!cold_) cold_ = std::make_unique<FutureColdState>();
  return *cold_;
}

const std::optional<std::string>& FutureBase::cancel_message() const noexcept {
  static const std::optional<std::string> none;
  return cold_ ? cold_->cancel_message : none;
}

std::exception_ptr FutureBase::make_cancelled_error() const {
  if (cold_ && cold_->cancelled_exc) return cold_->cancelled_exc;
  return std::make_exception_ptr(CancelledError(cancel_message()));
}

bool FutureBase::cancel(std::optional<std::string> msg) { return cancel_future(std::move(msg)); }

bool FutureBase::cancel_future(std::optional<std::string> msg) {
  log_traceback_ = false;
  if (state_ != State::pending) return false;
  // The cold block (and the message copy) first: if either allocation throws, the future is
  // still pending, not cancelled without its message.
  if (msg) {
    cold().cancel_message = std::move(msg);
  } else if (cold_) {
    cold_->cancel_message.reset();
  }
  state_ = State::cancelled;
  schedule_callbacks();
  return true;
}

void FutureBase::set_exception(std::exception_ptr e) {
  ensure_pending("set_exception");
  if (!e) throw std::invalid_argument("set_exception() needs an exception, got None");
  cold().exception = std::move(e);
  state_ = State::finished;
  log_traceback_ = true;
  schedule_callbacks();
}

void FutureBase::finish() {
  state_ = State::finished;
  schedule_callbacks();
}

std::exception_ptr FutureBase::exception() {
  if (state_ == State::cancelled) std::rethrow_exception(make_cancelled_error());
  if (state_ != State::finished) throw InvalidStateError("Exception is not set.");
  log_traceback_ = false;
  return cold_ ? cold_->exception : nullptr;
}

void FutureBase::check_result() {
  if (state_ == State::cancelled) std::rethrow_exception(make_cancelled_error());
  if (state_ != State::finished) throw InvalidStateError("Result is not ready.");
  log_traceback_ = false;
  if (cold_ && cold_->exception) std::rethrow_exception(cold_->exception);
}

// The list: head_->prev is the last entry; the last entry's next is nullptr.
void FutureBase::append(DoneLink* link) noexcept {
  link->next = nullptr;
  if (!head_) {
    link->prev = link;
    head_ = link;
    return;
  }
  DoneLink* last = head_->prev;
  last->next = link;
  link->prev = last;
  head_->prev = link;
}

void FutureBase::unlink(DoneLink* link) noexcept {
  DoneLink* next = link->next;
  if (link == head_) {
    head_ = next;
    if (next) next->prev = link->prev;  // the last entry
  } else {
    link->prev->next = next;
    (next ? next : head_)->prev = link->prev;
  }
  link->next = link->prev = nullptr;
}

CallbackId FutureBase::add_done_callback(DoneCallback cb) {
  auto node = std::make_unique<DoneNode>();
  node->id = ++last_callback_id_;
  node->fn = std::move(cb);
  CallbackId id = node->id;
  if (state_ != State::pending) {
    loop_->schedule_soon(RunDoneCallback{ref_to(*this), std::move(node)});
  } else {
    append(node.release());
  }
  return id;
}

std::size_t FutureBase::remove_done_callback(CallbackId id) {
  std::size_t removed = 0;
  for (DoneLink* l = head_; l;) {
    DoneLink* next = l->next;
    if (!l->task && static_cast<DoneNode*>(l)->id == id) {
      unlink(l);
      delete static_cast<DoneNode*>(l);
      ++removed;
    }
    l = next;
  }
  return removed;
}

void FutureBase::schedule_callbacks() {
  if (!head_) return;
  // Detach the whole list first: callbacks added from here on are scheduled directly. If
  // scheduling throws (a closed loop), the guard drops the entries not yet handed over.
  struct Detached {
    DoneLink* head;
    ~Detached() {
      while (DoneLink* l = head) {
        head = l->next;
        l->next = l->prev = nullptr;
        if (l->task) {
          TaskCore::wakeup_dropped(*l->task->as_task());
        } else {
          delete static_cast<DoneNode*>(l);
        }
      }
    }
  } list{std::exchange(head_, nullptr)};
  Ref<FutureBase> self;  // made once, for the first plain callback
  while (DoneLink* l = list.head) {
    list.head = l->next;
    l->next = l->prev = nullptr;
    if (l->task) {
      TaskCore& task = *l->task->as_task();
      try {
        TaskCore::wake(task);
      } catch (...) {
        TaskCore::wakeup_dropped(task);  // no step was queued: the task must not point at us
        throw;
      }
    } else {
      std::unique_ptr<DoneNode> node(static_cast<DoneNode*>(l));
      if (!self) self = ref_to(*this);
      loop_->schedule_soon(RunDoneCallback{self, std::move(node)});
    }
  }
}

}  // namespace qaio::detail
