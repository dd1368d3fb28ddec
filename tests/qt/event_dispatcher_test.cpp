// event_dispatcher_test.cpp: qaio::qt::EventDispatcher as Qt's dispatcher of a QCoreApplication
// (installed by main() below, before the application) and of worker QThreads. First what any Qt
// dispatcher owes Qt (timers, socket notifiers, posted events, wakeUp/interrupt, flags, nested
// loops, Qt Network), then the point of it: a QtEventLoop driven directly by it.
//
// Run with --gui-child, the binary instead creates a QGuiApplication on the dispatcher and must
// die with a clear message at its first processEvents() (GuiApplicationIsRefusedLoudly).
#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QGuiApplication>
#include <QPointer>
#include <QProcess>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "qaio/qt.h"
#include "qt_test_support.h"
#include "vector_state_check.h"

using qaio::qt::EventDispatcher;
using qaio::qt::QtEventLoop;

namespace {

EventDispatcher* own_dispatcher() { return dynamic_cast<EventDispatcher*>(QAbstractEventDispatcher::instance()); }

// Spins Qt, blocking in the dispatcher, until `done()` or `ms` pass (generous: the tests never
// assert timing below it). A 10 ms ticker bounds each wait.
template <class Pred>
bool spin_until(Pred done, int ms = 5000) {
  QElapsedTimer t;
  t.start();
  QTimer ticker;
  ticker.start(10);
  while (!done()) {
    if (t.elapsed() > ms) return false;
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
  }
  return true;
}

class TimerCounter : public QObject {
 public:
  int fired = 0;
  std::vector<int> ids;

 protected:
  void timerEvent(QTimerEvent* e) override {
    ++fired;
    ids.push_back(e->timerId());
  }
};

}  // namespace

// ---- Qt's side ------------------------------------------------------------------------------------

TEST(EventDispatcher, IsInstalledForTheApplication) {
  ASSERT_NE(own_dispatcher(), nullptr) << "main() installs qaio's dispatcher before the application";
}

// As on Qt's dispatcher (vector_state_test.cpp): qaio's dispatcher clears a dirty upper state too.
TEST(EventDispatcher, CallbacksRunWithCleanUpperHalvesAfterQtDirtiedThem) { expect_callbacks_see_clean_upper_state(); }

TEST(EventDispatcher, SingleShotRepeatingAndZeroTimers) {
  int single = 0, repeating = 0, zero = 0;
  QTimer::singleShot(5, [&] { ++single; });
  QTimer rep;
  rep.setInterval(2);
  QObject::connect(&rep, &QTimer::timeout, [&] {
    if (++repeating == 5) rep.stop();
  });
  rep.start();
  QTimer z;
  z.setInterval(0);
  QObject::connect(&z, &QTimer::timeout, [&] {
    if (++zero == 100) z.stop();
  });
  z.start();
  ASSERT_TRUE(spin_until([&] { return single == 1 && repeating == 5 && zero == 100; }))
      << single << " " << repeating << " " << zero;
  // Nothing fires once stopped.
  QTimer::singleShot(30, [] {});
  spin_until([] { return false; }, 40);
  EXPECT_EQ(single, 1);
  EXPECT_EQ(repeating, 5);
  EXPECT_EQ(zero, 100);
}

TEST(EventDispatcher, TimerOrderElapsedTimeAndRemainingTime) {
  std::string order;
  QElapsedTimer clock;
  clock.start();
  qint64 fired_at = -1;
  QTimer::singleShot(40, Qt::PreciseTimer, [&] {
    order += "b";
    fired_at = clock.elapsed();
  });
  QTimer::singleShot(10, [&] { order += "a"; });
  QTimer probe;
  probe.setSingleShot(true);
  probe.start(1000);
  const int left = probe.remainingTime();
  EXPECT_GT(left, 900);
  EXPECT_LE(left, 1000);
  auto* d = own_dispatcher();
  EXPECT_EQ(d->remainingTime(probe.timerId()), probe.remainingTime());
  EXPECT_EQ(d->remainingTime(987654), -1);
  ASSERT_TRUE(spin_until([&] { return order.size() == 2; }));
  EXPECT_EQ(order, "ab");
  EXPECT_GE(fired_at, 40) << "a timer fired early";
  probe.stop();
  EXPECT_EQ(probe.remainingTime(), -1);
}

TEST(EventDispatcher, RegisteredTimersAndUnregisterTimers) {
  TimerCounter obj;
  const int a = obj.startTimer(1000);
  const int b = obj.startTimer(2000, Qt::CoarseTimer);
  auto* d = own_dispatcher();
  auto list = d->registeredTimers(&obj);
  ASSERT_EQ(list.size(), 2);
  std::vector<int> ids{list[0].timerId, list[1].timerId};
  std::sort(ids.begin(), ids.end());
  std::vector<int> want{a, b};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
  EXPECT_TRUE(d->unregisterTimers(&obj));
  EXPECT_TRUE(d->registeredTimers(&obj).isEmpty());
  EXPECT_FALSE(d->unregisterTimers(&obj));
  // The ids are Qt's to release: QObject::killTimer on an id the dispatcher forgot is harmless.
  obj.killTimer(a);
  obj.killTimer(b);
}

TEST(EventDispatcher, StopInsideTheSlotAndDeleteTheObject) {
  int fired = 0;
  auto* t = new QTimer;
  t->setInterval(1);
  QObject::connect(t, &QTimer::timeout, [&] {
    ++fired;
    t->stop();
    delete t;  // the dispatcher must not touch the timer after this
  });
  t->start();
  int other = 0;
  QTimer::singleShot(30, [&] { ++other; });
  ASSERT_TRUE(spin_until([&] { return other == 1; }));
  EXPECT_EQ(fired, 1);
}

TEST(EventDispatcher, TimerDoesNotReenterItsOwnSlotInANestedLoop) {
  // As Qt's dispatchers: a timer whose slot runs a nested loop does not fire again in it, while
  // other timers do.
  int outer = 0, depth = 0, max_depth = 0, others = 0;
  QTimer rep;
  rep.setInterval(1);
  QObject::connect(&rep, &QTimer::timeout, [&] {
    ++outer;
    max_depth = std::max(max_depth, ++depth);
    if (outer == 1) {
      QEventLoop nested;
      QTimer other;
      other.setInterval(2);
      QObject::connect(&other, &QTimer::timeout, [&] {
        if (++others == 10) nested.quit();
      });
      other.start();
      nested.exec();
    }
    --depth;
    if (outer == 3) rep.stop();
  });
  rep.start();
  ASSERT_TRUE(spin_until([&] { return outer == 3; }));
  EXPECT_EQ(max_depth, 1) << "the repeating timer re-entered its own slot";
  EXPECT_EQ(others, 10);
}

TEST(EventDispatcher, SocketNotifiersReadWriteAndTwoOnOneFd) {
  SocketPair sp;
  QSocketNotifier readable(sp.fd[0], QSocketNotifier::Read);
  QSocketNotifier writable(sp.fd[0], QSocketNotifier::Write);
  int reads = 0, writes = 0;
  std::string got;
  QObject::connect(&readable, &QSocketNotifier::activated, [&] {
    ++reads;
    char buf[64];
    ssize_t n = ::read(sp.fd[0], buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
  });
  QObject::connect(&writable, &QSocketNotifier::activated, [&] {
    ++writes;
    writable.setEnabled(false);  // from inside its own activation
  });
  ASSERT_TRUE(spin_until([&] { return writes == 1; }));
  EXPECT_EQ(reads, 0) << "nothing was written yet";
  ASSERT_EQ(::write(sp.fd[1], "ping", 4), 4);
  ASSERT_TRUE(spin_until([&] { return got == "ping"; }));
  EXPECT_EQ(writes, 1) << "a disabled notifier fired";
  // Disabled: data waits; re-enabled: delivered.
  readable.setEnabled(false);
  ASSERT_EQ(::write(sp.fd[1], "pong", 4), 4);
  spin_until([] { return false; }, 30);
  EXPECT_EQ(got, "ping");
  readable.setEnabled(true);
  ASSERT_TRUE(spin_until([&] { return got == "pingpong"; }));
  // The peer hangs up: the read notifier sees it (EOF read).
  ::close(sp.fd[1]);
  sp.fd[1] = -1;
  const int before = reads;
  ASSERT_TRUE(spin_until([&] { return reads > before; }));
}

TEST(EventDispatcher, NotifierDeletedByAnEarlierActivationOfTheSameWakeup) {
  SocketPair a, b;
  auto* na = new QSocketNotifier(a.fd[0], QSocketNotifier::Read);
  auto* nb = new QSocketNotifier(b.fd[0], QSocketNotifier::Read);
  int fired = 0;
  // Whichever fires first deletes the other; the dispatcher must not deliver to a dead one.
  QObject::connect(na, &QSocketNotifier::activated, [&] {
    ++fired;
    delete nb;
    nb = nullptr;
    na->setEnabled(false);
  });
  QObject::connect(nb, &QSocketNotifier::activated, [&] {
    ++fired;
    delete na;
    na = nullptr;
    nb->setEnabled(false);
  });
  ASSERT_EQ(::write(a.fd[1], "x", 1), 1);
  ASSERT_EQ(::write(b.fd[1], "x", 1), 1);
  ASSERT_TRUE(spin_until([&] { return fired >= 1; }));
  spin_until([] { return false; }, 20);
  EXPECT_EQ(fired, 1);
  delete na;
  delete nb;
}

TEST(EventDispatcher, PostedEventsAndCrossThreadPostsWakeABlockedLoop) {
  QEventLoop loop;
  int local = 0, remote = 0;
  QMetaObject::invokeMethod(&loop, [&] { ++local; }, Qt::QueuedConnection);
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    QMetaObject::invokeMethod(&loop, [&] {
      ++remote;
      loop.quit();
    }, Qt::QueuedConnection);
  });
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, &loop, [&] { loop.exit(1); });
  guard.start(5000);
  const int rc = loop.exec();  // blocks with nothing due: only the other thread's post wakes it
  poster.join();
  EXPECT_EQ(rc, 0) << "the cross-thread post never woke the dispatcher";
  EXPECT_EQ(local, 1);
  EXPECT_EQ(remote, 1);
}

TEST(EventDispatcher, WakeUpAndInterruptFromAnotherThread) {
  auto* d = own_dispatcher();
  std::atomic<bool> woken{false};
  std::thread t([d, &woken] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    woken = true;
    d->wakeUp();
  });
  // Nothing else is due for 3 s: only wakeUp() can end these waits sooner (leftovers of earlier
  // tests may end the first ones).
  QTimer guard;
  guard.setSingleShot(true);
  guard.start(3000);
  QElapsedTimer clock;
  clock.start();
  while (!woken.load() && guard.isActive()) QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
  t.join();
  EXPECT_LT(clock.elapsed(), 2000) << "wakeUp() from another thread did not end the wait";

  QEventLoop loop;
  std::thread quitter([&loop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop.quit();  // QEventLoop::exit from another thread: interrupt()
  });
  QTimer exit_guard;
  exit_guard.setSingleShot(true);
  QObject::connect(&exit_guard, &QTimer::timeout, &loop, [&] { loop.exit(1); });
  exit_guard.start(5000);
  EXPECT_EQ(loop.exec(), 0) << "QEventLoop::quit() from another thread did not interrupt the wait";
  quitter.join();
}

TEST(EventDispatcher, ProcessEventsWithoutWaitingReturnsAndFlagsAreHonoured) {
  QElapsedTimer clock;
  clock.start();
  for (int i = 0; i < 100; ++i) QCoreApplication::processEvents();
  EXPECT_LT(clock.elapsed(), 2000) << "processEvents() without WaitForMoreEvents blocked";
  // ExcludeSocketNotifiers: a ready notifier is neither activated nor spun on.
  SocketPair sp;
  QSocketNotifier readable(sp.fd[0], QSocketNotifier::Read);
  int reads = 0;
  QObject::connect(&readable, &QSocketNotifier::activated, [&] {
    ++reads;
    char buf[8];
    (void)::read(sp.fd[0], buf, sizeof buf);
  });
  ASSERT_EQ(::write(sp.fd[1], "x", 1), 1);
  int timer_fired = 0;
  QTimer::singleShot(20, [&] { ++timer_fired; });
  QElapsedTimer c2;
  c2.start();
  while (timer_fired == 0 && c2.elapsed() < 5000)
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents | QEventLoop::ExcludeSocketNotifiers);
  EXPECT_EQ(timer_fired, 1);
  EXPECT_EQ(reads, 0);
  ASSERT_TRUE(spin_until([&] { return reads == 1; }));
}

TEST(EventDispatcher, AboutToBlockAndAwakeAreEmitted) {
  auto* d = own_dispatcher();
  int blocks = 0, wakes = 0;
  auto c1 = QObject::connect(d, &QAbstractEventDispatcher::aboutToBlock, [&] { ++blocks; });
  auto c2 = QObject::connect(d, &QAbstractEventDispatcher::awake, [&] { ++wakes; });
  int fired = 0;
  QTimer::singleShot(10, [&] { ++fired; });
  ASSERT_TRUE(spin_until([&] { return fired == 1; }));
  QObject::disconnect(c1);
  QObject::disconnect(c2);
  EXPECT_GE(blocks, 1);
  EXPECT_GE(wakes, 1);
}

TEST(EventDispatcher, QtNetworkEchoOverQTcpServerAndQTcpSocket) {
  QTcpServer server;
  ASSERT_TRUE(server.listen(QHostAddress::LocalHost, 0));
  QObject::connect(&server, &QTcpServer::newConnection, [&] {
    QTcpSocket* peer = server.nextPendingConnection();
    QObject::connect(peer, &QTcpSocket::readyRead, [peer] { peer->write(peer->readAll()); });
    QObject::connect(peer, &QTcpSocket::disconnected, peer, &QObject::deleteLater);
  });
  QTcpSocket client;
  QByteArray got;
  QObject::connect(&client, &QTcpSocket::readyRead, [&] { got += client.readAll(); });
  client.connectToHost(QHostAddress::LocalHost, server.serverPort());
  ASSERT_TRUE(spin_until([&] { return client.state() == QAbstractSocket::ConnectedState; }));
  const QByteArray payload(100000, 'q');
  client.write(payload);
  ASSERT_TRUE(spin_until([&] { return got.size() >= payload.size(); })) << got.size();
  EXPECT_EQ(got, payload);
  client.disconnectFromHost();
  spin_until([&] { return client.state() == QAbstractSocket::UnconnectedState; });
}

namespace {
// A worker thread that only uses Qt: timers, a posted call, a QtEventLoop with a task.
class Worker : public QThread {
 public:
  std::atomic<int> qt_timers{0};
  std::atomic<bool> was_ours{false};
  std::atomic<bool> attached{false};
  std::atomic<int> task_result{0};

 protected:
  void run() override {
    was_ours = own_dispatcher() != nullptr;
    QEventLoop loop;
    QTimer rep;
    rep.setInterval(2);
    QObject::connect(&rep, &QTimer::timeout, [&] {
      if (++qt_timers == 5) {
        rep.stop();
        loop.quit();
      }
    });
    rep.start();
    loop.exec();
    QtEventLoop qloop;
    attached = own_dispatcher() && own_dispatcher()->attached_loop() == &qloop;
    task_result = qloop.run_until_complete([]() -> qaio::Coro<int> {
      co_await qaio::sleep(0.005);
      co_return 42;
    }());
    qaio::qt::shutdown(qloop);
  }
};
}  // namespace

TEST(EventDispatcher, WorkerQThread) {
  Worker worker;
  qaio::qt::install_event_dispatcher(worker);
  worker.start();
  ASSERT_TRUE(worker.wait(10000));
  EXPECT_TRUE(worker.was_ours);
  EXPECT_EQ(worker.qt_timers.load(), 5);
  EXPECT_TRUE(worker.attached);
  EXPECT_EQ(worker.task_result.load(), 42);
}

TEST(EventDispatcher, DeferredDeleteFromANestedLoopHappensAfterItReturns) {
  // deleteLater() called just before a slot spins a nested loop belongs to the outer loop: the
  // nested loop's sendPostedEvents() re-queues it without a wakeUp(), so once the nested loop has
  // returned the dispatcher must look at the posted events again (the nested loop's exit()
  // interrupts the dispatcher, and the nested processEvents() call's return asks for a look).
  QPointer<QObject> doomed = new QObject;
  bool nested_ran = false;
  QTimer::singleShot(1, [&] {
    doomed->deleteLater();
    QEventLoop nested;
    QTimer::singleShot(20, &nested, &QEventLoop::quit);
    nested.exec();
    nested_ran = true;
    EXPECT_FALSE(doomed.isNull()) << "deleted inside the nested loop that posted it";
  });
  ASSERT_TRUE(spin_until([&] { return nested_ran; }));
  // No wakeUp() follows: only the processEvents() calls of spin_until's 10 ms ticker.
  EXPECT_TRUE(spin_until([&] { return doomed.isNull(); }, 2000)) << "the deferred delete was left queued";
}

// ---- the QtEventLoop driven by it ---------------------------------------------------------------

TEST(EventDispatcherLoop, AttachesAndRunsCallbacksTimersAndTasks) {
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop) << "the loop took the ordinary notifier path";
  std::string trace;
  loop.call_soon([&] { trace += "soon "; });
  loop.call_later(0.01, [&] { trace += "later "; });
  auto task = loop.create_task([](std::string* t) -> qaio::Coro<int> {
    co_await qaio::sleep(0.02);
    *t += "task ";
    co_return 7;
  }(&trace));
  EXPECT_EQ(loop.run_until_complete(task), 7);
  EXPECT_EQ(trace, "soon later task ");
  loop.close();
  EXPECT_EQ(own_dispatcher()->attached_loop(), nullptr) << "close() must detach the loop";
}

TEST(EventDispatcherLoop, ReaderAndQtTimersShareTheWait) {
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  SocketPair sp;
  std::string got;
  loop.add_reader(sp.fd[0], [&] {
    char buf[16];
    ssize_t n = ::read(sp.fd[0], buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (got == "abc") loop.stop();
  });
  // A Qt timer writes; a Qt notifier on another pair and a qaio timer run meanwhile.
  QTimer::singleShot(10, [&] { ASSERT_EQ(::write(sp.fd[1], "abc", 3), 3); });
  SocketPair other;
  QSocketNotifier n(other.fd[0], QSocketNotifier::Read);
  int notified = 0;
  QObject::connect(&n, &QSocketNotifier::activated, [&] {
    ++notified;
    char buf[8];
    (void)::read(other.fd[0], buf, sizeof buf);
  });
  ASSERT_EQ(::write(other.fd[1], "z", 1), 1);
  bool qaio_timer = false;
  loop.call_later(0.005, [&] { qaio_timer = true; });
  loop.call_later(5.0, [&] { loop.stop(); });  // guard
  loop.run_forever();
  EXPECT_EQ(got, "abc");
  EXPECT_TRUE(qaio_timer);
  EXPECT_EQ(notified, 1);
  loop.remove_reader(sp.fd[0]);
  loop.close();
}

// Runs `loop` while another thread, 20 ms in (so the loop is blocked in its wait), calls
// `post(done)`, which must get `done` run on the loop's thread; true if it was. A 5 s timer stops
// a loop that never wakes instead of hanging.
static bool woken_from_another_thread(QtEventLoop& loop,
                                      const std::function<void(std::function<void()>)>& post) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    post([&] {
      done = true;
      loop.stop();
    });
  });
  loop.call_later(5.0, [&] { loop.stop(); });
  loop.run_forever();
  t.join();
  return done.load();
}

TEST(EventDispatcherLoop, ThreadsafeCallsWakeTheBlockedWait) {
  QtEventLoop loop;
  EXPECT_TRUE(woken_from_another_thread(loop, [&](std::function<void()> done) {
    loop.call_soon_threadsafe(std::move(done));
  }));
  loop.close();
}

TEST(EventDispatcherLoop, CrossThreadQtPostWakesTheLoopsWait) {
  // The attached loop blocks in its own epoll set; a Qt event posted from another thread reaches
  // the dispatcher's eventfd through it.
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  QObject receiver;
  EXPECT_TRUE(woken_from_another_thread(loop, [&](std::function<void()> done) {
    QMetaObject::invokeMethod(&receiver, std::move(done), Qt::QueuedConnection);
  }));
  loop.close();
}

TEST(EventDispatcherLoop, QtNotifierFiresWhileTheLoopWaits) {
  // A QSocketNotifier's fd lives in the dispatcher's own set, which sits in the loop's set: data
  // arriving while the loop blocks must wake it and reach the notifier.
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  SocketPair sp;
  QSocketNotifier n(sp.fd[0], QSocketNotifier::Read);
  std::string got;
  QObject::connect(&n, &QSocketNotifier::activated, [&] {
    char buf[8];
    ssize_t r = ::read(sp.fd[0], buf, sizeof buf);
    if (r > 0) got.append(buf, static_cast<std::size_t>(r));
    loop.stop();
  });
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(::write(sp.fd[1], "n", 1), 1);
  });
  loop.call_later(5.0, [&] { loop.stop(); });  // guard
  loop.run_forever();
  writer.join();
  EXPECT_EQ(got, "n");
  loop.close();
}

TEST(EventDispatcherLoop, ExcludeSocketNotifiersStillRunsTheLoopsTimersWithoutSpinning) {
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  bool fired = false;
  loop.call_later(0.03, [&] { fired = true; });
  int calls = 0;
  QElapsedTimer clock;
  clock.start();
  while (!fired && clock.elapsed() < 5000) {
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents | QEventLoop::ExcludeSocketNotifiers);
    ++calls;
  }
  EXPECT_TRUE(fired);
  EXPECT_LT(calls, 50) << "processEvents() spun instead of waiting for the loop's timer";
  loop.close();
}

TEST(EventDispatcherLoop, CallbackFloodDoesNotStarveQtTimers) {
  // DESIGN rule 4 on this dispatcher too: the loop returns to Qt after each time slice.
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  int qt_ticks = 0;
  QTimer ticker;
  QObject::connect(&ticker, &QTimer::timeout, [&] { ++qt_ticks; });
  ticker.start(5);
  std::function<void()> chain = [&] { loop.call_soon(chain); };
  loop.call_soon(chain);
  loop.call_later(0.3, [&] { loop.stop(); });
  loop.run_forever();
  // About 60 in 300 ms; generous for sanitizers and a loaded machine.
  EXPECT_GE(qt_ticks, 10) << "a call_soon flood starved QTimer";
  loop.close();
}

namespace {
qaio::Coro<std::string> echo_round_trip(std::uint16_t port) {
  auto [reader, writer] = co_await qaio::open_connection("127.0.0.1", port);
  writer.write("hello over qaio\n");
  co_await writer.drain();
  std::string line = co_await reader.readline();
  writer.close();
  co_await writer.wait_closed();
  co_return line;
}
}  // namespace

TEST(EventDispatcherLoop, TcpEchoRoundTrip) {
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  qaio::set_event_loop(&loop);
  auto server = loop.run_until_complete(qaio::start_server(
      [](qaio::StreamReader r, qaio::StreamWriter w) -> qaio::Coro<void> {
        std::string line = co_await r.readline();
        w.write(line);
        co_await w.drain();
        w.close();
      },
      "127.0.0.1", 0));
  const std::uint16_t port = server->sockets().at(0).port();
  EXPECT_EQ(loop.run_until_complete(echo_round_trip(port)), "hello over qaio\n");
  server->close();
  loop.run_until_complete(server->wait_closed());
  qaio::qt::shutdown(loop);
}

TEST(EventDispatcherLoop, NestedQtLoopInACallbackKeepsEverythingRunning) {
  QtEventLoop loop;
  ASSERT_EQ(own_dispatcher()->attached_loop(), &loop);
  int qaio_ticks = 0, qt_ticks = 0;
  bool nested_done = false;
  // A qaio callback spins a QDialog-style nested loop; qaio timers, call_soon and Qt timers must
  // keep running inside it.
  loop.call_soon([&] {
    QEventLoop nested;
    std::function<void()> tick = [&] {
      if (++qaio_ticks < 5) {
        loop.call_later(0.002, tick);
      } else {
        nested.quit();
      }
    };
    loop.call_later(0.002, tick);
    QTimer qt;
    qt.setInterval(2);
    QObject::connect(&qt, &QTimer::timeout, [&] { ++qt_ticks; });
    qt.start();
    QTimer::singleShot(5000, &nested, [&] { nested.exit(1); });  // guard
    EXPECT_EQ(nested.exec(), 0) << "qaio timers stalled in the nested loop";
    nested_done = true;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(nested_done);
  EXPECT_EQ(qaio_ticks, 5);
  EXPECT_GE(qt_ticks, 1);
  loop.close();
}

TEST(EventDispatcherLoop, SecondLoopTakesTheOrdinaryPathAndBothWork) {
  QtEventLoop first;
  QtEventLoop second;
  EXPECT_EQ(own_dispatcher()->attached_loop(), &first);
  int a = 0, b = 0;
  first.call_later(0.01, [&] { ++a; });
  second.run_until_complete([](int* b) -> qaio::Coro<void> {
    co_await qaio::sleep(0.02);
    ++*b;
  }(&b));
  first.run_until_complete([]() -> qaio::Coro<void> { co_await qaio::sleep(0.02); }());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  second.close();
  first.close();
}

TEST(EventDispatcherLoop, QaioQtRunUnderAppExec) {
  QtEventLoop* seen = nullptr;
  const int rc = qaio::qt::run(*QCoreApplication::instance(), [](QtEventLoop** seen) -> qaio::Coro<int> {
    *seen = dynamic_cast<QtEventLoop*>(&qaio::get_running_loop());
    co_await qaio::sleep(0.01);
    co_return 5;
  }(&seen));
  EXPECT_EQ(rc, 5);
  EXPECT_NE(seen, nullptr);
}

// ---- the GUI boundary ---------------------------------------------------------------------------

TEST(EventDispatcher, GuiApplicationIsRefusedLoudly) {
  QProcess child;
  child.setProcessChannelMode(QProcess::MergedChannels);
  QStringList args{"--gui-child"};
  child.start(QCoreApplication::applicationFilePath(), args);
  ASSERT_TRUE(child.waitForFinished(20000));
  const QByteArray out = child.readAll();
  EXPECT_TRUE(child.exitStatus() == QProcess::CrashExit || child.exitCode() != 0);
  EXPECT_TRUE(out.contains("cannot run a QGuiApplication")) << out.toStdString();
}

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", qgetenv("QT_QPA_PLATFORM").isEmpty() ? "offscreen" : qgetenv("QT_QPA_PLATFORM"));
  if (argc > 1 && std::strcmp(argv[1], "--gui-child") == 0) {
    qaio::qt::install_event_dispatcher();
    QGuiApplication app(argc, argv);
    QCoreApplication::processEvents();  // must not get past this
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  qaio::qt::install_event_dispatcher();
  QCoreApplication app(argc, argv);
  return RUN_ALL_TESTS();
}
