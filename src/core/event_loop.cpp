// event_loop.cpp: the core shared by both drivers: scheduling, the iteration (run_once), the fd
// table, the exception handler and closing. See docs/design.md for the stages of an iteration.
#include "qaio/event_loop.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "qaio/signals.h"
#include "ready_queue.h"
#include "selector.h"
#include "slice_alarm.h"
#include "threadsafe_queue.h"

namespace qaio {

namespace detail {

namespace {
thread_local EventLoop* tls_running_loop = nullptr;

// Loops that exist, so destructors running late (an unretrieved exception reported after the loop
// died) do not touch freed memory.
std::mutex live_loops_mutex;
std::unordered_set<const EventLoop*>& live_loops() {
  static auto* set = new std::unordered_set<const EventLoop*>();  // never destroyed: used at exit
  return *set;
}

// Heap order: earliest deadline first, then scheduling order.
struct TimerLater {
  bool operator()(const TimerEntry& a, const TimerEntry& b) const noexcept {
    return a.when > b.when || (a.when == b.when && a.seq > b.seq);
  }
};

// Stops the loop once the future run_until_complete waits for is done, unless it failed with
// KeyboardInterrupt/SystemExit: those already left run_forever() (asyncio's _run_until_complete_cb).
struct StopWhenDone {
  void operator()(FutureBase& fut) {
    if (!fut.cancelled() && fut.state() == FutureBase::State::finished) {
      try {
        if (auto e = fut.exception()) std::rethrow_exception(e);
      } catch (const BaseException&) {
        return;
      } catch (...) {
      }
    }
    fut.loop().stop();
  }
};

bool env_debug() {
  const char* v = std::getenv("QAIO_DEBUG");
  return v && *v && std::string(v) != "0";
}
}  // namespace

EventLoop* running_loop() noexcept { return tls_running_loop; }
void set_running_loop(EventLoop* loop) noexcept { tls_running_loop = loop; }

bool post_threadsafe(const std::shared_ptr<ThreadsafeQueue>& queue, Callback cb) {
  auto* h = HandleState::create(std::move(cb), false);  // made by a foreign thread: no pool of its own
  return queue->push(h);
}

void report_to_live_loop(EventLoop* loop, const ErrorContext& ctx) noexcept {
  {
    std::lock_guard lock(live_loops_mutex);
    if (!live_loops().count(loop)) loop = nullptr;
  }
  if (loop) {
    loop->call_exception_handler(ctx);
  } else {
    std::fprintf(stderr, "qaio: %s\nexception: %s\n", ctx.message.c_str(),
                 describe_exception(ctx.exception).c_str());
  }
}

}  // namespace detail

using detail::HandleState;

// ---- construction and closing -----------------------------------------------------------------

EventLoop::EventLoop()
    : ready_(std::make_unique<detail::ReadyQueue>()),
      selector_(std::make_unique<detail::Selector>()),
      threadsafe_(std::make_shared<detail::ThreadsafeQueue>()),
      thread_id_(std::this_thread::get_id()),
      debug_(detail::env_debug()) {
  selector_->set(threadsafe_->event_fd(), 0, EPOLLIN);
  {
    std::lock_guard lock(detail::live_loops_mutex);
    detail::live_loops().insert(this);
  }
}

EventLoop::~EventLoop() {
  if (!closed_ && !running_) close();
  if (alarm_slice_end_ != 0) detail::disarm_slice_alarm(&slice_alarm_raised_);
  std::lock_guard lock(detail::live_loops_mutex);
  detail::live_loops().erase(this);
}

void EventLoop::close() {
  if (running_) throw RuntimeError("Cannot close a running event loop");
  if (closed_) return;
  on_close();
  detail::close_loop_signals(*this);  // restores signal dispositions and masks (signals.cpp)
  closed_ = true;
  closing_ = true;  // destructors run below may still try to schedule: drop those calls quietly
  // Tasks that never finished: report them as asyncio's Task.__del__ does, then drop their frames.
  std::vector<detail::Ref<detail::FutureBase>> pending;
  for (detail::TaskCore* t = first_task_; t; t = t->next_task_) pending.push_back(detail::ref_to(t->self()));
  for (auto& t : pending) {
    if (!t->done() && t->as_task()->log_destroy_pending_) {
      ErrorContext ctx;
      ctx.message = "Task was destroyed but it is pending!";
      ctx.task = AnyTask(t);
      ctx.future = t;
      call_exception_handler(ctx);
    }
  }
  for (auto& t : pending) {
    unregister_task(*t->as_task());
    t->as_task()->abandon();
  }
  pending.clear();
  while (!ready_->empty()) {
    detail::ReadyEntry e = ready_->pop_front();
    if (e.is_step()) {
      e.as_step()->step_dequeued();
    } else {
      e.as_handle()->release();
    }
  }
  batch_remaining_ = 0;
  for (detail::TimerEntry& t : timers_) {
    t.handle->in_heap = false;
    t.handle->release();
  }
  timers_.clear();
  timer_cancelled_count_ = 0;
  threadsafe_->close();
  for (auto& e : fds_) {
    if (e.reader) e.reader->release();
    if (e.writer) e.writer->release();
    e = {};
  }
  fds_.clear();
  if (default_executor_) default_executor_->shutdown(false);
  selector_->close();
  // From now on scheduling raises "Event loop is closed" instead of being dropped quietly.
  closing_ = false;
}

void EventLoop::check_closed() const {
  if (closed_) throw RuntimeError("Event loop is closed");
}

void EventLoop::check_running() const {
  if (running_) throw RuntimeError("This event loop is already running");
  if (detail::running_loop() != nullptr)
    throw RuntimeError("Cannot run the event loop while another loop is running");
}

void EventLoop::check_thread(const char* what) const {
  if (debug_ && running_ && thread_id() != std::this_thread::get_id())
    throw RuntimeError(std::string("Non-thread-safe operation invoked on an event loop other than the "
                                   "current one (") + what + ")");
}

EventLoop::RunningScope::RunningScope(EventLoop& loop) : loop_(loop), previous_(detail::running_loop()) {
  loop.check_closed();
  loop.check_running();
  loop.running_ = true;
  loop.thread_id_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  detail::set_running_loop(&loop);
}

EventLoop::RunningScope::~RunningScope() {
  loop_.running_ = false;
  loop_.stopping_ = false;
  detail::set_running_loop(previous_);
}

void EventLoop::stop() {
  stopping_ = true;
  on_stop();
}

// ---- scheduling -------------------------------------------------------------------------------

std::size_t EventLoop::ready_count() const noexcept { return ready_->size(); }

// Inline (only this file uses it): it is most of call_soon's own work.
inline void EventLoop::push_entry(detail::ReadyEntry e) noexcept {
  const bool was_empty = ready_->empty();
  ready_->push_back(e);
  if (was_empty && wants_ready_notifications) on_ready_added();
}

void EventLoop::push_ready(HandleState* h) noexcept { push_entry(detail::ReadyEntry::handle(h)); }

void EventLoop::schedule_step(detail::TaskCore& task) {
  if (closing_) return;
  check_scheduling("call_soon");
  // A queued step is a plain pointer: make sure something holds the task until it runs. (A
  // registered task holds itself; this covers a step queued after the task finished.)
  task.hold_self();
  push_entry(detail::ReadyEntry::step(&task));
  ++task.queued_steps_;
}

HandleState* EventLoop::new_handle(detail::Callback cb, bool pooled) {
  return own_handle(HandleState::create(std::move(cb), pooled));
}

void EventLoop::check_scheduling_slow(const char* what) const {
  check_closed();
  check_thread(what);
}

Handle EventLoop::enqueue_soon(HandleState* h) noexcept {
  push_entry(detail::ReadyEntry::handle(h));
  return Handle(h, false);
}

TimerHandle EventLoop::enqueue_at(double when, HandleState* h) {
  TimerHandle result(h, false);  // the caller's reference: released if the heap cannot grow
  h->is_timer = true;
  h->in_heap = true;
  h->when = when;
  try {
    timers_.push_back(detail::TimerEntry{when, timer_seq_++, h});
  } catch (...) {
    h->in_heap = false;
    h->release();  // the heap's reference
    throw;
  }
  std::push_heap(timers_.begin(), timers_.end(), detail::TimerLater{});
  if (timers_.front().handle == h) on_timer_scheduled(when);
  return result;
}

Handle EventLoop::schedule_threadsafe(detail::Callback cb) {
  if (std::this_thread::get_id() == thread_id()) {
    if (closing_) return Handle();
    check_closed();
    // In the loop's own thread: the same FIFO as call_soon (spec item 19).
    HandleState* h = new_handle(std::move(cb));
    push_ready(h);
    return Handle(h, false);
  }
  HandleState* h = new_handle(std::move(cb), false);  // another thread: no pool (see create())
  Handle result(h, false);
  if (!threadsafe_->push(h)) throw RuntimeError("Event loop is closed");
  return result;
}

void EventLoop::timer_handle_cancelled(HandleState& h) noexcept {
  if (h.in_heap) ++timer_cancelled_count_;
}

std::optional<double> EventLoop::next_timer_deadline() {
  // Only the head: the Qt driver asks after every dispatch, and a mostly-cancelled heap of a
  // million entries must be cleaned up by run_once's sliced cleanup, not in one go here.
  drop_cancelled_head();
  if (timers_.empty()) return std::nullopt;
  return timers_.front().when;
}

namespace {
// Removes heap entry i and restores the heap order (the std:: heap algorithms only pop the top).
void erase_heap_entry(std::vector<detail::TimerEntry>& heap, std::size_t i) {
  detail::TimerLater later;
  detail::TimerEntry moved = heap.back();
  heap.pop_back();
  if (i == heap.size()) return;
  // Sift up while the moved entry is earlier than its parent ...
  while (i > 0 && later(heap[(i - 1) / 2], moved)) {
    heap[i] = heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  // ... then down while a child is earlier than it (at most one of the two loops moves it).
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= heap.size()) break;
    if (child + 1 < heap.size() && later(heap[child], heap[child + 1])) ++child;
    if (!later(moved, heap[child])) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = moved;
}
}  // namespace

void EventLoop::drop_cancelled_timers(double slice_end) {
  constexpr std::size_t kMinScheduled = 100;  // asyncio's _MIN_SCHEDULED_TIMER_HANDLES
  // Up to this size a rebuild takes well under a millisecond, even for a time-sliced driver.
  constexpr std::size_t kMaxUnslicedRebuild = 1u << 15;
  if (timers_.size() > kMinScheduled && timer_cancelled_count_ * 2 > timers_.size()) {
    // Mostly cancelled: drop the cancelled entries (spec item 38).
    if (slice_end == INFINITY || timers_.size() <= kMaxUnslicedRebuild) {
      // At once, in place: live entries slide to the front, the tail goes, the heap is rebuilt.
      auto live_end = std::remove_if(timers_.begin(), timers_.end(), [](const detail::TimerEntry& t) {
        if (!t.handle->cancelled) return false;
        t.handle->in_heap = false;
        t.handle->release();
        return true;
      });
      timers_.erase(live_end, timers_.end());
      std::make_heap(timers_.begin(), timers_.end(), detail::TimerLater{});
      timer_cancelled_count_ = 0;
      compact_position_ = 0;
    } else {
      // A time-sliced driver (Qt) cannot spend tens of milliseconds on a huge heap in one go:
      // scan it a slice at a time from where the last slice stopped, erasing cancelled entries
      // in place. The heap stays valid between slices; an entry that moves behind the scan is
      // only left for a later cleanup.
      std::size_t i = std::min(compact_position_, timers_.size());
      std::uint32_t scanned = 0;
      while (i < timers_.size()) {
        if ((++scanned & 63u) == 0 && coarse_time() >= slice_end) break;
        HandleState* h = timers_[i].handle;
        if (!h->cancelled) {
          ++i;
          continue;
        }
        erase_heap_entry(timers_, i);  // a live entry from the end takes slot i: look at it next
        h->in_heap = false;
        --timer_cancelled_count_;
        h->release();
      }
      compact_position_ = i < timers_.size() ? i : 0;
    }
  }
  drop_cancelled_head();
}

void EventLoop::drop_cancelled_head() noexcept {
  while (!timers_.empty() && timers_.front().handle->cancelled) {
    std::pop_heap(timers_.begin(), timers_.end(), detail::TimerLater{});
    HandleState* h = timers_.back().handle;
    timers_.pop_back();
    h->in_heap = false;
    --timer_cancelled_count_;
    h->release();
  }
}

// ---- tasks ------------------------------------------------------------------------------------

void EventLoop::start_task(detail::FutureBase& task) {
  detail::TaskCore* core = task.as_task();
  core->resume_point_ = core->root();
  // The registration's reference. The task is fresh from make_ref and still private to this
  // thread, so a plain store does what an atomic increment would.
  std::atomic<std::uint32_t>& strong = task.ref_counts().strong;
  strong.store(strong.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  core->holds_self_ = true;
  core->registered_ = true;
  core->prev_task_ = last_task_;
  (last_task_ ? last_task_->next_task_ : first_task_) = core;
  last_task_ = core;
  if (task_factory_) {
    AnyTask view(detail::ref_to(core->self()));
    task_factory_(*this, view);
  }
  core->schedule_step();
}

void EventLoop::unregister_task(detail::TaskCore& task) noexcept {
  if (!task.registered_) return;
  task.registered_ = false;
  (task.prev_task_ ? task.prev_task_->next_task_ : first_task_) = task.next_task_;
  (task.next_task_ ? task.next_task_->prev_task_ : last_task_) = task.prev_task_;
  task.prev_task_ = task.next_task_ = nullptr;
  if (task.queued_steps_ == 0) task.release_keep_alive();  // may destroy the task
}

std::vector<AnyTask> EventLoop::tasks() const {
  std::vector<AnyTask> out;
  for (const detail::TaskCore* t = first_task_; t; t = t->next_task_)
    if (!t->self().done()) out.emplace_back(detail::ref_to(t->self()));
  return out;
}

AnyTask EventLoop::current_task() const {
  if (!current_task_) return AnyTask();
  return AnyTask(detail::ref_to(current_task_->future()));
}

CallbackId EventLoop::add_stop_callback(detail::FutureBase& fut) {
  return fut.add_done_callback(detail::StopWhenDone{});
}

// ---- file descriptors -------------------------------------------------------------------------

Handle EventLoop::set_fd_callback(int fd, bool reader, detail::Callback cb) {
  check_closed();
  check_thread(reader ? "add_reader" : "add_writer");
  if (fd < 0) throw std::invalid_argument("Invalid file descriptor: " + std::to_string(fd));
  if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
  HandleState* h = new_handle(std::move(cb));
  detail::FdEntry& e = fds_[static_cast<std::size_t>(fd)];
  HandleState*& slot = reader ? e.reader : e.writer;
  HandleState* old = slot;
  slot = h;
  try {
    update_fd(fd);
  } catch (...) {
    slot = old;
    h->release();
    h->release();
    throw;
  }
  if (old) {
    Handle(old, false).cancel();  // replaced: the old callback never runs again (spec item 54)
  }
  return Handle(h, false);
}

bool EventLoop::remove_fd_callback(int fd, bool reader) {
  if (closed_ || fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return false;
  check_thread(reader ? "remove_reader" : "remove_writer");
  detail::FdEntry& e = fds_[static_cast<std::size_t>(fd)];
  HandleState*& slot = reader ? e.reader : e.writer;
  if (!slot) return false;
  HandleState* old = slot;
  slot = nullptr;
  try {
    update_fd(fd);
  } catch (...) {
    // The fd was closed behind our back; the kernel already dropped it from the set.
    e.registered = (e.reader ? EPOLLIN : 0u) | (e.writer ? EPOLLOUT : 0u);
  }
  Handle(old, false).cancel();
  return true;
}

void EventLoop::update_fd(int fd) {
  detail::FdEntry& e = fds_[static_cast<std::size_t>(fd)];
  std::uint32_t want = (e.reader ? EPOLLIN : 0u) | (e.writer ? EPOLLOUT : 0u);
  if (want == e.registered) return;
  selector_->set(fd, e.registered, want);
  e.registered = want;
}

int EventLoop::selector_fd() const noexcept { return selector_->epoll_fd(); }

int EventLoop::watched_events(int fd) const noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return 0;
  const std::uint32_t r = fds_[static_cast<std::size_t>(fd)].registered;
  return ((r & EPOLLIN) ? EVENT_READ : 0) | ((r & EPOLLOUT) ? EVENT_WRITE : 0);
}

Handle EventLoop::reader_handle(int fd) const noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return Handle();
  return Handle(fds_[static_cast<std::size_t>(fd)].reader, true);
}

Handle EventLoop::writer_handle(int fd) const noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return Handle();
  return Handle(fds_[static_cast<std::size_t>(fd)].writer, true);
}

// ---- the iteration ----------------------------------------------------------------------------

void EventLoop::drain_threadsafe() {
  posted_.clear();
  threadsafe_->drain(posted_);
  for (HandleState* h : posted_) push_ready(h);
  posted_.clear();
}

void EventLoop::process_io(double timeout) {
  const auto& events = selector_->poll(timeout);
  for (const epoll_event& ev : events) {
    int fd = ev.data.fd;
    if (fd == threadsafe_->event_fd()) {
      drain_threadsafe();
      continue;
    }
    if (static_cast<std::size_t>(fd) >= fds_.size()) continue;
    detail::FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    // Like Python's selectors: HUP/ERR wake both sides so each sees the condition itself.
    const bool readable = ev.events & ~static_cast<std::uint32_t>(EPOLLOUT);
    const bool writable = ev.events & ~static_cast<std::uint32_t>(EPOLLIN);
    if (readable && e.reader) {
      if (e.reader->cancelled) {
        remove_reader(fd);
      } else {
        e.reader->add_ref();
        push_ready(e.reader);
      }
    }
    if (writable && e.writer) {
      if (e.writer->cancelled) {
        remove_writer(fd);
      } else {
        e.writer->add_ref();
        push_ready(e.writer);
      }
    }
  }
}

void EventLoop::run_once(double max_block, double slice_end) {
  if (batch_remaining_ == 0) {
    ++iterations_;
    drop_cancelled_timers(slice_end);
    const bool busy = !ready_->empty() || stopping_;
    // set_io_poll_interval(N): a busy loop skips the zero-timeout poll N-1 times out of N. An
    // idle loop always polls, since that is where it blocks.
    if (!busy || ++busy_iterations_without_poll_ >= io_poll_interval_) {
      busy_iterations_without_poll_ = 0;
      double timeout = -1;
      if (busy) {
        timeout = 0;
      } else if (!timers_.empty()) {
        timeout = std::max(0.0, timers_.front().when - time());
      }
      if (max_block >= 0 && (timeout < 0 || timeout > max_block)) timeout = max_block;
      if (busy && selector_->busy_poll_skippable()) {
        // A busy loop that watches no fd of its own (only call_soon_threadsafe's eventfd, and
        // no driver fds): a zero-timeout poll could report nothing but that eventfd, so look at
        // the posts directly and spare the system call. Observably the same iteration as
        // asyncio's; the poll was most of a callback chain's or a task ping-pong's cost. An idle
        // iteration still polls (and so reads the eventfd), even with a zero timeout.
        if (threadsafe_->pending()) drain_threadsafe();
      } else {
        process_io(timeout);
      }
    }
    // Timers due within the clock resolution are expired (spec item 34). The clock is read only
    // when there is a timer to compare with: a chain of call_soon would otherwise pay one
    // clock_gettime per iteration (12% of the W1 chain benchmark, docs/benchmarks.md).
    const double end_time = timers_.empty() ? 0.0 : time() + clock_resolution_;
    std::size_t expired = 0;
    while (!timers_.empty() && timers_.front().when < end_time) {
      // A time-sliced driver (Qt) must not spend a frame here either: a loop that fell behind
      // can have hundreds of thousands of timers due at once. The rest stay in the heap, due,
      // and are expired by the next iteration, still in deadline order. The slice is checked
      // after every 64 timers, never before the first ones: the coarse clock ticks every few
      // ms, so a slice that had only just begun could look over, and an iteration that ran
      // none of its due timers (one run after stop(), say) would break asyncio's promise.
      if (++expired % 64 == 0 && slice_end != INFINITY && coarse_time() >= slice_end) break;
      std::pop_heap(timers_.begin(), timers_.end(), detail::TimerLater{});
      HandleState* h = timers_.back().handle;
      timers_.pop_back();
      h->in_heap = false;
      if (h->cancelled) {
        --timer_cancelled_count_;
        h->release();
      } else {
        push_ready(h);
      }
    }
    batch_remaining_ = ready_->size();
  }
  // A loop run nested inside a task step (a modal dialog in a task) must not feed that step's
  // trampoline with the callbacks it runs: they start with none.
  detail::TrampolineScope no_trampoline(nullptr);
  // Run exactly this iteration's batch; what it schedules waits for the next one (DESIGN rule 2).
  while (batch_remaining_ > 0) {
    --batch_remaining_;
    detail::ReadyEntry e = ready_->pop_front();
    if (e.is_step()) {
      run_step(e.as_step());
    } else {
      HandleState* h = e.as_handle();
      struct Release {
        HandleState* h;
        ~Release() { h->release(); }
      } release{h};
      if (!h->cancelled) run_handle(h);
    }
    // After every handle that has another behind it (the driver checks after the iteration): a
    // batch of slow callbacks must end the slice after one of them (DESIGN rule 4).
    if (slice_end != INFINITY && batch_remaining_ > 0) {
      // Armed for this slice (see slice_over): one relaxed load, and the clock every 8th handle,
      // so a late alarm thread (a loaded machine) lets at most 7 slow callbacks overrun.
      if (alarm_slice_end_ == slice_end) {
        if (slice_alarm_raised_.load(std::memory_order_relaxed)) break;
        if ((++slice_handles_ & 7u) == 0 && coarse_time() >= slice_end) break;
      } else if (slice_over(slice_end)) {
        break;
      }
    }
  }
}

bool EventLoop::slice_over(double slice_end) {
  // (run_once tests the armed alarm itself; this is the path before it is armed.)
  // The first handles of a slice read the coarse clock (~4 ns): a chain of slow callbacks ends
  // the slice after one of them, and a dispatch that runs a few handles (an I/O wakeup) never
  // arms the alarm. A slice that gets this far is a long batch of fast handles.
  constexpr unsigned kAlarmAfter = 16;
  if (counted_slice_end_ != slice_end) {
    counted_slice_end_ = slice_end;
    slice_handles_ = 0;
  }
  if (coarse_time() >= slice_end) return true;
  if (++slice_handles_ == kAlarmAfter) {
    // Best effort: a loop that cannot arm it (no thread left to start) stays on the clock.
    try {
      detail::arm_slice_alarm(&slice_alarm_raised_, slice_end);
      alarm_slice_end_ = slice_end;
    } catch (const std::exception&) {
    }
  }
  return false;
}

void EventLoop::run_handle(HandleState* h) {
  const double start = debug_ ? time() : 0.0;
  h->running = true;
  try {
    h->invoke();
  } catch (const BaseException&) {
    h->running = false;
    throw;  // KeyboardInterrupt / SystemExit leave the loop
  } catch (...) {
    h->running = false;
    ErrorContext ctx;
    ctx.message = "Exception in callback " + h->describe() + "()";
    ctx.exception = std::current_exception();
    ctx.handle = Handle(h, true);
    call_exception_handler(ctx);
  }
  h->running = false;
  if (h->cancelled) h->drop_callback();  // cancelled while running: drop it now
  if (debug_) warn_if_slow(start, [h] { return Handle(h, true).repr(); });
}

void EventLoop::run_step(detail::TaskCore* task) {
  // The step stays counted until it returned: the task's own reference holds it through a step that
  // finishes it (TaskCore::step_dequeued releases it).
  struct Dequeued {
    detail::TaskCore* t;
    ~Dequeued() { t->step_dequeued(); }
  } dequeued{task};
  const double start = debug_ ? time() : 0.0;
  try {
    task->step();
  } catch (const BaseException&) {
    throw;  // KeyboardInterrupt / SystemExit leave the loop
  } catch (...) {
    ErrorContext ctx;
    ctx.message = "Exception in callback " + task->future().repr() + "()";
    ctx.exception = std::current_exception();
    ctx.task = AnyTask(detail::ref_to(task->self()));
    call_exception_handler(ctx);
  }
  // A task step is shown as the task itself (asyncio's _format_handle).
  if (debug_) warn_if_slow(start, [task] { return task->future().repr(); });
}

template <class Describe>
void EventLoop::warn_if_slow(double start, Describe describe) {
  const double took = time() - start;
  if (took < slow_callback_duration_) return;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", took);
  log_warning("Executing " + describe() + " took " + buf + " seconds");
}

// ---- errors and debug -------------------------------------------------------------------------

double EventLoop::coarse_time() noexcept {
  // Same clock as time() (libstdc++'s steady_clock is CLOCK_MONOTONIC), read at tick resolution.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void EventLoop::set_io_poll_interval(unsigned iterations) {
  if (iterations == 0) throw std::invalid_argument("io_poll_interval must be >= 1");
  io_poll_interval_ = iterations;
  busy_iterations_without_poll_ = 0;
}

void EventLoop::set_slow_callback_duration(double seconds) {
  if (std::isnan(seconds) || seconds < 0) throw std::invalid_argument("slow_callback_duration must be >= 0");
  slow_callback_duration_ = seconds;
}

void EventLoop::log_error(const std::string& text) { std::fprintf(stderr, "qaio: %s\n", text.c_str()); }
void EventLoop::log_warning(const std::string& text) { std::fprintf(stderr, "qaio: warning: %s\n", text.c_str()); }

void EventLoop::default_exception_handler(const ErrorContext& ctx) {
  std::string text = ctx.message.empty() ? "Unhandled exception in event loop" : ctx.message;
  if (ctx.handle) text += "\nhandle: " + ctx.handle.repr();
  if (ctx.task) {
    text += "\ntask: " + ctx.task.repr();
  } else if (ctx.future) {
    text += "\nfuture: " + ctx.future->repr();
  }
  if (ctx.socket >= 0) text += "\nsocket: fd=" + std::to_string(ctx.socket);
  if (ctx.exception) text += "\nexception: " + describe_exception(ctx.exception);
  log_error(text);
}

void EventLoop::call_exception_handler(const ErrorContext& ctx) noexcept {
  if (!exception_handler_) {
    try {
      default_exception_handler(ctx);
    } catch (...) {
      std::fputs("qaio: Exception in default exception handler\n", stderr);
    }
    return;
  }
  try {
    exception_handler_(*this, ctx);
  } catch (...) {
    // A broken handler must not take the loop down (spec item 46).
    try {
      ErrorContext broken;
      broken.message = "Unhandled error in exception handler";
      broken.exception = std::current_exception();
      default_exception_handler(broken);
      default_exception_handler(ctx);
    } catch (...) {
      std::fputs("qaio: Exception in default exception handler\n", stderr);
    }
  }
}

// ---- executor ---------------------------------------------------------------------------------

Executor& EventLoop::default_executor() {
  if (executor_shutdown_called_) throw RuntimeError("Executor shutdown has been called");
  if (!default_executor_) default_executor_ = std::make_unique<ThreadPoolExecutor>();
  return *default_executor_;
}

void EventLoop::set_default_executor(std::unique_ptr<Executor> executor) {
  if (default_executor_) default_executor_->shutdown(false);
  default_executor_ = std::move(executor);
}

Coro<void> EventLoop::shutdown_default_executor() {
  executor_shutdown_called_ = true;
  if (!default_executor_) co_return;
  Future<> done = create_future();
  detail::WeakRef<detail::FutureState<void>> weak = done.state();
  Executor* executor = default_executor_.get();
  // Joining the pool blocks, so it happens on a helper thread while this task waits.
  std::thread joiner([executor, weak, queue = threadsafe_] {
    executor->shutdown(true);
    detail::post_threadsafe(queue, [weak] {
      if (auto s = weak.lock(); s && !s->done()) s->set_result();
    });
  });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{joiner};
  co_await done;
}

}  // namespace qaio
