// event_dispatcher.cpp: qaio::qt::EventDispatcher, an epoll QAbstractEventDispatcher that drives a
// QtEventLoop of its thread directly (see the header for what it is for).
//
// One processEvents() call:
//   1. awake(), then Qt's posted events (QCoreApplication::sendPostedEvents, as Qt's dispatchers do);
//   2. unless it may not wait (no WaitForMoreEvents, a pending wakeUp(), interrupt()): aboutToBlock();
//   3. the wait, bounded by the earliest Qt timer:
//      - with an attached QtEventLoop, the loop's dispatch (QtEventLoop::dispatch_from_dispatcher):
//        its run_once() blocks in the loop's epoll_wait, where this dispatcher's own epoll fd sits
//        as a driver fd (Selector::add_driver_fd: the core skips it and notes that it was seen). An I/O
//        wakeup of the loop is then exactly one epoll_wait, as in SelectorEventLoop;
//      - otherwise (no loop, the loop deferred or quitting) an epoll_wait on the dispatcher's own set;
//   4. if the dispatcher's own set is ready: the eventfd is drained and socket notifiers activated;
//   5. due Qt timers fire (QTimerEvent through sendEvent), never one whose own event is still being
//      delivered further up the stack (a slot running a nested loop), as in Qt's dispatchers.
#include "qaio/qt/event_dispatcher.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QMetaMethod>
#include <QSocketNotifier>
#include <QThread>
#include <QTimerEvent>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "../core/selector.h"
#include "qaio/qt/qt_event_loop.h"
#include "vector_state.h"

namespace qaio::qt {

namespace detail {

namespace {

std::int64_t now_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// What the dispatcher's fd is tagged with in a loop's epoll set (Selector::add_driver_fd): the
// core's process_io() skips it, and Selector::take_tag_seen() tells whether a poll reported it.
constexpr int kDispatcherTag = -1;

}  // namespace

struct QtTimer {
  int id;
  qint64 interval;  // ms
  Qt::TimerType type;
  QObject* object;
  std::int64_t deadline;              // now_ns() clock
  QtTimer** activating = nullptr;     // set while its QTimerEvent is being delivered
};

struct FdNotifiers {
  QSocketNotifier* read = nullptr;
  QSocketNotifier* write = nullptr;
  QSocketNotifier* exception = nullptr;
  std::uint32_t registered = 0;  // epoll events in the set (0: not in it)
  bool unpollable = false;       // epoll refuses the fd (a regular file): always ready, like poll()
};

struct DispatcherState {
  int epfd = -1;
  int wake_fd = -1;
  // Set by wakeUp() (and interrupt()); cleared just before the posted events are sent, so a post
  // made while they run (or from another thread) keeps the next wait from blocking. The eventfd is
  // written only when the flag goes up, so it wakes a blocked wait without a syscall per post.
  std::atomic<bool> wake_pending{true};
  std::atomic<bool> interrupted{false};
  std::atomic<int> signal_connections{0};  // to aboutToBlock() or awake()
  int depth = 0;                // processEvents() calls on the stack
  bool recheck_posted = false;  // a nested processEvents() returned: look at the posted events

  std::unordered_map<int, FdNotifiers> fds;
  int unpollable_count = 0;
  // Activations being delivered by processEvents() calls on the stack (nested loops): a notifier
  // unregistered meanwhile is nulled in every one of them.
  std::vector<std::vector<QSocketNotifier*>*> activations;

  std::unordered_map<int, std::unique_ptr<QtTimer>> timers;
  std::vector<QtTimer*> timer_queue;  // by deadline, earliest first

  QtEventLoop* loop = nullptr;  // the attached loop
  int gui_check = -1;  // -1: not checked yet, 0: fine
  std::vector<epoll_event> events = std::vector<epoll_event>(64);

  void update_fd(int fd, FdNotifiers& e);
  int activate_notifiers(int timeout_ms, bool include_notifiers);
  int activate_timers();
  int timer_wait_ms() const;  // -1: no timer
  void queue_timer(QtTimer* t);
  void unqueue_timer(QtTimer* t);
  void drain_wake_fd() noexcept {
    std::uint64_t v;
    while (::read(wake_fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
  }
};

void DispatcherState::update_fd(int fd, FdNotifiers& e) {
  // QSocketNotifier::setEnabled() registers and unregisters, so the notifiers present are the
  // enabled ones.
  std::uint32_t want = 0;
  if (e.read) want |= EPOLLIN;
  if (e.write) want |= EPOLLOUT;
  if (e.exception) want |= EPOLLPRI;
  if (e.unpollable) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = fd;
  if (want == 0) {
    if (e.registered) ::epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
    e.registered = 0;
    return;
  }
  if (want == e.registered) return;
  int op = e.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  int rc = ::epoll_ctl(epfd, op, fd, &ev);
  // The fd may have been closed and reopened behind the notifier's back (the kernel dropped it).
  if (rc < 0 && op == EPOLL_CTL_MOD && errno == ENOENT) rc = ::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  if (rc < 0 && op == EPOLL_CTL_ADD && errno == EEXIST) rc = ::epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
  if (rc < 0 && errno == EPERM) {
    // A regular file or another fd epoll cannot watch: poll() would call it always ready.
    e.unpollable = true;
    ++unpollable_count;
    e.registered = 0;
    return;
  }
  if (rc < 0) {
    qWarning("qaio::qt::EventDispatcher: cannot watch socket %d: %s", fd, std::strerror(errno));
    e.registered = 0;
    return;
  }
  e.registered = want;
}

int DispatcherState::activate_notifiers(int timeout_ms, bool include_notifiers) {
  int n;
  do {
    n = ::epoll_wait(epfd, events.data(), static_cast<int>(events.size()), timeout_ms);
  } while (n < 0 && errno == EINTR && timeout_ms == 0);
  if (n <= 0) {
    if (unpollable_count == 0 || !include_notifiers) return 0;
    n = 0;
  }
  std::vector<QSocketNotifier*> pending;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[static_cast<std::size_t>(i)];
    const int fd = ev.data.fd;
    if (fd == wake_fd) {
      drain_wake_fd();
      continue;
    }
    if (!include_notifiers) continue;
    auto it = fds.find(fd);
    if (it == fds.end()) continue;
    // poll()'s mapping, as QEventDispatcherUNIX uses it: HUP and ERR wake readers, ERR writers.
    if ((ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && it->second.read) pending.push_back(it->second.read);
    if ((ev.events & (EPOLLOUT | EPOLLERR)) && it->second.write) pending.push_back(it->second.write);
    if ((ev.events & EPOLLPRI) && it->second.exception) pending.push_back(it->second.exception);
  }
  if (static_cast<std::size_t>(n) == events.size()) events.resize(events.size() * 2);
  if (unpollable_count > 0 && include_notifiers) {
    for (auto& [fd, e] : fds) {
      if (!e.unpollable) continue;
      if (e.read) pending.push_back(e.read);
      if (e.write) pending.push_back(e.write);
    }
  }
  if (pending.empty()) return 0;
  activations.push_back(&pending);
  struct Pop {
    std::vector<std::vector<QSocketNotifier*>*>& list;
    ~Pop() { list.pop_back(); }
  } pop{activations};
  int activated = 0;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    QSocketNotifier* notifier = pending[i];
    if (!notifier) continue;  // unregistered (or deleted) by an earlier activation
    pending[i] = nullptr;
    QEvent event(QEvent::SockAct);
    QCoreApplication::sendEvent(notifier, &event);
    ++activated;
  }
  return activated;
}

void DispatcherState::queue_timer(QtTimer* t) {
  auto pos = std::upper_bound(timer_queue.begin(), timer_queue.end(), t,
                              [](const QtTimer* a, const QtTimer* b) { return a->deadline < b->deadline; });
  timer_queue.insert(pos, t);
}

void DispatcherState::unqueue_timer(QtTimer* t) {
  auto it = std::find(timer_queue.begin(), timer_queue.end(), t);
  if (it != timer_queue.end()) timer_queue.erase(it);
}

int DispatcherState::timer_wait_ms() const {
  for (const QtTimer* t : timer_queue) {
    // A timer whose event is being delivered (its slot runs a nested loop) does not fire again
    // until that returns, so it must not keep the nested loop from blocking either.
    if (t->activating) continue;
    const std::int64_t left = t->deadline - now_ns();
    if (left <= 0) return 0;
    const std::int64_t ms = (left + 999999) / 1000000;  // rounded up: never wake before it is due
    return ms > 86400000 ? 86400000 : static_cast<int>(ms);
  }
  return -1;
}

int DispatcherState::activate_timers() {
  if (timer_queue.empty()) return 0;
  const std::int64_t now = now_ns();
  if (timer_queue.front()->deadline > now) return 0;  // sorted: nothing is due
  // The timers due now, in deadline order, each at most once per call (a zero-interval timer must
  // not keep this call busy). Ids, not pointers: a slot may kill any timer.
  std::vector<int> due;
  for (const QtTimer* t : timer_queue) {
    if (t->deadline > now) break;
    if (!t->activating) due.push_back(t->id);
  }
  int fired = 0;
  for (int id : due) {
    auto it = timers.find(id);
    if (it == timers.end()) continue;
    QtTimer* t = it->second.get();
    if (t->activating || t->deadline > now) continue;  // restarted, or re-entered, since
    // Next deadline first, so a nested loop in the slot sees the timer where it will be.
    unqueue_timer(t);
    t->deadline += t->interval * 1000000;
    if (t->deadline < now) t->deadline = now + t->interval * 1000000;  // fell behind: no catch-up burst
    queue_timer(t);
    QtTimer* self = t;
    t->activating = &self;  // unregisterTimer() nulls `self` if the slot kills the timer
    QTimerEvent event(id);
    QCoreApplication::sendEvent(t->object, &event);
    if (self) self->activating = nullptr;
    ++fired;
  }
  return fired;
}

}  // namespace detail

// ---- construction -------------------------------------------------------------------------------

EventDispatcher::EventDispatcher(QObject* parent)
    : QAbstractEventDispatcher(parent), d_(std::make_unique<detail::DispatcherState>()) {
  d_->epfd = ::epoll_create1(EPOLL_CLOEXEC);
  d_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d_->epfd < 0 || d_->wake_fd < 0) qFatal("qaio::qt::EventDispatcher: epoll/eventfd: %s", std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = d_->wake_fd;
  if (::epoll_ctl(d_->epfd, EPOLL_CTL_ADD, d_->wake_fd, &ev) < 0)
    qFatal("qaio::qt::EventDispatcher: epoll_ctl: %s", std::strerror(errno));
}

EventDispatcher::~EventDispatcher() {
  if (d_->loop) d_->loop->detach_dispatcher();
  for (auto& [id, t] : d_->timers)
    if (t->activating) *t->activating = nullptr;
  ::close(d_->wake_fd);
  ::close(d_->epfd);
}

void install_event_dispatcher() {
  if (QCoreApplication::instance())
    qWarning("qaio::qt::install_event_dispatcher(): call it before creating the application object");
  QCoreApplication::setEventDispatcher(new EventDispatcher);
}

void install_event_dispatcher(QThread& thread) { thread.setEventDispatcher(new EventDispatcher); }

QtEventLoop* EventDispatcher::attached_loop() const noexcept { return d_->loop; }

namespace {
bool is_wait_signal(const QMetaMethod& signal) {
  return signal == QMetaMethod::fromSignal(&QAbstractEventDispatcher::aboutToBlock) ||
         signal == QMetaMethod::fromSignal(&QAbstractEventDispatcher::awake);
}
}  // namespace

void EventDispatcher::connectNotify(const QMetaMethod& signal) {
  // An invalid method stands for "some signal" (QObject::connect with a pattern): count it too.
  if (!signal.isValid() || is_wait_signal(signal)) d_->signal_connections.fetch_add(1, std::memory_order_relaxed);
}

void EventDispatcher::disconnectNotify(const QMetaMethod& signal) {
  // An invalid method here means "every connection" (disconnect(obj, nullptr, ...)): recount
  // from Qt's own bookkeeping instead.
  if (!signal.isValid()) {
    const int n = (isSignalConnected(QMetaMethod::fromSignal(&QAbstractEventDispatcher::aboutToBlock)) ? 1 : 0) +
                  (isSignalConnected(QMetaMethod::fromSignal(&QAbstractEventDispatcher::awake)) ? 1 : 0);
    d_->signal_connections.store(n, std::memory_order_relaxed);
  } else if (is_wait_signal(signal)) {
    d_->signal_connections.fetch_sub(1, std::memory_order_relaxed);
  }
}

// ---- the QtEventLoop ------------------------------------------------------------------------

bool EventDispatcher::attach(QtEventLoop& loop) {
  if (d_->loop) return false;
  try {
    // Busy iterations must poll it too: Qt's timers and notifiers are behind it.
    loop.selector().add_driver_fd(d_->epfd, detail::kDispatcherTag, EPOLLIN, /*poll_when_busy=*/true);
  } catch (const std::exception&) {
    return false;
  }
  d_->loop = &loop;
  return true;
}

void EventDispatcher::detach(QtEventLoop& loop) noexcept {
  if (d_->loop != &loop) return;
  loop.selector().remove_driver_fd(d_->epfd);
  d_->loop = nullptr;
}

// ---- processEvents ------------------------------------------------------------------------------

bool EventDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags) {
  detail::clear_dirty_upper_state();  // Qt's code may have left it dirty (vector_state.h)
  detail::DispatcherState& d = *d_;
  if (d.gui_check < 0) {
    // A GUI application's main thread needs the platform plugin's dispatcher, which delivers the
    // window system's events; this one cannot (only Qt's public headers exist for it). Freezing
    // silently would be worse than stopping here.
    QCoreApplication* app = QCoreApplication::instance();
    if (app && app->inherits("QGuiApplication") && thread() == app->thread())
      qFatal("qaio::qt::EventDispatcher cannot run a QGuiApplication/QApplication's main thread: it does not "
             "deliver window-system events. Use it with QCoreApplication, or in worker threads.");
    if (app) d.gui_check = 0;
  }
  d.interrupted.store(false, std::memory_order_relaxed);
  // Connections may be made from any thread; a relaxed read is enough, as for Qt's own check.
  const bool signals_connected = d.signal_connections.load(std::memory_order_relaxed) > 0;
  if (signals_connected) emit awake();

  ++d.depth;
  struct Leave {
    detail::DispatcherState& d;
    ~Leave() {
      if (--d.depth > 0) d.recheck_posted = true;
    }
  } leave{d};

  // Qt calls wakeUp() for every postEvent(), and from sendPostedEvents() when it leaves events it
  // could have sent, so the posted events need a look only after one (as the glib dispatcher
  // decides with its serial number): that saves a mutex round trip per I/O wakeup. The exception
  // is a DeferredDelete that a nested loop could not deliver, which Qt re-queues without a wakeUp
  // for an outer loop: every return from a nested call asks for a look as well.
  if (d.wake_pending.load(std::memory_order_relaxed) || d.recheck_posted) {
    d.recheck_posted = false;
    d.wake_pending.store(false, std::memory_order_seq_cst);
    QCoreApplication::sendPostedEvents();
  }

  const bool include_timers = !(flags & QEventLoop::X11ExcludeTimers);
  const bool include_notifiers = !(flags & QEventLoop::ExcludeSocketNotifiers);
  const bool can_wait = (flags & QEventLoop::WaitForMoreEvents) && !d.interrupted.load(std::memory_order_relaxed) &&
                        !d.wake_pending.load(std::memory_order_seq_cst) &&
                        !(include_notifiers && d.unpollable_count > 0);
  if (can_wait && signals_connected) emit aboutToBlock();
  if (d.interrupted.load(std::memory_order_relaxed)) return false;

  int timeout_ms = 0;
  if (can_wait) {
    timeout_ms = include_timers ? d.timer_wait_ms() : -1;
    // aboutToBlock()'s slots may have posted (wakeUp raised the flag and wrote the eventfd: the
    // wait returns at once) or called interrupt().
    if (d.interrupted.load(std::memory_order_relaxed)) return false;
  }

  int handled = 0;
  bool own_ready = true;  // whether the dispatcher's own set must be looked at
  QtEventLoop* loop = d.loop;
  if (loop && include_notifiers) {
    // The loop's epoll set holds ours: block there. Its dispatch runs the loop's slice too.
    qaio::detail::Selector& selector = loop->selector();
    selector.take_tag_seen(detail::kDispatcherTag);  // forget what earlier dispatches saw
    // Seconds, a little under the whole milliseconds so the selector's rounding up gives them back.
    const double block = timeout_ms < 0 ? -1.0 : timeout_ms == 0 ? 0.0 : (timeout_ms - 0.25) / 1000.0;
    if (loop->dispatch_from_dispatcher(block)) {
      // Our set needs a look only if the loop's poll reported it, or if the loop is still busy
      // (its next slice might not poll before running the rest of a batch).
      own_ready = selector.take_tag_seen(detail::kDispatcherTag) || loop->ready_count() > 0;
      timeout_ms = 0;
      ++handled;
    }
  } else if (loop) {
    // ExcludeSocketNotifiers: the loop's I/O counts as a socket notifier, but its ready callbacks
    // and due timers still run (they did with the QSocketNotifier design too, via the posted
    // event and the QTimer). The wait below covers only wakeUp() and the timers, the loop's
    // included, and the loop runs after it, as when the wait is the loop's own poll.
    if (timeout_ms != 0) {
      if (loop->has_work_now()) {
        timeout_ms = 0;
      } else if (auto next = loop->next_timer_deadline()) {
        const double left = std::max(0.0, *next - loop->time());
        const int ms = static_cast<int>(std::min(std::ceil(left * 1000.0), 86400000.0));
        if (timeout_ms < 0 || ms < timeout_ms) timeout_ms = ms;
      }
    }
  }
  if (own_ready) {
    if (!include_notifiers && timeout_ms != 0) {
      // Wait for wakeUp() or a timer only: a ready notifier fd must neither wake nor spin us.
      pollfd p{d.wake_fd, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) > 0) d.drain_wake_fd();
      timeout_ms = 0;
    }
    handled += d.activate_notifiers(timeout_ms, include_notifiers);
  }
  if (loop && !include_notifiers && loop->dispatch_from_dispatcher(0)) ++handled;
  if (include_timers) handled += d.activate_timers();
  return handled > 0;
}

// ---- socket notifiers ---------------------------------------------------------------------------

void EventDispatcher::registerSocketNotifier(QSocketNotifier* notifier) {
  const int fd = static_cast<int>(notifier->socket());
  detail::FdNotifiers& e = d_->fds[fd];
  QSocketNotifier** slot = notifier->type() == QSocketNotifier::Read    ? &e.read
                           : notifier->type() == QSocketNotifier::Write ? &e.write
                                                                        : &e.exception;
  if (*slot && *slot != notifier)
    qWarning("QSocketNotifier: Multiple socket notifiers for same socket %d and type %s", fd,
             notifier->type() == QSocketNotifier::Read    ? "Read"
             : notifier->type() == QSocketNotifier::Write ? "Write"
                                                          : "Exception");
  *slot = notifier;
  d_->update_fd(fd, e);
}

void EventDispatcher::unregisterSocketNotifier(QSocketNotifier* notifier) {
  for (auto* list : d_->activations)
    for (auto& p : *list)
      if (p == notifier) p = nullptr;
  const int fd = static_cast<int>(notifier->socket());
  auto it = d_->fds.find(fd);
  if (it == d_->fds.end()) return;
  detail::FdNotifiers& e = it->second;
  if (e.read == notifier) e.read = nullptr;
  if (e.write == notifier) e.write = nullptr;
  if (e.exception == notifier) e.exception = nullptr;
  if (e.unpollable && !e.read && !e.write && !e.exception) {
    e.unpollable = false;
    --d_->unpollable_count;
  }
  d_->update_fd(fd, e);
  if (!e.read && !e.write && !e.exception) d_->fds.erase(it);
}

// ---- timers -------------------------------------------------------------------------------------

void EventDispatcher::registerTimer(int timer_id, qint64 interval, Qt::TimerType timer_type, QObject* object) {
  auto t = std::make_unique<detail::QtTimer>();
  t->id = timer_id;
  t->interval = interval < 0 ? 0 : interval;
  t->type = timer_type;
  t->object = object;
  t->deadline = detail::now_ns() + t->interval * 1000000;
  detail::QtTimer* raw = t.get();
  auto [it, inserted] = d_->timers.try_emplace(timer_id, std::move(t));
  if (!inserted) {
    // Qt never reuses a live id; a stale entry would be a bug elsewhere. Replace it.
    d_->unqueue_timer(it->second.get());
    if (it->second->activating) *it->second->activating = nullptr;
    it->second = std::make_unique<detail::QtTimer>(*raw);
    it->second->activating = nullptr;
    raw = it->second.get();
  }
  d_->queue_timer(raw);
}

bool EventDispatcher::unregisterTimer(int timer_id) {
  auto it = d_->timers.find(timer_id);
  if (it == d_->timers.end()) return false;
  detail::QtTimer* t = it->second.get();
  d_->unqueue_timer(t);
  if (t->activating) *t->activating = nullptr;
  d_->timers.erase(it);
  return true;
}

bool EventDispatcher::unregisterTimers(QObject* object) {
  bool any = false;
  for (auto it = d_->timers.begin(); it != d_->timers.end();) {
    detail::QtTimer* t = it->second.get();
    if (t->object != object) {
      ++it;
      continue;
    }
    d_->unqueue_timer(t);
    if (t->activating) *t->activating = nullptr;
    it = d_->timers.erase(it);
    any = true;
  }
  return any;
}

QList<QAbstractEventDispatcher::TimerInfo> EventDispatcher::registeredTimers(QObject* object) const {
  QList<TimerInfo> list;
  for (const auto& [id, t] : d_->timers)
    if (t->object == object) list.append(TimerInfo(t->id, static_cast<int>(t->interval), t->type));
  return list;
}

int EventDispatcher::remainingTime(int timer_id) {
  auto it = d_->timers.find(timer_id);
  if (it == d_->timers.end()) return -1;
  const std::int64_t left = it->second->deadline - detail::now_ns();
  if (left <= 0) return 0;
  return static_cast<int>((left + 999999) / 1000000);
}

// ---- wakeUp / interrupt -------------------------------------------------------------------------

void EventDispatcher::wakeUp() {
  if (d_->wake_pending.exchange(true, std::memory_order_seq_cst)) return;  // already on its way
  const std::uint64_t one = 1;
  while (::write(d_->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void EventDispatcher::interrupt() {
  d_->interrupted.store(true, std::memory_order_relaxed);
  // Must wake even if a wakeUp() is already pending: that one may have been consumed already.
  d_->wake_pending.store(true, std::memory_order_seq_cst);
  const std::uint64_t one = 1;
  while (::write(d_->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

}  // namespace qaio::qt
