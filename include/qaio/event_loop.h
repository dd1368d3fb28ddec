// qaio/event_loop.h: EventLoop, the asyncio loop API shared by both drivers.
//
// EventLoop is the core of DESIGN.md's "one core, two drivers": the ready deque, the timer heap,
// the epoll selector with its fd table, the thread-safe queue, the task registry, the exception
// handler and debug mode all live here. A driver only decides *when* run_once() is called:
// SelectorEventLoop blocks in epoll itself; qt::QtEventLoop lets Qt's event loop call it.
//
// One iteration, run_once(): (1) drop cancelled timers at the heap head, (2) poll the selector with a
// timeout that reaches the earliest timer (zero if callbacks are ready), (3) queue the handles of
// ready fds and of calls made from other threads, (4) queue expired timers, (5) run exactly the
// handles that were ready when step 5 began. See docs/design.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/executor.h"
#include "qaio/future.h"
#include "qaio/handle.h"
#include "qaio/task.h"
#include "qaio/sockets.h"  // networking option structs (net_*.cpp)

namespace qaio {

class Transport;
class SubprocessTransport;  // subprocess.h
class SubprocessProtocol;   // subprocess.h
struct SubprocessOptions;  // subprocess.h
class BaseProtocol;

// What the exception handler is told (asyncio's context dict). Fields that do not apply are empty.
struct ErrorContext {
  std::string message;
  std::exception_ptr exception;
  Handle handle;                                // the callback that raised
  detail::Ref<detail::FutureBase> future;   // the future (or task) concerned
  AnyTask task;                                 // the task concerned
  Transport* transport = nullptr;
  BaseProtocol* protocol = nullptr;
  int socket = -1;
};

using ExceptionHandler = std::function<void(EventLoop&, const ErrorContext&)>;
// Called with every new task before its first step is scheduled (asyncio's task factory hook; in
// C++ the factory decorates the task, e.g. renames it or records it, rather than constructing it).
using TaskFactory = std::function<void(EventLoop&, AnyTask&)>;

namespace detail {
class Selector;
class ThreadsafeQueue;
class ReadyQueue;
class ReadyEntry;
struct FdEntry;

// One timer in the loop's heap. The deadline and the tie-breaker live in the entry itself, so
// sifting compares contiguous memory instead of chasing a pointer per comparison (W2 in
// docs/benchmarks.md: 1M timers went 0.66 -> 0.53 s with this layout alone).
struct TimerEntry {
  double when;
  std::uint64_t seq;  // scheduling order: equal deadlines run first-scheduled first
  HandleState* handle;
};

template <class T>
struct is_coro : std::false_type {};
template <class T>
struct is_coro<Coro<T>> : std::true_type {};

// A callable plus stored arguments, as call_soon(fn, args...) keeps them.
template <class F, class... Args>
struct BoundCall {
  F fn;
  std::tuple<Args...> args;
  void operator()() { std::apply(fn, args); }
  std::string describe() const { return demangle_type_name(typeid(F)); }
};

// Python's "a callable object was expected" TypeError, for the one non-callable C++ lets through
// to run time: an empty std::function or a null function pointer.
template <class F>
void check_callable(const char* api, const F& fn) {
  using D = std::decay_t<F>;
  if constexpr (std::is_function_v<F>) {
    return;  // a function (not a pointer to one) cannot be null
  } else if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D> ||
                       requires(const D& d) { d == nullptr; }) {
    if (fn == nullptr)
      throw std::invalid_argument(std::string("a callable object was expected by ") + api + "(), got None");
  }
}

// The callable a scheduling call stores: fn itself, or fn bound to its arguments. Returned by
// value so the loop can construct it straight into its handle (no type-erased hop in between).
template <class F, class... Args>
auto bind_args(const char* api, F&& fn, Args&&... args) {
  using D = std::decay_t<F>;
  static_assert(std::is_invocable_v<D&, std::decay_t<Args>&...>,
                "qaio: the callback cannot be called with the arguments given to the loop");
  static_assert(!is_coro<std::invoke_result_t<D&, std::decay_t<Args>&...>>::value,
                "qaio: coroutines cannot be used with call_soon()/call_later()/call_at(); "
                "use loop.create_task(fn(...)) instead");
  check_callable(api, fn);
  if constexpr (sizeof...(Args) == 0) {
    return D(std::forward<F>(fn));
  } else {
    return BoundCall<D, std::decay_t<Args>...>{std::forward<F>(fn), {std::forward<Args>(args)...}};
  }
}

template <class F, class... Args>
Callback bind_callback(const char* api, F&& fn, Args&&... args) {
  return Callback(bind_args(api, std::forward<F>(fn), std::forward<Args>(args)...));
}

// The loop running in this thread (set by run_forever and by drivers while they dispatch).
EventLoop* running_loop() noexcept;
void set_running_loop(EventLoop* loop) noexcept;
// Calls loop->call_exception_handler(ctx) if that loop still exists, else logs to stderr. Used by
// destructors (unretrieved exceptions) that may run after their loop is gone.
void report_to_live_loop(EventLoop* loop, const ErrorContext& ctx) noexcept;
// Sends `cb` to `queue`'s loop from any thread; false if that loop closed (cb is then dropped).
bool post_threadsafe(const std::shared_ptr<ThreadsafeQueue>& queue, Callback cb);

}  // namespace detail

class EventLoop {
 public:
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  virtual ~EventLoop();

  // ---- running ------------------------------------------------------------------------------
  // Runs until stop(). Throws RuntimeError if closed, already running, or another loop runs here.
  virtual void run_forever() = 0;
  // Runs until the coroutine / task / future is done and returns its result (or throws).
  template <class T>
  T run_until_complete(Coro<T> coro);
  template <class T>
  T run_until_complete(Future<T> future);
  template <class T>
  T run_until_complete(Task<T> task) {
    return run_until_complete(static_cast<Future<T>>(task));
  }
  // Asks run_forever() to return after the current iteration.
  void stop();
  // Drops queued callbacks and timers, reports pending tasks, shuts the default executor down
  // without waiting, closes the selector. Idempotent; RuntimeError while running.
  void close();
  bool is_running() const noexcept { return running_; }
  bool is_closed() const noexcept { return closed_; }

  // ---- scheduling ---------------------------------------------------------------------------
  template <class F, class... Args>
  Handle call_soon(F&& fn, Args&&... args) {
    return schedule_soon(detail::bind_args("call_soon", std::forward<F>(fn), std::forward<Args>(args)...));
  }
  // The one scheduling call that may be made from any thread.
  template <class F, class... Args>
  Handle call_soon_threadsafe(F&& fn, Args&&... args) {
    return schedule_threadsafe(
        detail::bind_callback("call_soon_threadsafe", std::forward<F>(fn), std::forward<Args>(args)...));
  }
  template <class F, class... Args>
  TimerHandle call_later(double delay, F&& fn, Args&&... args) {
    if (std::isnan(delay)) throw std::invalid_argument("delay must not be NaN");
    return schedule_at(time() + delay,
                       detail::bind_args("call_later", std::forward<F>(fn), std::forward<Args>(args)...));
  }
  template <class Rep, class Period, class F, class... Args>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn, Args&&... args) {
    return call_later(std::chrono::duration<double>(delay).count(), std::forward<F>(fn),
                      std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  TimerHandle call_at(double when, F&& fn, Args&&... args) {
    if (std::isnan(when)) throw std::invalid_argument("when must not be NaN");
    return schedule_at(when, detail::bind_args("call_at", std::forward<F>(fn), std::forward<Args>(args)...));
  }
  // Monotonic time in seconds (steady_clock).
  double time() const noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  // Timers due within this much of now count as expired.
  double clock_resolution() const noexcept { return clock_resolution_; }

  // ---- futures and tasks --------------------------------------------------------------------
  template <class T = void>
  Future<T> create_future() {
    return Future<T>(detail::make_ref<detail::FutureState<T>>(*this));
  }
  // Wraps the coroutine in a task whose first step runs soon. name defaults to "Task-N".
  template <class T>
  Task<T> create_task(Coro<T> coro, std::string name = {}) {
    check_closed();  // the coroutine is destroyed with `coro` if this throws
    if (!coro.valid()) throw std::invalid_argument("a coroutine was expected, got an empty Coro");
    auto state = detail::make_ref<detail::TaskState<T>>(*this, std::move(coro), std::move(name));
    start_task(*state);
    return Task<T>(std::move(state));
  }
  void set_task_factory(TaskFactory factory) { task_factory_ = std::move(factory); }
  const TaskFactory& get_task_factory() const noexcept { return task_factory_; }

  // ---- file descriptors (level-triggered) ---------------------------------------------------
  template <class F, class... Args>
  Handle add_reader(int fd, F&& fn, Args&&... args) {
    return set_fd_callback(fd, true, detail::bind_callback("add_reader", std::forward<F>(fn), std::forward<Args>(args)...));
  }
  template <class F, class... Args>
  Handle add_writer(int fd, F&& fn, Args&&... args) {
    return set_fd_callback(fd, false, detail::bind_callback("add_writer", std::forward<F>(fn), std::forward<Args>(args)...));
  }
  bool remove_reader(int fd) { return remove_fd_callback(fd, true); }
  bool remove_writer(int fd) { return remove_fd_callback(fd, false); }

  // ---- errors and debug ---------------------------------------------------------------------
  void set_exception_handler(ExceptionHandler handler) { exception_handler_ = std::move(handler); }
  void set_exception_handler(std::nullptr_t) { exception_handler_ = nullptr; }
  const ExceptionHandler& get_exception_handler() const noexcept { return exception_handler_; }
  // Logs the context (stderr, or Qt's "qaio" logging category under Qt).
  void default_exception_handler(const ErrorContext& context);
  // Calls the custom handler, or the default one; never throws.
  void call_exception_handler(const ErrorContext& context) noexcept;
  void set_debug(bool enabled) noexcept { debug_ = enabled; }
  bool get_debug() const noexcept { return debug_; }
  void set_slow_callback_duration(double seconds);
  double slow_callback_duration() const noexcept { return slow_callback_duration_; }

  // ---- tuning -------------------------------------------------------------------------------
  // While callbacks are ready, poll I/O only every `iterations` iterations instead of every one.
  // 1 (the default) is asyncio's iteration: poll I/O (with a zero timeout), expire timers, run
  // the batch. With N > 1 a loop busy with callbacks skips the zero-timeout poll N-1 times out of N,
  // so ready fds and call_soon_threadsafe calls wait up to N-1 extra iterations; timers are still
  // expired every iteration, and an idle loop always polls (and blocks) at once. A chain of
  // call_soon costs about a quarter with N = 64 (docs/benchmarks.md). std::invalid_argument if 0.
  void set_io_poll_interval(unsigned iterations);
  unsigned io_poll_interval() const noexcept { return io_poll_interval_; }

  // ---- executor -----------------------------------------------------------------------------
  // Runs fn(args...) on `executor` (nullptr: the default ThreadPoolExecutor); the future gets the
  // outcome through call_soon_threadsafe, unless it was cancelled or the loop closed meanwhile.
  template <class F, class... Args>
  auto run_in_executor(Executor* executor, F&& fn, Args&&... args)
      -> Future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>>;
  void set_default_executor(std::unique_ptr<Executor> executor);
  // Shuts the default executor down, waiting for its jobs on a helper thread (asyncio's coroutine).
  Coro<void> shutdown_default_executor();

  // ---- networking (net_*.cpp; see sockets.h, transports.h, protocols.h, server.h) -----------
  // Low level, on non-blocking fds the caller owns. Cancelling any of them leaves the fd usable
  // and unwatched. In debug mode a blocking fd is std::invalid_argument.
  Coro<std::string> sock_recv(int fd, std::size_t nbytes);                 // "" at EOF
  Coro<std::size_t> sock_recv_into(int fd, std::span<std::byte> buffer);
  Coro<void> sock_sendall(int fd, std::string data);
  Coro<void> sock_connect(int fd, SocketAddress address);
  Coro<std::pair<int, SocketAddress>> sock_accept(int fd);                 // a non-blocking fd
  // Name resolution on the default executor; GaiError on failure.
  Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, AddrInfoHints hints = {});
  Coro<std::pair<std::string, std::string>> getnameinfo(SocketAddress address, int flags = 0);
  // Transports and protocols.
  Coro<ConnectionPair> create_connection(ProtocolFactory factory, std::string host, std::uint16_t port,
                                         ConnectionOptions options = {});
  Coro<ConnectionPair> create_connection(ProtocolFactory factory, ConnectionOptions options);  // .sock
  Coro<std::shared_ptr<Server>> create_server(ProtocolFactory factory, std::vector<std::string> hosts,
                                              std::uint16_t port, ServerOptions options = {});
  Coro<std::shared_ptr<Server>> create_server(ProtocolFactory factory, std::string host, std::uint16_t port,
                                              ServerOptions options = {});
  Coro<std::shared_ptr<Server>> create_server(ProtocolFactory factory, ServerOptions options);  // .sock
  Coro<ConnectionPair> create_unix_connection(ProtocolFactory factory, std::string path,
                                              ConnectionOptions options = {});
  Coro<std::shared_ptr<Server>> create_unix_server(ProtocolFactory factory, std::string path,
                                                   ServerOptions options = {});
  Coro<ConnectionPair> connect_accepted_socket(ProtocolFactory factory, int fd);
  Coro<DatagramPair> create_datagram_endpoint(DatagramProtocolFactory factory, DatagramOptions options);
  Coro<ConnectionPair> connect_read_pipe(ProtocolFactory factory, int fd);
  Coro<ConnectionPair> connect_write_pipe(ProtocolFactory factory, int fd);
  // create_connection with a factory of a concrete protocol type gives that type back.
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, ProtocolFactory> && std::is_invocable_v<F&>)
  Coro<std::pair<std::shared_ptr<Transport>, std::invoke_result_t<F&>>> create_connection(
      F factory, std::string host, std::uint16_t port, ConnectionOptions options = {}) {
    using P = typename std::invoke_result_t<F&>::element_type;
    ConnectionPair r = co_await create_connection(ProtocolFactory(std::move(factory)), std::move(host), port,
                                                  std::move(options));
    co_return std::pair(std::move(r.first), std::static_pointer_cast<P>(std::move(r.second)));
  }
  // ---- end of networking ----

  // ---- signals and subprocesses (signals.cpp, subprocess.cpp) -------------------------------
  // asyncio's add_signal_handler: fn(args...) runs from the ready deque whenever `sig` arrives, also
  // while the loop blocks in epoll (a signalfd). std::invalid_argument("invalid signal number N"),
  // RuntimeError("sig 9 cannot be caught") for SIGKILL/SIGSTOP or on a closed loop. See signals.h.
  template <class F, class... Args>
  void add_signal_handler(int sig, F&& fn, Args&&... args) {
    set_signal_handler(sig, detail::bind_callback("add_signal_handler", std::forward<F>(fn),
                                                  std::forward<Args>(args)...));
  }
  // True if a handler was removed; the signal's previous disposition and mask bit are restored.
  bool remove_signal_handler(int sig);
  void set_signal_handler(int sig, detail::Callback cb);
  // asyncio's loop.subprocess_exec / subprocess_shell: spawn, connect pipes to the protocol.
  Coro<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<SubprocessProtocol>>> subprocess_exec(
      std::function<std::shared_ptr<SubprocessProtocol>()> factory, std::vector<std::string> args,
      const SubprocessOptions& options);
  Coro<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<SubprocessProtocol>>> subprocess_exec(
      std::function<std::shared_ptr<SubprocessProtocol>()> factory, std::vector<std::string> args);
  Coro<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<SubprocessProtocol>>> subprocess_shell(
      std::function<std::shared_ptr<SubprocessProtocol>()> factory, std::string cmd,
      const SubprocessOptions& options);
  Coro<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<SubprocessProtocol>>> subprocess_shell(
      std::function<std::shared_ptr<SubprocessProtocol>()> factory, std::string cmd);
  // ---- end of signals and subprocesses ----

  // ---- introspection (tests, drivers, tools) ------------------------------------------------
  std::size_t ready_count() const noexcept;
  std::size_t timer_count() const noexcept { return timers_.size(); }
  std::size_t cancelled_timer_count() const noexcept { return timer_cancelled_count_; }
  std::vector<AnyTask> tasks() const;  // pending tasks of this loop
  AnyTask current_task() const;
  std::optional<double> next_timer_deadline();  // earliest live timer, if any
  std::thread::id thread_id() const noexcept { return thread_id_.load(std::memory_order_relaxed); }
  // How many iterations (run_once calls that polled) this loop has made: lets tests count
  // iterations the way CPython's tests patch _run_once.
  std::uint64_t iteration_count() const noexcept { return iterations_; }
  // What the selector watches for `fd`: EVENT_READ | EVENT_WRITE bits (selectors' values), 0 if
  // the fd is not registered. reader_handle/writer_handle: the registered callbacks (empty if none).
  static constexpr int EVENT_READ = 1;
  static constexpr int EVENT_WRITE = 2;
  int watched_events(int fd) const noexcept;
  Handle reader_handle(int fd) const noexcept;
  Handle writer_handle(int fd) const noexcept;

  // ---- internals shared with handles, futures and tasks ------------------------------------
  void timer_handle_cancelled(detail::HandleState& h) noexcept;
  void check_closed() const;
  // RuntimeError if this loop, or another loop of this thread, is running (asyncio's _check_running).
  void check_running() const;
  void check_thread(const char* what) const;
  void unregister_task(detail::TaskCore& task) noexcept;
  // Queues the task's next step (no handle: the ready queue holds the task itself).
  void schedule_step(detail::TaskCore& task);
  detail::TaskCore* current_task_core() const noexcept { return current_task_; }
  void set_current_task_core(detail::TaskCore* t) noexcept { current_task_ = t; }
  const std::shared_ptr<detail::ThreadsafeQueue>& threadsafe_queue() const noexcept { return threadsafe_; }
  Executor& default_executor();
  // call_soon/call_at with the callable already bound (also used by the library's own callbacks).
  template <class D>
  Handle schedule_soon(D&& callable) {
    if (closing_) return Handle();
    check_scheduling("call_soon");
    return enqueue_soon(own_handle(detail::HandleState::create(std::forward<D>(callable))));
  }
  template <class D>
  TimerHandle schedule_at(double when, D&& callable) {
    if (closing_) return TimerHandle();
    check_scheduling("call_at");
    return enqueue_at(when, own_handle(detail::HandleState::create(std::forward<D>(callable))));
  }
  Handle schedule_threadsafe(detail::Callback cb);
  // Overridden by drivers that route logging elsewhere (QtEventLoop: QLoggingCategory "qaio").
  virtual void log_error(const std::string& text);
  virtual void log_warning(const std::string& text);

 protected:
  EventLoop();

  // One iteration (see the top of this file). max_block: how long the poll may block at most
  // (negative: until the next timer or I/O). slice_end: a loop.time() after which the batch is
  // interrupted; its rest runs first in the next call (the Qt driver's time slicing).
  void run_once(double max_block = -1, double slice_end = INFINITY);
  // The monotonic clock at its coarse resolution (a few ms, ~4 ns a read instead of ~17): what
  // slice_end checks use, so a time-sliced driver can look after every handle. It lags time() by
  // at most one tick, so a slice may run that much longer.
  static double coarse_time() noexcept;
  // Whether the slice ending at slice_end is over, as run_once's own checks see it: the slice
  // alarm if it is armed for this slice, else the coarse clock. A driver that runs several
  // iterations per slice must test this, not the clock: after the alarm, the coarse clock can
  // still read "before the end" for up to one tick, and each iteration would run one handle.
  bool slice_ended(double slice_end) const noexcept {
    return (alarm_slice_end_ == slice_end && slice_alarm_raised_.load(std::memory_order_relaxed)) ||
           coarse_time() >= slice_end;
  }
  // True if an interrupted batch still has handles to run.
  bool batch_pending() const noexcept { return batch_remaining_ > 0; }
  bool stopping() const noexcept { return stopping_; }
  int selector_fd() const noexcept;
  // The epoll set itself, for a driver that waits for the loop's fds inside another library's wait
  // (Selector::wait_and_keep; the glib poll hook, src/qt/glib_poll.h).
  detail::Selector& selector() noexcept { return *selector_; }

  // Driver hooks. on_ready_added() is called when the ready deque goes from empty to non-empty
  // while wants_ready_notifications is set; on_timer_scheduled(when) when a timer becomes the
  // earliest; on_stop() when stop() is called; on_close() at the start of close().
  virtual void on_ready_added() {}
  virtual void on_timer_scheduled(double /*when*/) {}
  virtual void on_stop() {}
  virtual void on_close() {}
  bool wants_ready_notifications = false;

  // RAII for a driver's run_forever(): checks the preconditions, marks the loop running in this
  // thread, and on exit clears the running state and the stop request.
  class RunningScope {
   public:
    explicit RunningScope(EventLoop& loop);
    ~RunningScope();
    RunningScope(const RunningScope&) = delete;
    RunningScope& operator=(const RunningScope&) = delete;

   private:
    EventLoop& loop_;
    EventLoop* previous_;
  };

 private:
  template <class T>
  friend class detail::TaskState;
  friend class detail::TaskCore;

  // Registers a task make_ref has just made (no other thread can see it yet) and queues its first
  // step; the task holds a reference to itself until it finishes.
  void start_task(detail::FutureBase& task);
  Handle set_fd_callback(int fd, bool reader, detail::Callback cb);
  bool remove_fd_callback(int fd, bool reader);
  void update_fd(int fd);
  // A state for `cb` owned by this loop, with two references: the loop's and the caller's.
  detail::HandleState* new_handle(detail::Callback cb, bool pooled = true);
  // Makes a fresh state this loop's, with those two references.
  detail::HandleState* own_handle(detail::HandleState* h) noexcept {
    h->loop = this;
    h->refs.store(2, std::memory_order_relaxed);
    return h;
  }
  // check_closed() and check_thread(what), inline because every call_soon pays it.
  void check_scheduling(const char* what) const {
    if (closed_ || (debug_ && running_)) [[unlikely]]
      check_scheduling_slow(what);
  }
  void check_scheduling_slow(const char* what) const;
  Handle enqueue_soon(detail::HandleState* h) noexcept;
  TimerHandle enqueue_at(double when, detail::HandleState* h);
  void push_ready(detail::HandleState* h) noexcept;  // takes one reference
  void push_entry(detail::ReadyEntry e) noexcept;     // appends, and tells the driver if it was empty
  void process_io(double timeout);
  void drain_threadsafe();  // moves call_soon_threadsafe's posts to the ready queue
  void run_handle(detail::HandleState* h);
  void run_step(detail::TaskCore* task);
  // Debug mode: warns when a callback or step that started at `start` took too long.
  template <class Describe>
  void warn_if_slow(double start, Describe describe);
  // slice_end: see run_once; a huge cleanup is then spread over several iterations.
  void drop_cancelled_timers(double slice_end = INFINITY);
  void drop_cancelled_head() noexcept;  // pops cancelled timers off the heap's head only
  // After a handle with more of the batch behind it, before the slice alarm is armed for this
  // slice: has the slice ending at slice_end run out? (Arms the alarm after a few handles.)
  bool slice_over(double slice_end);
  CallbackId add_stop_callback(detail::FutureBase& fut);
  // run_until_complete's body. new_task: the task was made here from a coroutine, so (like
  // asyncio) it is not reported as "destroyed but pending" and an exception that escapes
  // run_forever() with it counts as retrieved.
  template <class T>
  T run_until_done(Future<T> future, bool new_task);

  std::unique_ptr<detail::ReadyQueue> ready_;
  std::vector<detail::TimerEntry> timers_;  // binary min-heap on (when, seq)
  std::size_t timer_cancelled_count_ = 0;
  std::size_t compact_position_ = 0;  // where a sliced cleanup of cancelled timers resumes
  std::uint64_t timer_seq_ = 0;
  std::size_t batch_remaining_ = 0;
  // Time slices (slice_over): a slice that has run a few handles arms the process's slice alarm
  // (src/core/slice_alarm.h), which raises slice_alarm_raised_ at its end; the handles after
  // that test the flag instead of reading the clock.
  std::atomic<bool> slice_alarm_raised_{false};
  double alarm_slice_end_ = 0;    // the slice the alarm is armed for (0: never armed)
  double counted_slice_end_ = 0;  // the slice slice_handles_ counts for
  unsigned slice_handles_ = 0;
  std::uint64_t iterations_ = 0;
  unsigned io_poll_interval_ = 1;
  unsigned busy_iterations_without_poll_ = 0;
  std::unique_ptr<detail::Selector> selector_;
  std::vector<detail::FdEntry> fds_;
  std::shared_ptr<detail::ThreadsafeQueue> threadsafe_;
  std::vector<detail::HandleState*> posted_;  // drain_threadsafe()'s scratch, kept to spare an allocation
  // Live tasks, oldest first, linked through the tasks themselves (each holds its own strong
  // reference while it is registered: TaskCore::holds_self_).
  detail::TaskCore* first_task_ = nullptr;
  detail::TaskCore* last_task_ = nullptr;
  detail::TaskCore* current_task_ = nullptr;
  TaskFactory task_factory_;
  ExceptionHandler exception_handler_;
  std::unique_ptr<Executor> default_executor_;
  bool executor_shutdown_called_ = false;
  double clock_resolution_ = 1e-9;
  double slow_callback_duration_ = 0.1;
  // Atomic because call_soon_threadsafe reads it from other threads to pick its path.
  std::atomic<std::thread::id> thread_id_;
  bool running_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  bool closing_ = false;
  bool debug_ = false;
};

// ---- template definitions ----------------------------------------------------------------------

template <class T>
T EventLoop::run_until_complete(Coro<T> coro) {
  check_closed();
  check_running();  // before the task exists, as in asyncio: a refused call creates nothing
  Task<T> task = create_task(std::move(coro));
  task.state()->as_task()->set_log_destroy_pending(false);
  return run_until_done(static_cast<Future<T>>(task), true);
}

template <class T>
T EventLoop::run_until_complete(Future<T> future) {
  check_closed();
  check_running();
  if (!future) throw std::invalid_argument("run_until_complete() needs a future, task or coroutine");
  if (&future.get_loop() != this)
    throw std::invalid_argument("The future belongs to a different loop than the one specified as the loop argument");
  return run_until_done(std::move(future), false);
}

template <class T>
T EventLoop::run_until_done(Future<T> future, bool new_task) {
  CallbackId id = add_stop_callback(*future.state());
  struct RemoveStopCallback {
    detail::FutureBase& fut;
    CallbackId id;
    ~RemoveStopCallback() { fut.remove_done_callback(id); }
  } remove{*future.state(), id};
  try {
    run_forever();
  } catch (...) {
    // A KeyboardInterrupt/SystemExit raised by the task itself propagates from here; it was seen.
    if (new_task && future.done() && !future.cancelled()) future.state()->mark_retrieved();
    throw;
  }
  if (!future.done()) throw RuntimeError("Event loop stopped before Future completed.");
  if constexpr (std::is_void_v<T>) {
    future.result();
  } else if constexpr (std::is_copy_constructible_v<T>) {
    return future.result();
  } else {
    return std::move(future.result());
  }
}

template <class F, class... Args>
auto EventLoop::run_in_executor(Executor* executor, F&& fn, Args&&... args)
    -> Future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>> {
  using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;
  static_assert(!detail::is_coro<R>::value,
                "qaio: run_in_executor() runs plain functions; a coroutine belongs in create_task()");
  check_closed();
  detail::check_callable("run_in_executor", fn);
  Executor& target = executor ? *executor : default_executor();
  Future<R> fut = create_future<R>();
  detail::WeakRef<detail::FutureState<R>> weak = fut.state();
  // Cancelling the loop future cancels work that has not started yet, as asyncio's chaining to a
  // concurrent.futures.Future does; the flag is the only state the worker reads.
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  fut.add_done_callback([cancelled](Future<R>& done) {
    if (done.cancelled()) cancelled->store(true, std::memory_order_relaxed);
  });
  target.submit([weak, cancelled, queue = threadsafe_, f = std::forward<F>(fn),
                 bound = std::make_tuple(std::forward<Args>(args)...)]() mutable {
    if (cancelled->load(std::memory_order_relaxed)) return;
    std::exception_ptr error;
    using Slot = std::conditional_t<std::is_void_v<R>, bool, std::optional<R>>;
    Slot value{};
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(f, bound);
      } else {
        value.emplace(std::apply(f, bound));
      }
    } catch (...) {
      error = std::current_exception();
    }
    detail::post_threadsafe(queue, [weak, value = std::move(value), error]() mutable {
      auto state = weak.lock();
      if (!state || state->done()) return;  // cancelled or dropped meanwhile
      if (error) {
        state->set_exception(error);
      } else if constexpr (std::is_void_v<R>) {
        state->set_result();
      } else {
        state->set_result(std::move(*value));
      }
    });
  });
  return fut;
}

}  // namespace qaio
