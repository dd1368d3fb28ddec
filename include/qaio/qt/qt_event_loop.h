// qaio/qt/qt_event_loop.h: QtEventLoop, the core's loop driven by whatever Qt event loop spins in its
// thread, plus QtEventLoopPolicy, qaio::qt::run(app, coro) and qaio::qt::shutdown(loop).
//
// The loop keeps the core's ready deque, timer heap and epoll selector and hands Qt exactly three
// things (DESIGN.md "One core, two drivers"): one QSocketNotifier on the epoll fd, one single-shot
// Qt::PreciseTimer armed to the earliest deadline, and one coalesced posted event. Each of them
// leads to a time-sliced dispatch: the notifier runs it directly (Qt re-activates a notifier inside
// nested Qt loops, and I/O wakeups then cost one dispatcher iteration), while the timer only posts
// the event, because a QTimer does not fire again while its own slot runs (DESIGN rule 3): a modal
// dialog opened by a task from the timer's slot would otherwise freeze every qaio timer. A dispatch
// never arms a Qt timer for work it will run itself; if a callback spins a nested Qt loop, the
// dispatcher's aboutToBlock/awake signals hand the pending work to the timer.
//
// Under qaio's own dispatcher (qaio/qt/event_dispatcher.h, QCoreApplication programs and worker
// threads) the first loop of a thread needs none of the three: the dispatcher waits in the loop's
// epoll set and dispatches the loop once per processEvents(), the wait being the first
// iteration's poll.
//
// When does it run? Whenever any Qt event loop of its thread spins: app.exec(), QDialog::exec(), a
// local QEventLoop, and the private QEventLoop of run_forever()/run_until_complete(). is_running()
// is true inside run_forever(), and, under a foreign Qt loop (app.exec()), only while a dispatch
// slice runs: callbacks and tasks always see is_running(), get_running_loop() and current_task()
// as they would in asyncio, and plain Qt slots between slices may still call run_until_complete().
#pragma once

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "qaio/event_loop.h"
#include "qaio/policy.h"

class QCoreApplication;
class QEventLoop;
class QLoggingCategory;

namespace qaio::qt {

class EventDispatcher;

namespace detail {
class Driver;
class GlibPollHook;
class EpollNotifier;
}

class QtEventLoop : public EventLoop {
 public:
  // Needs a QCoreApplication (or QGuiApplication/QApplication). The loop belongs to the thread that
  // creates it and dispatches only when a Qt event loop of that thread spins.
  QtEventLoop();
  ~QtEventLoop() override;

  // Spins a private QEventLoop until stop(). stop() quits only that QEventLoop, never the
  // application or a modal dialog; if the application quits meanwhile, run_forever returns too.
  void run_forever() override;

  // Longest a dispatch runs before it returns to Qt (default 4 ms, DESIGN rule 4).
  void set_time_slice(double seconds);
  double time_slice() const noexcept { return slice_; }

  // How long a dispatch that has run out of work may keep waiting for more I/O before it returns
  // to Qt (default 0: it returns at once), counted from when it first ran out and capped by the
  // time slice. Only under Qt's glib dispatcher, where glib's own fds sit in the loop's epoll set
  // (docs/qt.md, "I/O linger"): an fd glib polls, a posted Qt event or a Qt timer falling due
  // ends the wait. A QTimer started during the dispatch may wait for the linger's end. For
  // programs that answer many small requests on few connections: a request then costs no Qt
  // iteration. Throws std::invalid_argument if negative or not finite.
  void set_io_linger(double seconds);
  double io_linger() const noexcept { return linger_; }

  // A KeyboardInterrupt/SystemExit-like error raised while dispatching under a foreign Qt loop
  // (app.exec()) cannot leave through Qt's frames: the loop keeps it, exits the application and
  // qaio::qt::run() rethrows it. Returns it once (nullptr if none).
  std::exception_ptr take_pending_exception() noexcept { return std::exchange(pending_exception_, nullptr); }

  // Errors and debug warnings go to the QLoggingCategory "qaio" (see log_category()).
  void log_error(const std::string& text) override;
  void log_warning(const std::string& text) override;

 protected:
  void on_ready_added() override;
  void on_timer_scheduled(double when) override;
  void on_stop() override;
  void on_close() override;

 private:
  friend class detail::Driver;
  friend class detail::GlibPollHook;
  friend class detail::EpollNotifier;
  friend class EventDispatcher;
  // One dispatch: run_once() slices until the slice ends. first_block: how long the first
  // iteration's poll may block (qaio's EventDispatcher waits there; Qt's dispatchers never block
  // a dispatch). False if the loop could not run (closed, deferred, quitting).
  bool dispatch(double first_block = 0);
  // qaio's EventDispatcher of this thread drives the loop directly (event_dispatcher.h): it calls
  // this instead of a notifier and a timer, once per processEvents().
  bool dispatch_from_dispatcher(double max_block) { return dispatch(max_block); }
  // Whether a dispatch now would run something without waiting (ready handles, the rest of a
  // batch, a stop request): qaio's dispatcher must not wait in its own set then.
  bool has_work_now() const noexcept { return ready_count() > 0 || batch_pending() || stopping(); }
  void detach_dispatcher() noexcept;  // the dispatcher is going away
  void post_dispatch();   // coalesced: at most one dispatch event is queued
  void on_qt_iteration(); // Qt's dispatcher is about to process events (nested loops: re-arm)
  void rearm();           // after a dispatch: next wakeup (posted event or the timer)
  void arm_timer(double when);
  static int whole_ms(double seconds) noexcept;  // a QTimer interval: rounded up, 0 if due
  // The dispatch has run out of work: wait in the loop's set for more I/O (set_io_linger) and
  // run it. False when it may not or nothing came: the dispatch returns to Qt.
  bool linger(double slice_end);
  void end_linger() noexcept;  // the dispatch ends: disarm the linger's alarm
  void quit_private_loop(); // run_forever() returns once Qt's current iteration ends
  void defer();           // another loop runs in this thread: wait until it stops
  void resume_deferred(); // the loop that made others wait has stopped
  detail::Driver& driver();

  std::unique_ptr<detail::Driver> driver_;  // Qt's dispatchers: notifier, timer, posted event
  EventDispatcher* dispatcher_ = nullptr;    // or qaio's, which needs none of them
  QEventLoop* private_loop_ = nullptr;  // run_forever()'s QEventLoop while it spins
  std::exception_ptr pending_exception_;
  double slice_ = 0.004;
  double linger_ = 0;
  bool lingering_ = false;  // this dispatch armed the linger's alarm
  double armed_deadline_ = 0;           // the deadline the Qt timer was armed for, if active
  bool timer_active_ = false;
  int dispatch_depth_ = 0;              // dispatches on the stack (nested Qt loops add more)
  bool posted_ = false;
  bool quit_requested_ = false;         // run_forever()'s QEventLoop was told to quit
  bool deferred_ = false;
};

// new_event_loop() makes QtEventLoops (set it with qaio::set_event_loop_policy).
class QtEventLoopPolicy : public EventLoopPolicy {
 public:
  std::unique_ptr<EventLoop> new_event_loop() override;
};

// The QLoggingCategory "qaio" the Qt loop logs to (filter with QT_LOGGING_RULES="qaio.debug=false" ...).
const QLoggingCategory& log_category();

// asyncio.run's epilogue for a loop you ran yourself: cancels the pending tasks and waits for them
// (spinning a private QEventLoop), reports what they raised, shuts the default executor down,
// clears the thread's current loop and closes the loop.
void shutdown(EventLoop& loop);

namespace detail {
// run()'s non-template part: makes `loop` current, quits `app` once `main` is done, runs app.exec(),
// then shutdown(loop). Returns app.exec()'s code; rethrows a pending KeyboardInterrupt-like error.
int run_application(QCoreApplication& app, QtEventLoop& loop, const AnyTask& main);
}  // namespace detail

// The common main(): a QtEventLoop runs `main` as a task inside app.exec(). When `main` finishes
// the application exits; when the application quits first (last window closed, app.quit()), `main`
// and every other pending task are cancelled and awaited, and what they raise is reported.
// Returns main's value if it is an int, else app.exec()'s code. main's exception is rethrown.
template <class T>
int run(QCoreApplication& app, Coro<T> main) {
  QtEventLoop loop;
  Task<T> task = loop.create_task(std::move(main), "main");
  const int rc = detail::run_application(app, loop, AnyTask(task));
  if (!task.done() || task.cancelled()) return rc;
  if constexpr (std::is_convertible_v<T, int> && !std::is_void_v<T>) {
    return static_cast<int>(task.result());
  } else {
    task.result();  // rethrows main's exception, like asyncio.run
    return rc;
  }
}

}  // namespace qaio::qt
