// driver.h (private): the three Qt objects a QtEventLoop hands to Qt, living in the loop's thread.
//
// Driver is the QObject that receives the loop's coalesced dispatch event. The notifier (epoll fd
// readable) and the timer (earliest deadline) never run a batch themselves: they only post that
// event, so every batch runs from a posted event, which Qt delivers in nested event loops too
// (DESIGN rule 3: a QTimer's slot is not re-entered while it runs).
#pragma once

#include <QEvent>
#include <QObject>
#include <QSocketNotifier>
#include <QTimer>

namespace qaio::qt {
class QtEventLoop;
}

namespace qaio::qt::detail {

class Driver : public QObject {
 public:
  Driver(QtEventLoop& loop, int epoll_fd);
  ~Driver() override;

  static QEvent::Type dispatch_event_type();

  QSocketNotifier notifier;
  QTimer timer;

 protected:
  bool event(QEvent* e) override;

 private:
  QtEventLoop& loop_;
};

}  // namespace qaio::qt::detail
