// driver.h (private): the three Qt objects a QtEventLoop hands to Qt, living in the loop's thread.
//
// Driver is the QObject that receives the loop's coalesced dispatch event. The notifier (epoll fd
// readable) runs a dispatch itself: Qt re-activates a QSocketNotifier inside nested Qt loops, so a
// callback that spins a modal dialog does not stop I/O. The timer (earliest deadline) only posts
// the dispatch event, because a QTimer is not re-activated while its own slot runs (DESIGN rule 3):
// a modal dialog opened from a batch run by the timer's slot would freeze every qaio timer.
#pragma once

#include <QEvent>
#include <QObject>
#include <QSocketNotifier>
#include <QTimer>
#include <memory>

#include "glib_poll.h"

namespace qaio::qt {
class QtEventLoop;
}

namespace qaio::qt::detail {

// The notifier on the epoll fd. It handles Qt's activation event itself instead of emitting
// activated(): QSocketNotifier::event() guards the emission with a QPointer and emits two signals,
// a measurable part of a one-connection echo request's user time under Qt.
class EpollNotifier : public QSocketNotifier {
 public:
  EpollNotifier(QtEventLoop& loop, int epoll_fd);

 protected:
  bool event(QEvent* e) override;

 private:
  QtEventLoop& loop_;
};

class Driver : public QObject {
 public:
  Driver(QtEventLoop& loop, int epoll_fd);
  ~Driver() override;

  static QEvent::Type dispatch_event_type();
  // Stops listening to the dispatcher's aboutToBlock()/awake(): the glib hook, once glib calls
  // it, notices nested Qt loops itself.
  void drop_iteration_signals();

  EpollNotifier notifier;
  QTimer timer;
  std::unique_ptr<GlibPollHook> glib_hook;  // null unless Qt's dispatcher is glib's

 protected:
  bool event(QEvent* e) override;

 private:
  QtEventLoop& loop_;
};

}  // namespace qaio::qt::detail
