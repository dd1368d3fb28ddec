// qt_test_support.h: what several Qt test files need besides QObjects (test_objects.h): a socket
// pair, the kind of this thread's Qt dispatcher, a count of its Qt iterations, the thread's CPU
// time and an idle Qt spin that measures it (a loop that keeps waking shows up as CPU time).
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QAbstractEventDispatcher>
#include <QEventLoop>
#include <QTimer>

#include <ctime>
#include <utility>

// A connected pair of Unix stream sockets, closed when it goes (non-blocking unless told).
struct SocketPair {
  int fd[2] = {-1, -1};
  explicit SocketPair(int flags = SOCK_NONBLOCK) {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, fd), 0);
  }
  ~SocketPair() { close(); }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  void close() {
    for (int& f : fd)
      if (f >= 0) ::close(std::exchange(f, -1));
  }
};

// Whether this thread's Qt event dispatcher is Qt's glib one (the glib poll hook's home).
inline bool glib_dispatcher() {
  QAbstractEventDispatcher* dispatcher = QAbstractEventDispatcher::instance();
  return dispatcher && dispatcher->inherits("QEventDispatcherGlib");
}

// Counts this thread's Qt iterations (awake() of its event dispatcher: one per processEvents()
// call) while it lives.
class QtIterations {
 public:
  QtIterations() {
    QObject::connect(QAbstractEventDispatcher::instance(), &QAbstractEventDispatcher::awake, &receiver_,
                     [this] { ++count_; });
  }
  QtIterations(const QtIterations&) = delete;
  QtIterations& operator=(const QtIterations&) = delete;
  int count() const noexcept { return count_; }

 private:
  int count_ = 0;
  QObject receiver_;
};

inline double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Spins a Qt loop with nothing to do for `ms` and returns the CPU time this thread used meanwhile:
// near zero unless something keeps waking it.
inline double idle_spin_cpu(int ms) {
  const double start = thread_cpu_seconds();
  QEventLoop idle;
  QTimer::singleShot(ms, &idle, &QEventLoop::quit);
  idle.exec();
  return thread_cpu_seconds() - start;
}
