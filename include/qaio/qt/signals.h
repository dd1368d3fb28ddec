// qaio/qt/signals.h: Qt signals as awaitables, async slots, and tasks bound to a QObject's lifetime.
//
//   auto text = co_await qaio::qt::signal(edit, &QLineEdit::textChanged);        // the value
//   co_await qaio::qt::signal(button, &QPushButton::clicked);                     // a bool
//   std::optional<int> v = co_await qaio::qt::signal(obj, &Obj::valueChanged, 2.0); // nullopt on timeout
//   qaio::qt::connect(button, &QPushButton::clicked, window, [](bool) -> qaio::Coro<void> {...});
//   qaio::qt::create_task(window, work());
//
// A signal awaitable connects when it is created (so `auto s = signal(...); start(); co_await s;`
// cannot miss a fast emission) and disconnects when it is destroyed; the first emission completes
// it. The value is void for a signal without arguments, the argument for one, a std::tuple for
// several (Qt's private-signal tag is dropped). The slot is a direct connection that only hands the
// copied arguments to the loop: in the loop's thread it completes a future (whose done-callback
// queues the task's next step), from another thread it goes through call_soon_threadsafe, so the
// task always resumes on the loop's thread from the ready deque (DESIGN rule 1). If the sender is
// destroyed first, the awaiting task gets qaio::CancelledError("sender destroyed").
#pragma once

#include <QMetaObject>
#include <QObject>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "qaio/coro.h"
#include "qaio/event_loop.h"
#include "qaio/future.h"
#include "qaio/policy.h"
#include "qaio/task.h"

namespace qaio::qt {

namespace detail {

// ---- signal signatures ------------------------------------------------------------------------

// Qt's `QPrivateSignal` is a private member type, so it cannot be named; its spelling can.
template <class T>
constexpr bool is_private_signal_tag() {
  constexpr std::string_view name = __PRETTY_FUNCTION__;
  return name.find("::QPrivateSignal") != std::string_view::npos;
}

template <class Tuple, class Seq>
struct TupleHead;
template <class Tuple, std::size_t... I>
struct TupleHead<Tuple, std::index_sequence<I...>> {
  using type = std::tuple<std::tuple_element_t<I, Tuple>...>;
};

// What a signal's emission carries: `Args` is the tuple of its (decayed) public arguments.
template <class Func>
struct SignalTraits {
  static_assert(sizeof(Func) == 0,
                "qaio::qt::signal needs a pointer to a signal member function, e.g. &QTimer::timeout");
};
template <class Obj, class R, class... A>
struct SignalTraits<R (Obj::*)(A...)> {
  using Object = Obj;
  using All = std::tuple<std::decay_t<A>...>;
  static constexpr std::size_t count = [] {
    if constexpr (sizeof...(A) == 0) {
      return std::size_t{0};
    } else if constexpr (is_private_signal_tag<std::tuple_element_t<sizeof...(A) - 1, All>>()) {
      return sizeof...(A) - 1;
    } else {
      return sizeof...(A);
    }
  }();
  using Args = typename TupleHead<All, std::make_index_sequence<count>>::type;
};
template <class Obj, class R, class... A>
struct SignalTraits<R (Obj::*)(A...) const> : SignalTraits<R (Obj::*)(A...)> {};

// void for no argument, the argument for one, the tuple for several.
template <class Tuple>
struct ValueOf {
  using type = Tuple;
};
template <>
struct ValueOf<std::tuple<>> {
  using type = void;
};
template <class T>
struct ValueOf<std::tuple<T>> {
  using type = T;
};

template <class Func>
using signal_args_t = typename SignalTraits<Func>::Args;
template <class Func>
using signal_value_t = typename ValueOf<signal_args_t<Func>>::type;

// ---- completing a future from any thread ------------------------------------------------------

// Shared by an awaitable and its slots. The slots may run in the emitting thread; they only read
// `queue`/`loop_thread` and flip `fired`, and touch the future only from the loop's thread.
template <class R>
struct Relay {
  qaio::detail::WeakRef<qaio::detail::FutureState<R>> future;
  EventLoop* loop = nullptr;
  std::shared_ptr<qaio::detail::ThreadsafeQueue> queue;
  std::thread::id loop_thread;
  std::atomic<bool> fired{false};

  // First call wins: completes the future with make(state) in the loop's thread.
  template <class Make>
  void complete(Make make) {
    if (fired.exchange(true)) return;
    auto apply = [weak = future, make = std::move(make)]() mutable {
      if (auto s = weak.lock(); s && !s->done()) make(*s);
    };
    if (std::this_thread::get_id() == loop_thread) {
      try {
        apply();
      } catch (...) {
        // A closed loop cannot schedule the wakeup; nothing is waiting that could still run.
      }
    } else {
      qaio::detail::post_threadsafe(queue, std::move(apply));
    }
  }
};

// A slot that copies the emitted arguments into the relay as the result.
template <class R, class Args, bool WithTimeout>
struct ResultSlot;
template <class R, class... V, bool WithTimeout>
struct ResultSlot<R, std::tuple<V...>, WithTimeout> {
  std::shared_ptr<Relay<R>> relay;
  void operator()(const V&... v) const {
    relay->complete([values = std::tuple<V...>(v...)](qaio::detail::FutureState<R>& s) mutable {
      (void)values;  // unused for signals without arguments (clang's -Wunused-lambda-capture)
      if constexpr (sizeof...(V) == 0) {
        if constexpr (WithTimeout) {
          s.set_result(R(std::monostate{}));
        } else {
          s.set_result();
        }
      } else if constexpr (sizeof...(V) == 1) {
        s.set_result(R(std::move(std::get<0>(values))));
      } else {
        s.set_result(R(std::move(values)));
      }
    });
  }
};

// Disconnects on destruction; movable.
class ScopedConnection {
 public:
  ScopedConnection() = default;
  explicit ScopedConnection(QMetaObject::Connection c) : c_(std::move(c)) {}
  ScopedConnection(ScopedConnection&& o) noexcept : c_(std::exchange(o.c_, {})) {}
  ScopedConnection& operator=(ScopedConnection&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, {});
    }
    return *this;
  }
  ~ScopedConnection() { reset(); }
  void reset() {
    if (c_) QObject::disconnect(c_);
    c_ = {};
  }

 private:
  QMetaObject::Connection c_;
};

// The awaitable returned by signal(). R is the value type (or std::optional<...> with a timeout).
template <class R>
class SignalAwaitable {
 public:
  template <class Obj, class Func, class Slot>
  SignalAwaitable(const Obj* sender, Func sig, std::optional<double> timeout, Slot make_slot) {
    if (!sender) throw std::invalid_argument("qaio::qt::signal: the sender is null");
    EventLoop& loop = qaio::get_event_loop();
    state_ = qaio::detail::make_ref<qaio::detail::FutureState<R>>(loop);
    relay_ = std::make_shared<Relay<R>>();
    relay_->future = state_;
    relay_->loop = &loop;
    relay_->queue = loop.threadsafe_queue();
    relay_->loop_thread = loop.thread_id();
    conn_ = ScopedConnection(QObject::connect(sender, sig, sender, make_slot(relay_), Qt::DirectConnection));
    auto relay = relay_;
    destroyed_ = ScopedConnection(QObject::connect(
        sender, &QObject::destroyed, sender,
        [relay](QObject*) {
          relay->complete([](qaio::detail::FutureState<R>& s) { s.cancel(std::string("sender destroyed")); });
        },
        Qt::DirectConnection));
    if (timeout) {
      if constexpr (is_optional<R>::value) {
        timer_ = loop.call_later(*timeout, [relay] {
          relay->complete([](qaio::detail::FutureState<R>& s) { s.set_result(R(std::nullopt)); });
        });
      }
    }
  }
  SignalAwaitable(SignalAwaitable&&) noexcept = default;
  SignalAwaitable& operator=(SignalAwaitable&&) noexcept = default;
  ~SignalAwaitable() {
    conn_.reset();
    destroyed_.reset();
    if (timer_) timer_.cancel();
  }

  // co_await works on the temporary and on a named awaitable alike; the awaiter only points here
  // (g++ 12 would otherwise try to copy a named awaitable into the frame).
  struct Awaiter {
    SignalAwaitable* self;
    bool await_ready() const noexcept { return self->state_->done(); }
    void await_suspend(std::coroutine_handle<> h) const {
      qaio::detail::suspend_current_task_on(*self->state_, h);
    }
    R await_resume() const { return self->take(); }
  };
  Awaiter operator co_await() & noexcept { return {this}; }
  Awaiter operator co_await() && noexcept { return {this}; }
  bool done() const noexcept { return state_->done(); }

 private:
  R take() {
    qaio::detail::throw_if_injected();
    conn_.reset();
    destroyed_.reset();
    if (timer_) timer_.cancel();
    if constexpr (std::is_void_v<R>) {
      state_->result();
    } else {
      return std::move(state_->result());
    }
  }

  template <class T>
  struct is_optional : std::false_type {};
  template <class T>
  struct is_optional<std::optional<T>> : std::true_type {};

  qaio::detail::Ref<qaio::detail::FutureState<R>> state_;
  std::shared_ptr<Relay<R>> relay_;
  ScopedConnection conn_;
  ScopedConnection destroyed_;
  TimerHandle timer_;
};

template <class T>
struct OptionalOf {
  using type = std::optional<T>;
};
template <>
struct OptionalOf<void> {
  using type = std::optional<std::monostate>;
};

// ---- tasks bound to QObjects ------------------------------------------------------------------

// Cancels `task` when `context` is destroyed (the connection ends when the task does).
void bind_task_to_object(const QObject* context, const AnyTask& task);
// Async slots' tasks: nobody awaits them, so a failure goes to the exception handler at once.
void report_task_failure(const AnyTask& task, const char* what);

}  // namespace detail

// co_await signal(sender, &Class::signal): the emission's value (void / value / tuple).
template <class Obj, class Func>
  requires std::is_member_function_pointer_v<Func>
auto signal(const Obj* sender, Func sig) {
  using Args = detail::signal_args_t<Func>;
  using R = detail::signal_value_t<Func>;
  return detail::SignalAwaitable<R>(sender, sig, std::nullopt, [](std::shared_ptr<detail::Relay<R>> relay) {
    return detail::ResultSlot<R, Args, false>{std::move(relay)};
  });
}

// With a timeout in seconds: std::optional of the value (std::monostate for a void signal);
// std::nullopt if the signal did not come in time.
template <class Obj, class Func>
  requires std::is_member_function_pointer_v<Func>
auto signal(const Obj* sender, Func sig, double timeout) {
  using Args = detail::signal_args_t<Func>;
  using R = typename detail::OptionalOf<detail::signal_value_t<Func>>::type;
  return detail::SignalAwaitable<R>(sender, sig, timeout, [](std::shared_ptr<detail::Relay<R>> relay) {
    return detail::ResultSlot<R, Args, true>{std::move(relay)};
  });
}
template <class Obj, class Func, class Rep, class Period>
  requires std::is_member_function_pointer_v<Func>
auto signal(const Obj* sender, Func sig, std::chrono::duration<Rep, Period> timeout) {
  return signal(sender, sig, std::chrono::duration<double>(timeout).count());
}

// A task cancelled when `context` is destroyed. The coroutine must not touch `context` once it
// sees that CancelledError.
template <class T>
Task<T> create_task(const QObject* context, Coro<T> coro, std::string name = {}) {
  if (!context) throw std::invalid_argument("qaio::qt::create_task: the context object is null");
  Task<T> task = qaio::get_event_loop().create_task(std::move(coro), std::move(name));
  detail::bind_task_to_object(context, AnyTask(task));
  return task;
}

namespace detail {
template <class Loop, class Fn, class Args>
struct AsyncSlot;
template <class Fn, class... V>
struct AsyncSlot<EventLoop, Fn, std::tuple<V...>> {
  EventLoop* loop;
  const QObject* context;
  std::shared_ptr<Fn> fn;  // shared with every task: a coroutine lambda's captures outlive its frames

  void operator()(const V&... v) const {
    try {
      auto start = [&] {
        if constexpr (std::is_invocable_v<Fn&, const V&...>) {
          return std::invoke(*fn, v...);
        } else {
          static_assert(std::is_invocable_v<Fn&>,
                        "qaio::qt::connect: the coroutine function must take the signal's arguments, or none");
          return std::invoke(*fn);
        }
      };
      auto task = loop->create_task(start());
      AnyTask any(task);
      bind_task_to_object(context, any);
      auto keep = fn;
      task.add_done_callback([keep](auto&) {});
      report_task_failure(any, "Exception in async slot");
    } catch (...) {
      // An exception must not reach Qt's emit (DESIGN rule 6).
      ErrorContext ctx;
      ctx.message = "Exception starting an async slot";
      ctx.exception = std::current_exception();
      loop->call_exception_handler(ctx);
    }
  }
};
}  // namespace detail

// Async slot: each emission runs fn(args...) (a function returning a qaio::Coro) as a new task on
// the current loop. The connection and the tasks end when `context` is destroyed (tasks are
// cancelled); an exception from a task goes to the loop's exception handler, never into Qt.
// The slot runs in `context`'s thread (a queued connection if the signal comes from elsewhere).
template <class Sender, class Func, class Fn>
  requires std::is_member_function_pointer_v<Func>
QMetaObject::Connection connect(const Sender* sender, Func sig, const QObject* context, Fn fn) {
  if (!sender || !context) throw std::invalid_argument("qaio::qt::connect: sender and context must not be null");
  using Args = detail::signal_args_t<Func>;
  EventLoop& loop = qaio::get_event_loop();
  return QObject::connect(sender, sig, context,
                          detail::AsyncSlot<EventLoop, Fn, Args>{&loop, context, std::make_shared<Fn>(std::move(fn))});
}

}  // namespace qaio::qt
