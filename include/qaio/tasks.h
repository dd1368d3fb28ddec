// qaio/tasks.h: asyncio's task combinators: gather, gather_settled (return_exceptions=True),
// wait, wait_for, shield and as_completed, with CPython 3.13 semantics.
//
// Arguments may be Coro<T> (wrapped in a new task at once, like asyncio.ensure_future), Task<T> or
// Future<T>; all must belong to one loop (std::invalid_argument otherwise, Python's ValueError).
// gather() and shield() return a Future at once, as asyncio does, so the result can be awaited,
// cancelled or inspected later. wait(), wait_for() and as_completed() steps are coroutines that
// run in the awaiting task. Timeouts and the bounded variants live in timeouts.h.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/event_loop.h"
#include "qaio/future.h"
#include "qaio/policy.h"
#include "qaio/queues.h"
#include "qaio/task.h"
#include "qaio/timeouts.h"

namespace qaio {

// ---- Result<T>: one child's outcome in gather_settled -------------------------------------------

template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit like a value
  explicit Result(std::exception_ptr error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  // The value, or the child's exception rethrown (CancelledError for a cancelled child).
  T& value() & {
    rethrow_if_error();
    return std::get<0>(v_);
  }
  const T& value() const& {
    rethrow_if_error();
    return std::get<0>(v_);
  }
  T&& value() && {
    rethrow_if_error();
    return std::get<0>(std::move(v_));
  }
  std::exception_ptr error() const noexcept { return has_value() ? nullptr : std::get<1>(v_); }

 private:
  void rethrow_if_error() const {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
  }
  std::variant<T, std::exception_ptr> v_;
};

template <>
class Result<void> {
 public:
  Result() noexcept = default;
  explicit Result(std::exception_ptr error) noexcept : error_(std::move(error)) {}
  bool has_value() const noexcept { return error_ == nullptr; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::exception_ptr error() const noexcept { return error_; }

 private:
  std::exception_ptr error_;
};

// ---- wait() flags ---------------------------------------------------------------------------------

enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

// wait()'s answer: asyncio's (done, pending) pair, each in the order the futures were given.
template <class F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> pending;
};

namespace detail {

// ---- argument plumbing -----------------------------------------------------------------------------

template <class A>
struct future_value {};
template <class T>
struct future_value<Coro<T>> {
  using type = T;
};
template <class T>
struct future_value<Future<T>> {
  using type = T;
};
template <class T>
struct future_value<Task<T>> {
  using type = T;
};
template <class A>
using future_value_t = typename future_value<std::remove_cvref_t<A>>::type;

template <class A>
concept future_like = requires { typename future_value<std::remove_cvref_t<A>>::type; };

template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

void check_same_loop(EventLoop*& loop, EventLoop& other);

// asyncio.ensure_future for one argument: a Coro becomes a task on `loop` (chosen on first need).
template <class A>
Future<future_value_t<A>> ensure_future_on(EventLoop*& loop, A&& a) {
  using D = std::remove_cvref_t<A>;
  if constexpr (is_coro<D>::value) {
    static_assert(!std::is_lvalue_reference_v<A>,
                  "qaio: pass coroutines to gather/shield/as_completed as temporaries or std::move(coro)");
    if (loop == nullptr) loop = &get_event_loop();
    return loop->create_task(std::move(a));
  } else {
    Future<future_value_t<A>> f = a;
    if (!f) throw std::invalid_argument("an empty Future/Task was passed");
    check_same_loop(loop, f.get_loop());
    return f;
  }
}

// A finished child's value for the result tuple/vector (copied: the child may be shared).
template <class T>
gather_value_t<T> take_value(FutureState<T>& f) {
  if constexpr (std::is_void_v<T>) {
    f.result();
    return std::monostate{};
  } else if constexpr (std::is_copy_constructible_v<T>) {
    return f.result();
  } else {
    return std::move(f.result());
  }
}

template <class T>
Result<T> take_result(FutureState<T>& f) {
  if (f.cancelled()) return Result<T>(f.make_cancelled_error());
  if (std::exception_ptr e = f.exception()) return Result<T>(e);
  if constexpr (std::is_void_v<T>) {
    return Result<void>();
  } else if constexpr (std::is_copy_constructible_v<T>) {
    return Result<T>(f.result());
  } else {
    return Result<T>(std::move(f.result()));
  }
}

// ---- gather ---------------------------------------------------------------------------------------

// The untyped half of gather's outer future (asyncio's _GatheringFuture).
struct GatherCore {
  std::vector<Ref<FutureBase>> children;
  std::size_t nfinished = 0;
  bool settled = false;
  bool cancel_requested = false;
  // Cancels every child; true if at least one accepted.
  bool cancel_children(const std::optional<std::string>& msg);
  // What child_done decides; the typed part acts on it.
  enum class Step { nothing, fail, finish };
  Step on_child_done(FutureBase& outer, FutureBase& child, std::exception_ptr& error);
};

template <class R>
class GatherState final : public FutureState<R>, public GatherCore {
 public:
  GatherState(EventLoop& loop, bool settle, std::function<R()> build)
      : FutureState<R>(loop), build_(std::move(build)) {
    settled = settle;
  }

  // Cancelling the gather cancels its children; it then fails with CancelledError once they are
  // all done (even with return_exceptions), which is what the awaiting task sees.
  bool cancel(std::optional<std::string> msg) override {
    if (this->done()) return false;
    bool any = cancel_children(msg);
    if (any) cancel_requested = true;
    return any;
  }

  void child_done(FutureBase& child) {
    std::exception_ptr error;
    switch (on_child_done(*this, child, error)) {
      case Step::nothing:
        return;
      case Step::fail:
        this->set_exception(error);
        return;
      case Step::finish:
        try {
          this->set_result(build_());
        } catch (...) {
          this->set_exception(std::current_exception());
        }
        return;
    }
  }

  void start() {
    if (children.empty()) {
      this->set_result(build_());
      return;
    }
    WeakRef<GatherState> weak = ref_to(*this);
    for (auto& c : children) {
      c->add_done_callback([weak](FutureBase& child) {
        if (auto self = weak.lock()) {
          self->child_done(child);
        } else if (!child.cancelled()) {
          child.exception();  // nobody can ask any more: mark it retrieved
        }
      });
    }
  }

 private:
  std::function<R()> build_;
};

template <bool Settled, class... Ts>
auto gather_tuple(EventLoop* loop, std::tuple<Future<Ts>...> futs) {
  using R = std::conditional_t<Settled, std::tuple<Result<Ts>...>, std::tuple<gather_value_t<Ts>...>>;
  if (loop == nullptr) loop = &get_event_loop();
  auto build = [futs]() -> R {
    return std::apply(
        [](const auto&... f) -> R {
          if constexpr (Settled) {
            return R{take_result(*f.state())...};
          } else {
            return R{take_value(*f.state())...};
          }
        },
        futs);
  };
  auto state = make_ref<GatherState<R>>(*loop, Settled, std::move(build));
  std::apply([&](const auto&... f) { (state->children.push_back(f.state()), ...); }, futs);
  state->start();
  return Future<R>(static_ref_cast<FutureState<R>>(state));
}

template <bool Settled, class T>
auto gather_vector(EventLoop* loop, std::vector<Future<T>> futs) {
  using R = std::conditional_t<Settled, std::vector<Result<T>>, std::vector<gather_value_t<T>>>;
  if (loop == nullptr) loop = &get_event_loop();
  auto build = [futs]() -> R {
    R out;
    out.reserve(futs.size());
    for (const auto& f : futs) {
      if constexpr (Settled) {
        out.push_back(take_result(*f.state()));
      } else {
        out.push_back(take_value(*f.state()));
      }
    }
    return out;
  };
  auto state = make_ref<GatherState<R>>(*loop, Settled, std::move(build));
  for (const auto& f : futs) state->children.push_back(f.state());
  state->start();
  return Future<R>(static_ref_cast<FutureState<R>>(state));
}

template <class Range>
using range_elem_t = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;

template <class Range>
concept future_range = std::ranges::range<Range> && future_like<range_elem_t<Range>>;

template <class Range>
auto ensure_futures(EventLoop*& loop, Range&& r) {
  using E = range_elem_t<Range>;
  using T = future_value_t<E>;
  std::vector<Future<T>> futs;
  for (auto&& e : r) {
    if constexpr (is_coro<E>::value) {
      static_assert(!std::is_lvalue_reference_v<Range>,
                    "qaio: a range of coroutines must be passed as an rvalue (std::move(coros))");
      futs.push_back(ensure_future_on(loop, std::move(e)));
    } else {
      futs.push_back(ensure_future_on(loop, e));
    }
  }
  return futs;
}

// ---- wait / wait_for / shield / as_completed helpers ----------------------------------------------

// asyncio's _wait(): parks until return_when is satisfied or the timeout passes.
Coro<void> wait_impl(std::vector<Ref<FutureBase>> fs, ReturnWhen return_when,
                     std::optional<double> timeout);
// asyncio's _cancel_and_wait(): cancels `fut` and waits until it is done (never throws its outcome).
Coro<void> cancel_and_wait(Ref<FutureBase> fut);
// Rethrows the CancelledError in flight as TimeoutError carrying it (nested), else rethrows as is.
[[noreturn]] void throw_timeout_from(std::exception_ptr error);

template <class T>
Ref<FutureBase> base_of(const Future<T>& f) {
  return f.state();
}
inline Ref<FutureBase> base_of(const AnyTask& t) { return t.future(); }

template <class T>
Coro<T> await_future(Future<T> f) {
  co_return co_await f;
}

template <class F>
Coro<WaitResult<F>> wait_typed(std::vector<F> fs, ReturnWhen return_when, std::optional<double> timeout) {
  std::vector<Ref<FutureBase>> bases;
  bases.reserve(fs.size());
  for (const auto& f : fs) bases.push_back(base_of(f));
  co_await wait_impl(std::move(bases), return_when, timeout);
  WaitResult<F> r;
  for (auto& f : fs) (base_of(f)->done() ? r.done : r.pending).push_back(std::move(f));
  co_return r;
}

template <class T>
T take_value_or_void(Future<T>& f) {
  if constexpr (std::is_void_v<T>) {
    f.result();
  } else if constexpr (std::is_copy_constructible_v<T>) {
    return f.result();
  } else {
    return std::move(f.result());
  }
}

template <class T>
Coro<T> wait_for_future(Future<T> fut, std::optional<double> timeout) {
  if (timeout && *timeout <= 0) {
    // No time at all: the work is cancelled before it can run (3.12+), and whatever it ends with
    // is the answer; a cancellation becomes TimeoutError.
    if (!fut.done()) co_await cancel_and_wait(fut.state());
    std::exception_ptr error;
    try {
      co_return take_value_or_void(fut);
    } catch (...) {
      error = std::current_exception();
    }
    throw_timeout_from(error);
  }
  Timeout cm(deadline_after(timeout));
  co_return co_await cm.run(await_future(std::move(fut)));
}

// ---- as_completed --------------------------------------------------------------------------------

template <class T>
struct AsCompletedState : std::enable_shared_from_this<AsCompletedState<T>> {
  Queue<Ref<FutureState<T>>> done;
  std::vector<std::pair<Ref<FutureState<T>>, CallbackId>> todo;
  TimerHandle timer;

  void on_completion(FutureBase& f) {
    for (auto it = todo.begin(); it != todo.end(); ++it) {
      if (it->first.get() == &f) {
        done.put_nowait(it->first);
        todo.erase(it);
        if (todo.empty() && timer) timer.cancel();
        return;
      }
    }
  }
  // The deadline passed: every step still waiting gets a TimeoutError (a null entry).
  void on_timeout() {
    for (auto& [f, id] : todo) {
      f->remove_done_callback(id);
      done.put_nowait(nullptr);
    }
    todo.clear();
  }
};

}  // namespace detail

// ---- gather ---------------------------------------------------------------------------------------

// gather(a, b, ...): a Future of the tuple of results in argument order (void -> std::monostate).
// The first child failure fails it at once (the other children keep running); a cancelled child
// fails it with CancelledError. Cancelling it cancels every child.
template <class... As>
  requires(detail::future_like<As> && ...)
auto gather(As&&... args) {
  EventLoop* loop = nullptr;
  std::tuple<Future<detail::future_value_t<As>>...> futs{detail::ensure_future_on(loop, std::forward<As>(args))...};
  return detail::gather_tuple<false>(loop, std::move(futs));
}
// gather(range): a Future of the vector of results, in range order.
template <detail::future_range Range>
auto gather(Range&& range) {
  EventLoop* loop = nullptr;
  auto futs = detail::ensure_futures(loop, std::forward<Range>(range));
  return detail::gather_vector<false>(loop, std::move(futs));
}
// asyncio's gather(..., return_exceptions=True): waits for every child; each outcome is a Result.
template <class... As>
  requires(detail::future_like<As> && ...)
auto gather_settled(As&&... args) {
  EventLoop* loop = nullptr;
  std::tuple<Future<detail::future_value_t<As>>...> futs{detail::ensure_future_on(loop, std::forward<As>(args))...};
  return detail::gather_tuple<true>(loop, std::move(futs));
}
template <detail::future_range Range>
auto gather_settled(Range&& range) {
  EventLoop* loop = nullptr;
  auto futs = detail::ensure_futures(loop, std::forward<Range>(range));
  return detail::gather_vector<true>(loop, std::move(futs));
}

// ---- wait -----------------------------------------------------------------------------------------

// asyncio.wait: waits until return_when holds or `timeout` seconds pass (nothing is cancelled).
// Takes a range of Task<T>, Future<T> or AnyTask; an empty range or a bad return_when throws
// std::invalid_argument when awaited.
template <std::ranges::range Range>
  requires(!detail::is_coro<detail::range_elem_t<Range>>::value)
auto wait(Range&& fs, ReturnWhen return_when = ALL_COMPLETED, std::optional<double> timeout = std::nullopt) {
  using F = detail::range_elem_t<Range>;
  std::vector<F> copy(std::ranges::begin(fs), std::ranges::end(fs));
  return detail::wait_typed<F>(std::move(copy), return_when, timeout);
}
// Where asyncio raises TypeError, these do not compile: wait() takes a collection of tasks or
// futures, not a single awaitable, and not coroutines (wrap those with loop.create_task() first).
template <class A>
  requires(!std::ranges::range<A>)
void wait(A&&, ReturnWhen = ALL_COMPLETED, std::optional<double> = std::nullopt) = delete;
template <std::ranges::range Range>
  requires(detail::is_coro<detail::range_elem_t<Range>>::value)
void wait(Range&&, ReturnWhen = ALL_COMPLETED, std::optional<double> = std::nullopt) = delete;

// ---- wait_for -------------------------------------------------------------------------------------

// asyncio.wait_for: the result of `aw`, or TimeoutError after `timeout` seconds, once the work was
// cancelled and has finished. A coroutine runs in the current task (3.12+); a task or future is
// awaited, and cancelled on expiry. If the work swallows the cancellation and returns a value,
// that value is returned. nullopt waits without limit.
template <class T>
Coro<T> wait_for(Coro<T> aw, std::optional<double> timeout) {
  if (timeout && *timeout <= 0) {
    Future<T> fut = get_running_loop().create_task(std::move(aw));
    co_return co_await detail::wait_for_future(std::move(fut), timeout);
  }
  Timeout cm(detail::deadline_after(timeout));
  co_return co_await cm.run(std::move(aw));
}
template <class T>
Coro<T> wait_for(Future<T> fut, std::optional<double> timeout) {
  return detail::wait_for_future(std::move(fut), timeout);
}
template <class T>
Coro<T> wait_for(Task<T> task, std::optional<double> timeout) {
  return detail::wait_for_future(static_cast<Future<T>>(task), timeout);
}

// ---- shield ---------------------------------------------------------------------------------------

// asyncio.shield: a new future mirroring `inner`, whose cancellation does not reach inner.
// Cancelling inner cancels it; an inner that is already done is returned as is.
template <class T>
Future<T> shield(Future<T> inner) {
  if (inner.done()) return inner;
  Future<T> outer = inner.get_loop().template create_future<T>();
  detail::WeakRef<detail::FutureState<T>> weak_outer = outer.state();
  CallbackId id = inner.state()->add_done_callback([weak_outer](detail::FutureBase& base) {
    auto& in = static_cast<detail::FutureState<T>&>(base);
    auto out = weak_outer.lock();
    if (!out || out->cancelled()) {
      if (!in.cancelled()) in.exception();  // mark retrieved: the shield's owner gave up on it
      return;
    }
    if (in.cancelled()) {
      out->cancel(std::nullopt);
    } else if (std::exception_ptr e = in.exception()) {
      out->set_exception(e);
    } else if constexpr (std::is_void_v<T>) {
      out->set_result();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      out->set_result(in.result());
    } else {
      out->set_result(std::move(in.result()));
    }
  });
  detail::WeakRef<detail::FutureState<T>> weak_inner = inner.state();
  outer.state()->add_done_callback([weak_inner, id](detail::FutureBase&) {
    if (auto in = weak_inner.lock(); in && !in->done()) in->remove_done_callback(id);
  });
  return outer;
}
template <class T>
Future<T> shield(Task<T> inner) {
  return shield(static_cast<Future<T>>(inner));
}
template <class T>
Future<T> shield(Coro<T> inner) {
  return shield(static_cast<Future<T>>(get_event_loop().create_task(std::move(inner))));
}

// ---- as_completed ---------------------------------------------------------------------------------

// One step of as_completed(): co_await it for the next result to finish (or TimeoutError).
template <class T>
class AsCompletedStep {
 public:
  explicit AsCompletedStep(std::shared_ptr<detail::AsCompletedState<T>> st) : st_(std::move(st)) {}
  // The step's coroutine lives in this object, which must outlive the co_await (it does in a
  // range-for over as_completed()).
  typename Coro<T>::Awaiter operator co_await() & {
    running_ = next(st_);
    return std::move(running_).operator co_await();
  }

 private:
  static Coro<T> next(std::shared_ptr<detail::AsCompletedState<T>> st) {
    detail::Ref<detail::FutureState<T>> f = co_await st->done.get();
    if (!f) throw TimeoutError();
    co_return co_await Future<T>(std::move(f));
  }
  std::shared_ptr<detail::AsCompletedState<T>> st_;
  Coro<T> running_;
};

// asyncio.as_completed: as many steps as inputs; awaiting the steps in order yields the results in
// completion order. After `timeout` seconds the remaining steps throw TimeoutError.
template <detail::future_range Range>
auto as_completed(Range&& range, std::optional<double> timeout = std::nullopt) {
  using T = detail::future_value_t<detail::range_elem_t<Range>>;
  EventLoop* loop = nullptr;
  auto futs = detail::ensure_futures(loop, std::forward<Range>(range));
  auto st = std::make_shared<detail::AsCompletedState<T>>();
  for (auto& f : futs) {
    // asyncio works on the set of inputs: a task given twice completes (and is yielded) once.
    bool seen = false;
    for (auto& entry : st->todo) seen = seen || entry.first == f.state();
    if (!seen) st->todo.emplace_back(f.state(), CallbackId{0});
  }
  std::vector<AsCompletedStep<T>> steps;
  steps.reserve(st->todo.size());
  for (auto& entry : st->todo) {
    entry.second = entry.first->add_done_callback([st](detail::FutureBase& done) { st->on_completion(done); });
    steps.emplace_back(st);
  }
  if (timeout && loop != nullptr && !st->todo.empty()) {
    std::weak_ptr<detail::AsCompletedState<T>> weak = st;
    st->timer = loop->call_later(*timeout, [weak] {
      if (auto s = weak.lock()) s->on_timeout();
    });
  }
  return steps;
}

}  // namespace qaio
