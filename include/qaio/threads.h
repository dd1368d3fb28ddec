// qaio/threads.h: bridges between threads and the loop: to_thread, wrap_future, ensure_future.
#pragma once

#include <future>
#include <type_traits>
#include <utility>

#include "qaio/coro.h"
#include "qaio/policy.h"

namespace qaio {

// asyncio.to_thread: runs fn(args...) on the running loop's default executor and awaits it.
template <class F, class... Args>
auto to_thread(F fn, Args... args) -> Coro<std::invoke_result_t<F&, Args&...>> {
  co_return co_await get_running_loop().run_in_executor(nullptr, std::move(fn), std::move(args)...);
}

// asyncio.wrap_future for std::future: a Future of the current loop that completes when `f` does.
// A default-executor thread waits on the std::future (a std::future has no completion callback).
template <class T>
Future<T> wrap_future(std::future<T>&& f) {
  return get_event_loop().run_in_executor(nullptr, [f = std::move(f)]() mutable { return f.get(); });
}

// asyncio.ensure_future: a coroutine becomes a task of the current loop; futures pass through.
template <class T>
Task<T> ensure_future(Coro<T> coro) {
  return get_event_loop().create_task(std::move(coro));
}
template <class T>
Future<T> ensure_future(Future<T> f) {
  return f;
}
template <class T>
Task<T> ensure_future(Task<T> t) {
  return t;
}

}  // namespace qaio
