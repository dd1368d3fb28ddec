// qaio/policy.h: the event-loop policy functions and qaio::run (asyncio.run).
//
// get_event_loop() returns the running loop, else the loop set for this thread with
// set_event_loop(); with neither it throws RuntimeError, as CPython 3.14 does (gh-126353). It never
// creates a loop behind your back. new_event_loop() asks the policy (SelectorEventLoop by default;
// qt::QtEventLoopPolicy makes QtEventLoops).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include "qaio/coro.h"
#include "qaio/event_loop.h"
#include "qaio/signals.h"

namespace qaio {

class EventLoopPolicy {
 public:
  virtual ~EventLoopPolicy() = default;
  // The loop set for this thread; RuntimeError("There is no current event loop in thread '...'.")
  virtual EventLoop& get_event_loop();
  virtual void set_event_loop(EventLoop* loop);
  virtual std::unique_ptr<EventLoop> new_event_loop();
};

EventLoop& get_running_loop();  // RuntimeError("no running event loop") when none runs
EventLoop& get_event_loop();
void set_event_loop(EventLoop* loop);  // non-owning; nullptr clears
std::unique_ptr<EventLoop> new_event_loop();
EventLoopPolicy& get_event_loop_policy();
void set_event_loop_policy(std::unique_ptr<EventLoopPolicy> policy);  // nullptr: back to the default

// The current task of the running loop (empty if none); RuntimeError if no loop runs.
AnyTask current_task();
AnyTask current_task(EventLoop& loop);
// The pending tasks of the running loop (or of `loop`).
std::vector<AnyTask> all_tasks();
std::vector<AnyTask> all_tasks(EventLoop& loop);

namespace detail {
// asyncio.run's epilogue: cancel what is left, let it finish, report errors, shut the executor.
void cancel_all_tasks(EventLoop& loop);
void finish_run(EventLoop& loop);
}  // namespace detail

// asyncio.run: a new loop (from the policy) runs `main` to completion, then leftover tasks are
// cancelled and awaited, the default executor is shut down and the loop is closed.
template <class T>
T run(Coro<T> main, bool debug = false) {
  if (detail::running_loop() != nullptr)
    throw RuntimeError("qaio::run() cannot be called from a running event loop");
  std::unique_ptr<EventLoop> loop = new_event_loop();
  set_event_loop(loop.get());
  if (debug) loop->set_debug(true);
  struct Finish {
    EventLoop& loop;
    ~Finish() { detail::finish_run(loop); }
  } finish{*loop};
  Task<T> task = loop->create_task(std::move(main));
  detail::SigintCancelsTask sigint(*loop, task);  // Ctrl-C cancels `main` like asyncio.Runner (signals.h)
  try {
    return loop->run_until_complete(task);
  } catch (const CancelledError&) {
    sigint.raise_if_interrupted();
    throw;
  }
}

}  // namespace qaio
