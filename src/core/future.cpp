// future.cpp: the untyped Future machinery: completion, cancellation, done-callbacks, and the
// "exception was never retrieved" report.
#include <string>

#include "qaio/event_loop.h"
#include "qaio/future.h"

namespace qaio::detail {

namespace {
// Runs one done-callback; queued with call_soon so callbacks never run synchronously (item 100).
struct RunDoneCallback {
  std::shared_ptr<FutureBase> future;
  DoneCallback fn;
  void operator()() { fn(*future); }
  std::string describe() const { return fn.describe(); }
};
}  // namespace

FutureBase::~FutureBase() {
  if (log_traceback_ && exception_) {
    ErrorContext ctx;
    ctx.message = std::string(is_task_ ? "Task" : "Future") + " exception was never retrieved";
    ctx.exception = exception_;
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

std::exception_ptr FutureBase::make_cancelled_error() const {
  if (cancelled_exc_) return cancelled_exc_;
  return std::make_exception_ptr(CancelledError(cancel_message_));
}

bool FutureBase::cancel(std::optional<std::string> msg) { return cancel_future(std::move(msg)); }

bool FutureBase::cancel_future(std::optional<std::string> msg) {
  log_traceback_ = false;
  if (state_ != State::pending) return false;
  state_ = State::cancelled;
  cancel_message_ = std::move(msg);
  schedule_callbacks();
  return true;
}

void FutureBase::set_exception(std::exception_ptr e) {
  ensure_pending("set_exception");
  if (!e) throw std::invalid_argument("set_exception() needs an exception, got None");
  exception_ = std::move(e);
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
  return exception_;
}

void FutureBase::check_result() {
  if (state_ == State::cancelled) std::rethrow_exception(make_cancelled_error());
  if (state_ != State::finished) throw InvalidStateError("Result is not ready.");
  log_traceback_ = false;
  if (exception_) std::rethrow_exception(exception_);
}

CallbackId FutureBase::add_done_callback(DoneCallback cb) {
  CallbackId id = next_callback_id_++;
  if (state_ != State::pending) {
    loop_->schedule_soon(RunDoneCallback{shared_from_this(), std::move(cb)});
  } else {
    callbacks_.push_back(Entry{id, std::move(cb)});
  }
  return id;
}

std::size_t FutureBase::remove_done_callback(CallbackId id) {
  std::size_t before = callbacks_.size();
  std::erase_if(callbacks_, [id](const Entry& e) { return e.id == id; });
  return before - callbacks_.size();
}

void FutureBase::schedule_callbacks() {
  if (callbacks_.empty()) return;
  std::vector<Entry> callbacks;
  callbacks.swap(callbacks_);
  auto self = shared_from_this();
  for (Entry& e : callbacks) loop_->schedule_soon(RunDoneCallback{self, std::move(e.fn)});
}

}  // namespace qaio::detail
