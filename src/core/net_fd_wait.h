// net_fd_wait.h (private): FdWait, the awaiter that parks a task until an fd is readable/writable.
//
// It registers a one-shot reader/writer that completes a private future, parks the task on that
// future (so asyncio cancellation reaches it), and unregisters on resume, on cancellation and on
// destruction. Like asyncio's _sock_read_done it only removes the fd callback if its own handle
// was not replaced meanwhile, so a cancelled wait never unregisters somebody else's reader.
#pragma once

#include <coroutine>
#include <memory>

#include "qaio/event_loop.h"

namespace qaio::detail {

class FdWait {
 public:
  FdWait(EventLoop& loop, int fd, bool readable) noexcept : loop_(loop), fd_(fd), readable_(readable) {}
  // Movable only before it is awaited (co_await may move the temporary into the frame).
  FdWait(FdWait&& o) noexcept
      : loop_(o.loop_), fd_(o.fd_), readable_(o.readable_), handle_(std::move(o.handle_)), future_(std::move(o.future_)) {}
  FdWait& operator=(FdWait&&) = delete;
  ~FdWait() { unregister(); }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    future_ = make_ref<FutureState<void>>(loop_);
    WeakRef<FutureState<void>> weak = future_;
    auto fire = [weak] {
      if (auto f = weak.lock(); f && !f->done()) f->set_result();
    };
    handle_ = readable_ ? loop_.add_reader(fd_, fire) : loop_.add_writer(fd_, fire);
    try {
      suspend_current_task_on(*future_, h);
    } catch (...) {
      unregister();
      throw;
    }
  }
  void await_resume() {
    unregister();
    throw_if_injected();
    future_->result();
  }

 private:
  void unregister() noexcept {
    if (!handle_) return;
    Handle h = std::move(handle_);
    handle_ = Handle();
    if (h.cancelled() || loop_.is_closed()) return;  // replaced by another callback, or loop gone
    try {
      if (readable_) {
        loop_.remove_reader(fd_);
      } else {
        loop_.remove_writer(fd_);
      }
    } catch (...) {
    }
  }

  EventLoop& loop_;
  int fd_;
  bool readable_;
  Handle handle_;
  Ref<FutureState<void>> future_;
};

}  // namespace qaio::detail
