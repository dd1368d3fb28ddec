// qt_event_loop.cpp: QtEventLoop, the Qt driver of the core loop: when to call run_once() and how to
// get back to Qt. See the header for the model and DESIGN.md rules 3-5 for why it looks like this.
#include "qaio/qt/qt_event_loop.h"

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QEventLoop>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "driver.h"
#include "qaio/qt/event_dispatcher.h"
#include "vector_state.h"

namespace qaio::qt {

namespace {
// Loops of this thread that found another loop running when their dispatch event arrived. They
// switch their notifier off (an unread epoll fd would keep it firing) and wait to be resumed.
thread_local std::vector<QtEventLoop*> tls_deferred;
}  // namespace

// ---- Driver -----------------------------------------------------------------------------------

namespace detail {

EpollNotifier::EpollNotifier(QtEventLoop& loop, int epoll_fd)
    : QSocketNotifier(static_cast<qintptr>(epoll_fd), QSocketNotifier::Read), loop_(loop) {}

bool EpollNotifier::event(QEvent* e) {
  if (e->type() == QEvent::SockAct) {
    // The dispatch runs right here rather than from a posted event: posting would cost every I/O
    // wakeup an eventfd write, a second dispatcher iteration and an eventfd read (W4, 1
    // connection). Qt re-activates a notifier inside nested Qt loops (DESIGN rule 3, measured with
    // the glib and UNIX dispatchers), so I/O keeps flowing while a callback spins a modal dialog.
    loop_.dispatch();
    return true;
  }
  return QSocketNotifier::event(e);
}

Driver::Driver(QtEventLoop& loop, int epoll_fd) : notifier(loop, epoll_fd), loop_(loop) {
  notifier.setParent(this);
  timer.setParent(this);
  timer.setSingleShot(true);
  timer.setTimerType(Qt::PreciseTimer);
  // A QTimer is not re-activated while its own slot runs, so the timer only asks for a dispatch and
  // the batch runs from the posted event (DESIGN rule 3).
  QObject::connect(&timer, &QTimer::timeout, this, [this] {
    loop_.timer_active_ = false;
    loop_.post_dispatch();
  });
  // Every dispatcher of Qt 6 emits one of these from each processEvents() call (glib and UNIX,
  // nested loops included): the cheapest portable way to notice a nested Qt loop inside a dispatch.
  if (QAbstractEventDispatcher* dispatcher = QAbstractEventDispatcher::instance()) {
    const auto nested_check = [this] { loop_.on_qt_iteration(); };
    QObject::connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, this, nested_check);
    QObject::connect(dispatcher, &QAbstractEventDispatcher::awake, this, nested_check);
  }
  // Under glib's dispatcher: one wait per I/O wakeup (glib_poll.h). The hook also sees every glib
  // iteration, nested loops included; once glib has called it (so it sits on the context Qt
  // iterates), the signals above go: their two emissions were a tenth of the instructions of a
  // one-connection echo request under glib (callgrind).
  glib_hook = GlibPollHook::install(loop, epoll_fd);
}

void Driver::drop_iteration_signals() {
  // The two connections above are this object's only ones from the dispatcher.
  if (QAbstractEventDispatcher* dispatcher = QAbstractEventDispatcher::instance())
    QObject::disconnect(dispatcher, nullptr, this, nullptr);
}

Driver::~Driver() {
  glib_hook.reset();  // before the notifier goes: the hook looks for the notifier's fd
  // The members are destroyed before QObject's destructor would delete children: unparent them
  // first so nothing is deleted twice.
  notifier.setEnabled(false);
  notifier.setParent(nullptr);
  timer.stop();
  timer.setParent(nullptr);
}

QEvent::Type Driver::dispatch_event_type() {
  static const QEvent::Type type = static_cast<QEvent::Type>(QEvent::registerEventType());
  return type;
}

bool Driver::event(QEvent* e) {
  if (e->type() == dispatch_event_type()) {
    loop_.posted_ = false;
    loop_.dispatch();
    return true;
  }
  return QObject::event(e);
}

}  // namespace detail

// ---- construction and closing -------------------------------------------------------------------

QtEventLoop::QtEventLoop() {
  if (!QCoreApplication::instance())
    throw RuntimeError("qaio::qt::QtEventLoop needs a QCoreApplication (or QGuiApplication/QApplication)");
  // A thread Qt merely adopted has no event dispatcher until a QEventLoop asks for one, and a
  // QSocketNotifier needs it.
  if (!QAbstractEventDispatcher::instance()) QEventLoop ensure_dispatcher;
  // qaio's own dispatcher blocks in this loop's epoll set and dispatches it on every iteration, so
  // the loop needs no notifier, no timer, no posted event and no ready notifications. It drives one
  // loop per thread; a second loop takes the ordinary path (which that dispatcher supports too).
  if (auto* own = dynamic_cast<EventDispatcher*>(QAbstractEventDispatcher::instance())) {
    if (own->attach(*this)) {
      dispatcher_ = own;
      return;
    }
  }
  wants_ready_notifications = true;
  driver_ = std::make_unique<detail::Driver>(*this, selector_fd());
}

void QtEventLoop::detach_dispatcher() noexcept {
  if (dispatcher_) dispatcher_->detach(*this);
  dispatcher_ = nullptr;
}

QtEventLoop::~QtEventLoop() {
  // The base destructor would call close() after this part is gone; close here so on_close() and
  // the Qt logging overrides still apply.
  if (!is_closed() && !is_running()) close();
  driver_.reset();
  detach_dispatcher();
}

void QtEventLoop::on_close() {
  if (deferred_) {
    tls_deferred.erase(std::remove(tls_deferred.begin(), tls_deferred.end(), this), tls_deferred.end());
    deferred_ = false;
  }
  // The notifier must go before the selector closes the epoll fd it watches; destroying the
  // driver also drops its queued dispatch event. The same goes for the dispatcher's fd in the set.
  driver_.reset();
  detach_dispatcher();
  posted_ = false;
  timer_active_ = false;
}

void QtEventLoop::set_time_slice(double seconds) {
  if (!(seconds > 0)) throw std::invalid_argument("time_slice must be > 0");
  slice_ = seconds;
}

void QtEventLoop::set_io_linger(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) throw std::invalid_argument("io_linger must be >= 0 and finite");
  linger_ = seconds;
}

bool QtEventLoop::linger(double slice_end) {
  // Only a top-level dispatch of a loop whose glib hook waited for this Qt iteration: then glib's
  // fds are in the loop's set, and glib's timeout (its Qt timers) is known (GlibPollHook).
  if (linger_ <= 0 || !driver_ || !driver_->glib_hook || dispatch_depth_ != 1 || deferred_) return false;
  detail::GlibPollHook& hook = *driver_->glib_hook;
  if (!lingering_) {
    const double now = time();
    const double until = std::min({now + linger_, slice_end, hook.linger_until()});
    if (until <= now) return false;
    hook.glib_fired();  // forget what earlier polls saw
    if (!hook.arm_linger_alarm(until - now)) return false;
    lingering_ = true;
  }
  // Blocks until I/O, one of glib's fds, the alarm, or a qaio timer.
  const unsigned long polls = hook.polls();
  run_once(-1, slice_end);
  // Qt has something to do (an fd glib polls, its wakeup for posted events), time is up, or a
  // callback spun a nested Qt loop (whose iterations may have changed glib's fds or set): back
  // to Qt, and no more lingering until glib has polled again.
  if (hook.glib_fired() || hook.linger_alarm_rang() || hook.polls() != polls) {
    end_linger();
    hook.stop_linger();
    return false;
  }
  return true;
}

void QtEventLoop::end_linger() noexcept {
  if (!lingering_) return;
  lingering_ = false;
  if (driver_ && driver_->glib_hook) driver_->glib_hook->disarm_linger_alarm();
}

detail::Driver& QtEventLoop::driver() { return *driver_; }

// ---- hooks from the core ----------------------------------------------------------------------

void QtEventLoop::post_dispatch() {
  if (posted_ || !driver_) return;
  posted_ = true;
  QCoreApplication::postEvent(driver_.get(), new QEvent(detail::Driver::dispatch_event_type()));
}

void QtEventLoop::on_ready_added() {
  // Queued inside a dispatch (by a callback, or by the dispatch's own poll): the running dispatch
  // picks it up, rearm() continues after the slice, and if a callback sits in a nested Qt loop
  // (a modal dialog) on_qt_iteration() arms the timer. Arming here instead cost every I/O
  // wakeup a QTimer start and stop (W4, 1 connection); posting here would keep Qt's post-event
  // source always ready, and under the glib dispatcher that starves every QTimer.
  if (dispatch_depth_ == 0) post_dispatch();
}

void QtEventLoop::on_timer_scheduled(double when) {
  // Inside a dispatch, rearm() (at its end, or from on_qt_iteration() in a nested Qt loop) arms
  // the timer once for the earliest deadline, rather than once per call_later.
  if (!driver_ || deferred_ || dispatch_depth_ > 0) return;
  arm_timer(when);
}

void QtEventLoop::on_qt_iteration() {
  // Qt processes events while a dispatch of this loop is on the stack: a callback spins a nested
  // Qt loop. The dispatch cannot continue until it returns, so hand the pending work to the timer
  // (a zero timer if handles are ready), whose posted dispatch Qt delivers in the nested loop.
  if (dispatch_depth_ > 0) rearm();
}

void QtEventLoop::on_stop() {
  // run_forever() quits from a dispatch, so make one happen even if nothing else is pending.
  if (private_loop_) post_dispatch();
}

int QtEventLoop::whole_ms(double seconds) noexcept {
  // Rounded up: a timer that fires early would only cost an empty dispatch, but rounding down
  // would do that on every sub-millisecond remainder (DESIGN rule 5).
  const double ms = std::ceil(seconds * 1000.0);
  return ms <= 0 ? 0 : ms >= 1e9 ? 1000000000 : static_cast<int>(ms);
}

void QtEventLoop::arm_timer(double when) {
  // An earlier armed deadline is kept: on fire the dispatch re-checks the heap and re-arms. (So is
  // the same one: rearm() runs on every Qt iteration of a nested loop.)
  if (timer_active_ && armed_deadline_ <= when) return;
  const double now = time();
  // Due now: a zero timer, so Qt still runs a whole iteration (its own timers included) before
  // the next dispatch.
  driver_->timer.start(whole_ms(when - now));
  timer_active_ = true;
  armed_deadline_ = std::max(when, now);
}

void QtEventLoop::rearm() {
  if (!driver_ || deferred_ || is_closed()) return;
  if (batch_pending() || ready_count() > 0) {
    // The slice ended with work left: continue after Qt has had its turn. A re-posted event
    // would be delivered first, before Qt's timers (the glib dispatcher runs timers at idle
    // priority once one has fired), so the continuation goes through the zero timer.
    arm_timer(time());
  } else if (std::optional<double> next = next_timer_deadline()) {
    arm_timer(*next);
  } else if (timer_active_) {
    driver_->timer.stop();
    timer_active_ = false;
  }
}

// ---- deferral: another loop runs in this thread -------------------------------------------------

void QtEventLoop::defer() {
  if (deferred_) return;
  deferred_ = true;
  if (driver_) {
    driver_->notifier.setEnabled(false);
    driver_->timer.stop();
  }
  timer_active_ = false;
  tls_deferred.push_back(this);
}

void QtEventLoop::resume_deferred() {
  std::vector<QtEventLoop*> waiting;
  waiting.swap(tls_deferred);
  for (QtEventLoop* other : waiting) {
    other->deferred_ = false;
    if (!other->driver_) continue;
    other->driver_->notifier.setEnabled(true);
    other->post_dispatch();  // its dispatch re-arms the timer
  }
}

// ---- dispatch ---------------------------------------------------------------------------------

bool QtEventLoop::dispatch(double first_block) {
  if (is_closed() || (!driver_ && !dispatcher_)) return false;
  detail::clear_dirty_upper_state();  // Qt's code may have left it dirty (vector_state.h)
  // run_forever()'s QEventLoop quits once Qt's current iteration ends, and that iteration may still
  // deliver a second dispatch (the notifier and the posted event can both be ready in it). As in
  // asyncio, no iteration follows the one that ran stop(). Only a top-level dispatch is skipped:
  // inside a nested Qt loop (a callback's modal dialog) the loop keeps running until it returns.
  if (quit_requested_ && dispatch_depth_ == 0) return false;
  EventLoop* current = qaio::detail::running_loop();
  if (current != nullptr && current != this) {
    defer();  // asyncio allows one running loop per thread
    return false;
  }
  if (current == nullptr && is_running()) return false;  // running in another thread: not ours to drive
  // Under a foreign Qt loop the loop counts as running for the slice, so callbacks see
  // get_running_loop()/current_task() and cannot nest run_until_complete (spec items 5, 16).
  std::optional<RunningScope> scope;
  if (current == nullptr) scope.emplace(*this);
  ++dispatch_depth_;
  struct Depth {
    int& depth;
    ~Depth() { --depth; }
  } depth{dispatch_depth_};
  // Before qaio's dispatcher waits (first_block != 0) the coarse clock will do: the slice is set
  // again when the wait ends, and this saves a clock read per wakeup (W4, 1 connection).
  double slice_end = (first_block != 0 ? coarse_time() : time()) + slice_;
  try {
    // Several iterations per event while work is ready, each polling epoll without blocking
    // (never block inside Qt), until the slice is used up. The slice is checked after every
    // iteration with the coarse clock (~4 ns a read), so a chain of slow callbacks yields after
    // one of them and a chain of fast ones pays no clock_gettime per iteration.
    if (first_block != 0) {
      // qaio's dispatcher waits in this first poll, so the slice begins when the wait ends. Had
      // the wait outlasted the slice set before it, the stale slice_end cut this iteration short
      // (after its first handle, or before expiring its timers): the loop below carries on.
      run_once(first_block, slice_end);
      const bool stale = coarse_time() >= slice_end;
      slice_end = time() + slice_;
      if (stale && !is_closed() && !stopping() && !batch_pending() && ready_count() == 0) {
        std::optional<double> next = next_timer_deadline();
        if (next && *next <= time()) run_once(0, slice_end);  // the timers it left due
      }
    } else {
      run_once(0, slice_end);
    }
    for (;;) {
      // The callbacks just run may have called into Qt, or spun a nested Qt loop.
      detail::clear_dirty_upper_state();
      if (is_closed()) break;
      if (stopping() && !batch_pending()) {
        if (private_loop_ && current == this) quit_private_loop();
        break;
      }
      if (!batch_pending() && ready_count() == 0) {
        if (!linger(slice_end)) break;
        continue;  // the linger's wait was an iteration; its alarm ends it by the slice's end
      }
      if (slice_ended(slice_end)) break;
      run_once(0, slice_end);
    }
  } catch (...) {
    // Only KeyboardInterrupt/SystemExit-like errors get here (the core reports the rest). They
    // must not unwind through Qt's frames (DESIGN rule 6): run_forever() or run() rethrows them.
    pending_exception_ = std::current_exception();
    if (private_loop_ && current == this) {
      quit_private_loop();
    } else {
      QCoreApplication::exit(1);
    }
  }
  if (dispatch_depth_ == 1) end_linger();  // a nested dispatch leaves the outer one's alarm alone
  scope.reset();
  if (current == nullptr) resume_deferred();
  rearm();
  return true;
}

void QtEventLoop::quit_private_loop() {
  quit_requested_ = true;
  private_loop_->quit();
}

void QtEventLoop::run_forever() {
  if ((driver_ && driver_->thread() != QThread::currentThread()) ||
      (dispatcher_ && dispatcher_->thread() != QThread::currentThread()))
    throw RuntimeError("a QtEventLoop runs only in the thread that created it");
  RunningScope running(*this);
  QEventLoop qloop;
  private_loop_ = &qloop;
  struct Leave {
    QtEventLoop& self;
    ~Leave() {
      self.private_loop_ = nullptr;
      self.quit_requested_ = false;
    }
  } leave{*this};
  if (deferred_) {
    tls_deferred.erase(std::remove(tls_deferred.begin(), tls_deferred.end(), this), tls_deferred.end());
    deferred_ = false;
    if (driver_) driver_->notifier.setEnabled(true);
  }
  post_dispatch();  // the first iteration, even with nothing ready (pre-stop idiom, spec item 8)
  rearm();
  qloop.exec();
  resume_deferred();  // loops that waited for this one may run once it has returned
  if (auto e = take_pending_exception()) std::rethrow_exception(e);
}

// ---- policy, run, shutdown --------------------------------------------------------------------

std::unique_ptr<EventLoop> QtEventLoopPolicy::new_event_loop() { return std::make_unique<QtEventLoop>(); }

void shutdown(EventLoop& loop) { qaio::detail::finish_run(loop); }

namespace detail {

int run_application(QCoreApplication& app, QtEventLoop& loop, const AnyTask& main) {
  set_event_loop(&loop);
  // The application ends with main. The done-callback runs inside a dispatch, i.e. inside
  // app.exec(), so the request cannot be lost; after exec() it must not quit shutdown()'s loop.
  auto in_exec = std::make_shared<bool>(true);
  main.future()->add_done_callback([in_exec](qaio::detail::FutureBase&) {
    if (*in_exec) QCoreApplication::exit(0);
  });
  const int rc = app.exec();
  *in_exec = false;
  std::exception_ptr pending = loop.take_pending_exception();
  shutdown(loop);  // main too, if the application quit first: cancelled, awaited, reported
  if (pending) std::rethrow_exception(pending);
  return rc;
}

}  // namespace detail

}  // namespace qaio::qt
