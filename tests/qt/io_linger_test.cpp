// io_linger_test.cpp: QtEventLoop::set_io_linger under Qt's glib dispatcher. A dispatch that has
// run out of work keeps waiting in the loop's epoll set (which holds glib's fds too) for more
// I/O, so a stream of requests costs no Qt iteration each; these tests pin down that it does
// that, that Qt's own events (a posted event, a socket notifier, a QTimer) still end the wait at
// once, and that an idle loop sleeps.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QSocketNotifier>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "qaio/qt.h"
#include "qt_test_support.h"
#include "test_objects.h"

using qaio::qt::QtEventLoop;

namespace {

// Echoes every byte that arrives on `fd` through a qaio reader.
void echo(QtEventLoop& loop, int fd) {
  loop.add_reader(fd, [fd] {
    char c;
    if (::recv(fd, &c, 1, MSG_DONTWAIT) == 1) (void)::send(fd, &c, 1, 0);
  });
}

// Has a thread make `rounds` blocking one-byte round trips to the echo on the other end of
// `pair`, while this thread spins Qt; returns how many Qt iterations (processEvents calls)
// that took, or -1 if some byte came back wrong or the rounds did not finish in 20 s.
int qt_iterations_for_round_trips(QtEventLoop& loop, SocketPair& pair, int rounds) {
  echo(loop, pair.fd[0]);
  QtIterations iterations;
  QEventLoop q;
  std::atomic<bool> ok{true};
  std::thread client([&] {
    for (int i = 0; i < rounds && ok; ++i) {
      const char out = static_cast<char>('a' + i % 26);
      char in = 0;
      if (::send(pair.fd[1], &out, 1, 0) != 1 || ::recv(pair.fd[1], &in, 1, 0) != 1 || in != out) ok = false;
    }
    QMetaObject::invokeMethod(&q, &QEventLoop::quit, Qt::QueuedConnection);
  });
  const bool finished = spin_foreign(q, 20000);
  client.join();
  loop.remove_reader(pair.fd[0]);
  return finished && ok ? iterations.count() : -1;
}

// A loop that lingers (with a slice long enough to let it) and records, for each byte that
// arrives on io.fd[0] through a qaio reader, how many Qt iterations had begun by then: two bytes
// served in the same iteration show that the dispatch lingered between them. The tests write to
// io.fd[1].
struct LingeringLoop {
  QtEventLoop loop;
  SocketPair io{0};  // blocking: the tests' threads block on their end; the reader uses MSG_DONTWAIT
  QtIterations iterations;
  std::vector<int> served_in;    // the iteration each byte was served in
  LingeringLoop(double slice, double linger) {
    loop.set_time_slice(slice);
    loop.set_io_linger(linger);
    loop.add_reader(io.fd[0], [this] {
      char c;
      if (::recv(io.fd[0], &c, 1, MSG_DONTWAIT) == 1) served_in.push_back(iterations.count());
    });
  }
  // Sends one byte, then another 30 ms later, from the calling (test) thread.
  void two_bytes_apart() {
    (void)::send(io.fd[1], "x", 1, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    (void)::send(io.fd[1], "x", 1, 0);
  }
  // Sends them from a thread of its own 50 ms from now, once Qt is waiting (a wait with a zero
  // timeout, for a pending posted event, allows no linger).
  std::thread two_bytes_soon() {
    return std::thread([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      two_bytes_apart();
    });
  }
  // Whether bytes i and i + 1 were served with no Qt iteration in between: the dispatch lingered.
  bool lingered_between(std::size_t i) const {
    return served_in.size() > i + 1 && served_in[i] == served_in[i + 1];
  }
  ~LingeringLoop() {
    loop.remove_reader(io.fd[0]);
    loop.close();
  }
};

}  // namespace

TEST(IoLinger, RejectsNegativeAndNonFiniteValues) {
  QtEventLoop loop;
  EXPECT_EQ(loop.io_linger(), 0.0);
  EXPECT_THROW(loop.set_io_linger(-0.001), std::invalid_argument);
  EXPECT_THROW(loop.set_io_linger(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_THROW(loop.set_io_linger(std::numeric_limits<double>::infinity()), std::invalid_argument);
  loop.set_io_linger(0.002);
  EXPECT_EQ(loop.io_linger(), 0.002);
  loop.close();
}

// Without the linger every request is a Qt iteration (the client is another thread, so the next
// byte comes after the dispatch has returned); with it, most requests are served by a dispatch
// that is still waiting.
TEST(IoLinger, RequestsAreServedWithoutAQtIterationEach) {
  ASSERT_TRUE(glib_dispatcher()) << "this test needs Qt's glib dispatcher";
  constexpr int kRounds = 300;
  QtEventLoop loop;
  loop.set_time_slice(1.0);  // so that a slow machine does not end the slices first
  SocketPair plain_pair(0);  // blocking: the client thread blocks on its end
  const int plain = qt_iterations_for_round_trips(loop, plain_pair, kRounds);
  loop.set_io_linger(0.05);
  SocketPair linger_pair(0);
  const int lingering = qt_iterations_for_round_trips(loop, linger_pair, kRounds);
  ASSERT_GE(plain, 0) << "the round trips without the linger failed";
  ASSERT_GE(lingering, 0) << "the round trips with the linger failed";
  std::printf("[ figures  ] %d round trips: %d Qt iterations without the linger, %d with it\n", kRounds, plain,
              lingering);
  EXPECT_GE(plain, kRounds / 2);
  EXPECT_LT(lingering, kRounds / 4);
  loop.close();
}

// While a dispatch lingers (up to a second: the time slice is raised to let it), Qt's own events
// get through at once: a posted event from another thread, and a socket notifier. Each arrives
// while a dispatch is shown to be lingering (two bytes served in one Qt iteration just before).
TEST(IoLinger, QtEventsEndTheWait) {
  ASSERT_TRUE(glib_dispatcher()) << "this test needs Qt's glib dispatcher";
  LingeringLoop lingering(2.0, 1.0);
  SocketPair qt_side(0);
  QElapsedTimer clock;
  clock.start();
  qint64 posted_ran = -1, notified = -1;
  QEventLoop q;
  QSocketNotifier notifier(qt_side.fd[0], QSocketNotifier::Read);
  QObject::connect(&notifier, &QSocketNotifier::activated, [&] {
    char c;
    (void)::recv(qt_side.fd[0], &c, 1, MSG_DONTWAIT);
    if (notified < 0) notified = clock.elapsed();
    q.quit();
  });
  std::atomic<qint64> posted_at{-1}, written_at{-1};
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    lingering.two_bytes_apart();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    posted_at = clock.elapsed();
    QMetaObject::invokeMethod(
        &q, [&] { posted_ran = clock.elapsed(); }, Qt::QueuedConnection);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    lingering.two_bytes_apart();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    written_at = clock.elapsed();
    (void)::send(qt_side.fd[1], "z", 1, 0);
  });
  const bool finished = spin_foreign(q, 5000);
  other.join();
  ASSERT_TRUE(finished) << "the socket notifier never fired";
  ASSERT_EQ(lingering.served_in.size(), 4u);
  EXPECT_TRUE(lingering.lingered_between(0)) << "no linger before the posted event";
  EXPECT_TRUE(lingering.lingered_between(2)) << "no linger before the notifier's byte";
  // A linger that ignored them would hold each for up to a second.
  EXPECT_GE(posted_ran, 0);
  EXPECT_LT(posted_ran - posted_at, 400) << "the posted event waited for the linger";
  EXPECT_LT(notified - written_at, 400) << "the socket notifier waited for the linger";
}

// After a request, a lingering dispatch sleeps in the loop's set (no spinning), and once its
// alarm ends the linger the loop is back to one Qt wait: an idle loop does not keep waking.
TEST(IoLinger, AnIdleLoopSleeps) {
  ASSERT_TRUE(glib_dispatcher()) << "this test needs Qt's glib dispatcher";
  LingeringLoop lingering(1.0, 0.2);
  std::thread client = lingering.two_bytes_soon();
  const int iterations_before = lingering.iterations.count();
  const double cpu = idle_spin_cpu(600);
  client.join();
  ASSERT_EQ(lingering.served_in.size(), 2u);
  EXPECT_TRUE(lingering.lingered_between(0)) << "the dispatch did not linger";
  EXPECT_LT(cpu, 0.15) << "the loop spun while it lingered or after";
  EXPECT_LT(lingering.iterations.count() - iterations_before, 20) << "the loop kept waking up";
}

// glib's own timeout bounds a linger: a QTimer started before the I/O arrived fires on time
// although nothing else wakes glib.
TEST(IoLinger, AQtTimerDueEndsTheWait) {
  ASSERT_TRUE(glib_dispatcher()) << "this test needs Qt's glib dispatcher";
  LingeringLoop lingering(2.0, 1.0);
  QElapsedTimer clock;
  clock.start();
  qint64 timer_fired = -1;
  QEventLoop q;
  QTimer::singleShot(300, [&] {
    timer_fired = clock.elapsed();
    q.quit();
  });
  std::thread client = lingering.two_bytes_soon();
  const bool finished = spin_foreign(q, 5000);
  client.join();
  ASSERT_TRUE(finished);
  ASSERT_EQ(lingering.served_in.size(), 2u);
  EXPECT_TRUE(lingering.lingered_between(0)) << "the dispatch did not linger";
  EXPECT_GE(timer_fired, 290);
  EXPECT_LT(timer_fired, 300 + 250) << "the QTimer waited for the linger";
}

// The time slice bounds a linger: with a 20 ms slice, a byte 30 ms after the first is served by a
// new Qt iteration although the linger is a second.
TEST(IoLinger, TheTimeSliceEndsTheWait) {
  ASSERT_TRUE(glib_dispatcher()) << "this test needs Qt's glib dispatcher";
  LingeringLoop lingering(0.02, 1.0);
  std::thread client = lingering.two_bytes_soon();
  const double cpu = idle_spin_cpu(300);
  client.join();
  ASSERT_EQ(lingering.served_in.size(), 2u);
  EXPECT_FALSE(lingering.lingered_between(0)) << "the linger outlasted the time slice";
  EXPECT_LT(cpu, 0.15);
}

// Only the loop that holds the thread's glib hook can linger: a second loop's set does not hold
// glib's fds, so waiting in it would keep Qt's events waiting. Its linger is accepted and has no
// effect: every request is a Qt iteration, as without it. (The first loop, which does linger, is
// RequestsAreServedWithoutAQtIterationEach.)
TEST(IoLinger, ASecondLoopInTheThreadDoesNotLinger) {
  ASSERT_TRUE(glib_dispatcher()) << "this test needs Qt's glib dispatcher";
  constexpr int kRounds = 300;
  QtEventLoop first;  // takes the thread's hook
  QtEventLoop second;
  second.set_time_slice(1.0);
  second.set_io_linger(0.05);
  EXPECT_EQ(second.io_linger(), 0.05);
  SocketPair pair(0);
  const int iterations = qt_iterations_for_round_trips(second, pair, kRounds);
  ASSERT_GE(iterations, 0) << "the round trips failed";
  EXPECT_GE(iterations, kRounds / 2) << "the second loop lingered without glib's fds in its set";
  second.close();
  first.close();
}
