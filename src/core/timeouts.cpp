// timeouts.cpp: the Timeout state machine (asyncio/timeouts.py, CPython 3.13):
// created -> entered -> (expiring -> expired | exited).
#include "qaio/timeouts.h"

#include <cstdio>

#include "qaio/event_loop.h"
#include "qaio/policy.h"

namespace qaio {

namespace {
const char* state_text(int s) {
  static const char* const names[] = {"created", "active", "expiring", "expired", "finished"};
  return names[s];
}
}  // namespace

Timeout::~Timeout() {
  if (handler_) handler_.cancel();
}

std::string Timeout::repr() const {
  std::string text = std::string("<Timeout [") + state_text(static_cast<int>(state_)) + "]";
  if (state_ == State::entered) {
    if (when_) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " when=%.3f", *when_);
      text += buf;
    } else {
      text += " when=None";
    }
  }
  return text + ">";
}

void Timeout::reschedule(std::optional<double> when) {
  if (state_ != State::entered) {
    if (state_ == State::created) throw RuntimeError("Timeout has not been entered");
    throw RuntimeError(std::string("Cannot change state of ") + state_text(static_cast<int>(state_)) + " Timeout");
  }
  when_ = when;
  if (handler_) {
    handler_.cancel();
    handler_ = Handle();
  }
  if (!when) return;
  EventLoop& loop = get_running_loop();
  // A deadline already past fires on the next iteration, so even sleep(0) sees it (item 127).
  if (*when <= loop.time()) {
    handler_ = loop.call_soon([this] { on_timeout(); });
  } else {
    handler_ = loop.call_at(*when, [this] { on_timeout(); });
  }
}

void Timeout::on_timeout() {
  task_.cancel();
  state_ = State::expiring;
  handler_ = Handle();
}

void Timeout::enter() {
  if (state_ != State::created) throw RuntimeError("Timeout has already been entered");
  detail::TaskCore* core = detail::TaskCore::current();
  if (core == nullptr) throw RuntimeError("Timeout should be used inside a task");
  state_ = State::entered;
  task_ = AnyTask(ref_to(core->future()));
  cancelling_ = task_.cancelling();
  reschedule(when_);
}

void Timeout::leave(std::exception_ptr error) {
  if (handler_) {
    handler_.cancel();
    handler_ = Handle();
  }
  if (state_ == State::expiring) {
    state_ = State::expired;
    // Only a cancel count back at its entry value means the CancelledError is ours to convert.
    if (task_.uncancel() <= cancelling_ && error && is_cancelled_error(error)) {
      try {
        std::rethrow_exception(error);
      } catch (...) {
        std::throw_with_nested(TimeoutError());
      }
    }
  } else if (state_ == State::entered) {
    state_ = State::exited;
  }
  if (error) std::rethrow_exception(error);
}

Timeout timeout(std::optional<double> delay) { return Timeout(detail::deadline_after(delay)); }

namespace detail {
std::optional<double> deadline_after(std::optional<double> delay) {
  if (!delay) return std::nullopt;
  return get_running_loop().time() + *delay;
}
}  // namespace detail

}  // namespace qaio
