// qaio/qt/event_dispatcher.h: qaio::qt::EventDispatcher, an epoll QAbstractEventDispatcher for
// QCoreApplication programs (console tools, servers) and worker QThreads, which runs a QtEventLoop
// of its thread without Qt's generic socket-notifier path.
//
// With Qt's own dispatchers (glib or UNIX), every I/O wakeup of a QtEventLoop costs a poll() by Qt,
// a QSocketNotifier activation, and then the loop's own zero-timeout epoll_wait. This dispatcher
// blocks directly in the QtEventLoop's epoll set instead: its own fds (the eventfd behind wakeUp()
// and every QSocketNotifier, gathered in a second epoll set) sit in the loop's set under a tag the
// loop ignores, so one epoll_wait serves qaio's I/O, qaio's timers, Qt's timers, Qt's notifiers and
// posted events, and an I/O wakeup costs what it costs SelectorEventLoop plus a few hundred
// nanoseconds of Qt bookkeeping (docs/qt.md, "qaio's own event dispatcher").
//
// It is a complete dispatcher for non-GUI threads: QTimer (all timer types run as precise
// milliseconds), QSocketNotifier (Read/Write/Exception, one of each per fd), posted events,
// wakeUp()/interrupt() from any thread, every ProcessEventsFlag a console program meets, nested
// loops, aboutToBlock()/awake(). It cannot deliver a window system's events (only Qt's public
// headers are available to it), so a QGuiApplication/QApplication must keep Qt's dispatcher: the
// first processEvents() of a GUI application's main thread on this dispatcher is a qFatal.
//
//   int main(int argc, char** argv) {
//     qaio::qt::install_event_dispatcher();  // before the application object
//     QCoreApplication app(argc, argv);
//     return qaio::qt::run(app, main_task());
//   }
//
// A worker thread: thread->setEventDispatcher(new qaio::qt::EventDispatcher) before start(), or
// qaio::qt::install_event_dispatcher(*thread).
#pragma once

#include <QAbstractEventDispatcher>
#include <memory>

class QThread;

namespace qaio::qt {

class QtEventLoop;

namespace detail {
struct DispatcherState;
}

class EventDispatcher : public QAbstractEventDispatcher {
  Q_OBJECT

 public:
  explicit EventDispatcher(QObject* parent = nullptr);
  ~EventDispatcher() override;

  bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

  void registerSocketNotifier(QSocketNotifier* notifier) override;
  void unregisterSocketNotifier(QSocketNotifier* notifier) override;

  using QAbstractEventDispatcher::registerTimer;
  void registerTimer(int timer_id, qint64 interval, Qt::TimerType timer_type, QObject* object) override;
  bool unregisterTimer(int timer_id) override;
  bool unregisterTimers(QObject* object) override;
  QList<TimerInfo> registeredTimers(QObject* object) const override;
  int remainingTime(int timer_id) override;

  void wakeUp() override;     // thread-safe
  void interrupt() override;  // thread-safe: the current processEvents() returns as soon as it can

  // The QtEventLoop this dispatcher drives directly, if any (the first one created in its thread
  // and not yet closed; later ones run through the ordinary notifier path).
  QtEventLoop* attached_loop() const noexcept;

 protected:
  // Counts the connections to aboutToBlock()/awake(): with none (the usual case), processEvents()
  // skips the two emissions.
  void connectNotify(const QMetaMethod& signal) override;
  void disconnectNotify(const QMetaMethod& signal) override;

 private:
  friend class QtEventLoop;
  // Called by a QtEventLoop of this thread: true if it is now driven directly (its epoll set got
  // the dispatcher's tagged fd), false if another loop already is.
  bool attach(QtEventLoop& loop);
  void detach(QtEventLoop& loop) noexcept;

  std::unique_ptr<detail::DispatcherState> d_;
};

// QCoreApplication::setEventDispatcher(new EventDispatcher): call it before creating the
// QCoreApplication. Not for QGuiApplication/QApplication (see above).
void install_event_dispatcher();
// thread.setEventDispatcher(new EventDispatcher): call it before thread.start().
void install_event_dispatcher(QThread& thread);

}  // namespace qaio::qt
