// qaio/signals.h: Unix signal handlers on the loop (asyncio's loop.add_signal_handler) and the
// SIGINT behaviour of qaio::run (asyncio.Runner).
//
// The public calls are EventLoop members (event_loop.h):
//     loop.add_signal_handler(SIGUSR1, fn, args...);   bool removed = loop.remove_signal_handler(SIGUSR1);
// How it works (signals.cpp): the loop blocks the signal in the mask of the thread that adds the
// handler and reads it from a signalfd watched with add_reader, so a signal arriving while the
// loop blocks in epoll wakes it and the handler runs from the ready deque like any callback. A
// forwarding sigaction covers the threads that do not block the signal (threads started earlier):
// it re-sends the signal to the loop's thread, where it is blocked and so lands in the signalfd.
// remove_signal_handler() and close() restore the previous disposition and mask bit.
//
// A signal is handled by at most one loop of the process at a time (asyncio allows only the main
// thread's loop); adding it on a second loop throws RuntimeError.
#pragma once

#include <functional>
#include <memory>

#include "qaio/event_loop.h"
#include "qaio/task.h"

namespace qaio {

// True if `sig` is a signal number the platform knows (Python's signal.valid_signals()).
bool is_valid_signal(int sig) noexcept;

namespace detail {

// Called by EventLoop::close(): removes every signal handler of `loop` and closes its signalfd.
void close_loop_signals(EventLoop& loop) noexcept;

// Handlers qaio itself needs (the SIGCHLD child watcher) that must not collide with a user's
// add_signal_handler() for the same signal: both run when the signal arrives. fn runs directly
// in the signalfd reader callback (on the loop's thread).
void add_internal_signal_watch(EventLoop& loop, int sig, std::function<void()> fn);
void remove_internal_signal_watch(EventLoop& loop, int sig) noexcept;

// asyncio.Runner's SIGINT handling for qaio::run: while `main` runs in the main thread and SIGINT
// has its default disposition, the first Ctrl-C cancels `main` (its finally-blocks run); a second
// one raises KeyboardInterrupt out of the loop. Installed for the guard's lifetime only.
class SigintCancelsTask {
 public:
  SigintCancelsTask(EventLoop& loop, AnyTask main);
  ~SigintCancelsTask();
  SigintCancelsTask(const SigintCancelsTask&) = delete;
  SigintCancelsTask& operator=(const SigintCancelsTask&) = delete;

  // After `main` ended with CancelledError: throws KeyboardInterrupt if a SIGINT caused it (and
  // the task did not uncancel it itself), as asyncio.Runner.run does.
  void raise_if_interrupted();

 private:
  struct State;
  EventLoop& loop_;
  std::shared_ptr<State> state_;
};

}  // namespace detail
}  // namespace qaio
