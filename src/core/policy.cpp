// policy.cpp: the event-loop policy (which loop is "current" per thread) and qaio::run's epilogue.
#include "qaio/policy.h"

#include <pthread.h>
#include <unistd.h>

#include <mutex>

#include "qaio/selector_event_loop.h"

namespace qaio {

namespace {
thread_local EventLoop* tls_current_loop = nullptr;
std::mutex policy_mutex;
std::unique_ptr<EventLoopPolicy>& policy_slot() {
  static std::unique_ptr<EventLoopPolicy> policy;
  return policy;
}

std::string thread_name() {
  if (::gettid() == ::getpid()) return "MainThread";  // Python's name for it
  char name[32] = {};
  if (::pthread_getname_np(::pthread_self(), name, sizeof name) == 0 && name[0]) return name;
  return "?";
}
}  // namespace

EventLoop& EventLoopPolicy::get_event_loop() {
  if (!tls_current_loop)
    throw RuntimeError("There is no current event loop in thread '" + thread_name() + "'.");
  return *tls_current_loop;
}

void EventLoopPolicy::set_event_loop(EventLoop* loop) { tls_current_loop = loop; }

std::unique_ptr<EventLoop> EventLoopPolicy::new_event_loop() { return std::make_unique<SelectorEventLoop>(); }

EventLoopPolicy& get_event_loop_policy() {
  std::lock_guard lock(policy_mutex);
  auto& slot = policy_slot();
  if (!slot) slot = std::make_unique<EventLoopPolicy>();
  return *slot;
}

void set_event_loop_policy(std::unique_ptr<EventLoopPolicy> policy) {
  std::lock_guard lock(policy_mutex);
  policy_slot() = std::move(policy);
}

EventLoop& get_running_loop() {
  EventLoop* loop = detail::running_loop();
  if (!loop) throw RuntimeError("no running event loop");
  return *loop;
}

EventLoop& get_event_loop() {
  if (EventLoop* loop = detail::running_loop()) return *loop;
  return get_event_loop_policy().get_event_loop();
}

void set_event_loop(EventLoop* loop) { get_event_loop_policy().set_event_loop(loop); }

std::unique_ptr<EventLoop> new_event_loop() { return get_event_loop_policy().new_event_loop(); }

AnyTask current_task() { return get_running_loop().current_task(); }
AnyTask current_task(EventLoop& loop) { return loop.current_task(); }
std::vector<AnyTask> all_tasks() { return get_running_loop().tasks(); }
std::vector<AnyTask> all_tasks(EventLoop& loop) { return loop.tasks(); }

namespace detail {

namespace {
// Waits for every task in `tasks` to finish (asyncio.run's gather(..., return_exceptions=True)).
Coro<void> wait_all(std::vector<AnyTask> tasks) {
  for (auto& t : tasks) {
    try {
      co_await t;
    } catch (...) {
    }
  }
}
}  // namespace

void cancel_all_tasks(EventLoop& loop) {
  std::vector<AnyTask> pending = loop.tasks();
  if (pending.empty()) return;
  for (auto& t : pending) t.cancel();
  loop.run_until_complete(wait_all(pending));
  for (auto& t : pending) {
    if (t.cancelled()) continue;
    if (auto e = t.exception()) {
      ErrorContext ctx;
      ctx.message = "unhandled exception during qaio::run() shutdown";
      ctx.exception = e;
      ctx.task = t;
      loop.call_exception_handler(ctx);
    }
  }
}

void finish_run(EventLoop& loop) {
  try {
    cancel_all_tasks(loop);
    loop.run_until_complete(loop.shutdown_default_executor());
  } catch (...) {
    ErrorContext ctx;
    ctx.message = "error while shutting down qaio::run()";
    ctx.exception = std::current_exception();
    loop.call_exception_handler(ctx);
  }
  set_event_loop(nullptr);
  loop.close();
}

}  // namespace detail
}  // namespace qaio
