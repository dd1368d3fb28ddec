// loop_test.cpp: QtEventLoop under Qt: dispatching under foreign and nested Qt loops, stop()
// scope, one running loop per thread, logging through QLoggingCategory "qaio", the policy,
// qaio::qt::run() including the quit-with-pending-tasks path, and wakeups from other threads. A
// nested Qt loop is spun both from a task step and from an fd reader the notifier dispatched.
// (Issue 3, items 1, 2, 3 and 7; DESIGN rules 1, 3, 6.)
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "qaio/qt.h"
#include "test_objects.h"

using qaio::qt::QtEventLoop;

namespace {

qaio::Coro<int> sleepy_sum(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) {
    co_await qaio::sleep(0.001);
    sum += i;
  }
  co_return sum;
}

}  // namespace

// Item 2: handles run whenever any Qt loop of the thread spins; inside them the loop is the
// running loop and the current task is known; between slices it is not running.
TEST(QtLoop, RunsUnderAForeignQtLoop) {
  QtEventLoop loop;
  QEventLoop foreign;
  bool saw_running = false, saw_running_loop = false, saw_task = false;
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("soon");
    saw_running = loop.is_running();
    saw_running_loop = &qaio::get_running_loop() == &loop;
  });
  loop.call_later(0.005, [&] { order.push_back("later"); });
  auto task = loop.create_task([](bool& seen, QEventLoop& q, std::vector<std::string>& ord) -> qaio::Coro<int> {
    seen = static_cast<bool>(qaio::current_task());
    int v = co_await sleepy_sum(5);
    co_await qaio::sleep(0.03);
    ord.push_back("task");
    q.quit();
    co_return v;
  }(saw_task, foreign, order));
  EXPECT_FALSE(loop.is_running());
  ASSERT_TRUE(spin_foreign(foreign));
  EXPECT_TRUE(saw_running);
  EXPECT_TRUE(saw_running_loop);
  EXPECT_TRUE(saw_task);
  EXPECT_TRUE(task.done());
  EXPECT_EQ(task.result(), 10);
  EXPECT_EQ(order, (std::vector<std::string>{"soon", "later", "task"}));
  EXPECT_FALSE(loop.is_running());
  EXPECT_THROW(qaio::get_running_loop(), qaio::RuntimeError);
}

// Item 2: stop() ends only run_forever's private QEventLoop; the enclosing Qt loop keeps going.
TEST(QtLoop, StopEndsOnlyThePrivateLoop) {
  QtEventLoop loop;
  QEventLoop outer;
  bool inner_returned = false, outer_still_running_after = false;
  QTimer::singleShot(0, [&] {
    loop.call_later(0.01, [&] { loop.stop(); });
    loop.run_forever();  // nested in `outer`
    inner_returned = true;
    QTimer::singleShot(30, [&] {
      outer_still_running_after = true;
      outer.quit();
    });
  });
  ASSERT_TRUE(spin_foreign(outer));
  EXPECT_TRUE(inner_returned);
  EXPECT_TRUE(outer_still_running_after);
}

// Item 2: run_until_complete called from a plain Qt slot nested inside app.exec() works, and a
// callback cannot nest it (asyncio's "already running").
TEST(QtLoop, RunUntilCompleteFromASlotAndNotFromACallback) {
  QtEventLoop loop;
  QEventLoop outer;
  int value = 0;
  bool nested_refused = false;
  QTimer::singleShot(0, [&] {
    value = loop.run_until_complete(sleepy_sum(4));
    loop.call_soon([&] {
      try {
        loop.run_until_complete(loop.create_future<int>());
      } catch (const qaio::RuntimeError&) {
        nested_refused = true;
      }
      outer.quit();
    });
  });
  ASSERT_TRUE(spin_foreign(outer));
  EXPECT_EQ(value, 6);
  EXPECT_TRUE(nested_refused);
}

// Item 3 without widgets: a task step spins a nested QEventLoop (what QDialog::exec does). Other
// tasks, timers and fd readers keep running inside it; the task is never entered twice; a cancel
// requested meanwhile reaches it at its next co_await after the nested loop returns.
TEST(QtLoop, NestedQtLoopInsideATaskStep) {
  QtEventLoop loop;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::string received;
  int other_steps = 0;
  bool timer_fired_inside = false, cancelled_after = false;
  QEventLoop* nested_ptr = nullptr;
  qaio::Task<int> opener;

  auto other = loop.create_task([](int& steps) -> qaio::Coro<void> {
    for (int i = 0; i < 50; ++i) {
      co_await qaio::sleep(0.001);
      ++steps;
    }
  }(other_steps));
  loop.add_reader(sv[0], [&] {
    char buf[64];
    ssize_t n = ::read(sv[0], buf, sizeof buf);
    if (n > 0) received.append(buf, static_cast<std::size_t>(n));
  });
  opener = loop.create_task([](QEventLoop*& slot, bool& cancelled) -> qaio::Coro<int> {
    QEventLoop nested;
    slot = &nested;
    int rc = nested.exec();  // blocks this step; the loop keeps dispatching from inside
    slot = nullptr;
    try {
      co_await qaio::sleep(0);
    } catch (const qaio::CancelledError&) {
      cancelled = true;
      throw;
    }
    co_return rc;
  }(nested_ptr, cancelled_after));
  loop.call_later(0.02, [&] {
    timer_fired_inside = nested_ptr != nullptr;
    ASSERT_EQ(::write(sv[1], "hello", 5), 5);
  });
  // The closer: once the other task and the reader are done, cancel the opener (it is running:
  // the request must wait) and end the nested loop.
  auto closer = loop.create_task([](qaio::Task<void> o, std::string& got, QEventLoop*& slot,
                                    qaio::Task<int> op) -> qaio::Coro<void> {
    co_await o;
    while (got.size() < 5) co_await qaio::sleep(0.001);
    EXPECT_NE(slot, nullptr);
    op.cancel();
    slot->exit(7);
  }(other, received, nested_ptr, opener));
  EXPECT_THROW(loop.run_until_complete(opener), qaio::CancelledError);
  loop.run_until_complete(closer);
  EXPECT_EQ(other_steps, 50);
  EXPECT_EQ(received, "hello");
  EXPECT_TRUE(timer_fired_inside);
  EXPECT_TRUE(cancelled_after);
  loop.remove_reader(sv[0]);
  ::close(sv[0]);
  ::close(sv[1]);
}

namespace {
// Which Qt event was being delivered last, at the outermost level (application event filter).
// An I/O dispatch runs inside the QSocketNotifier's SockAct event; the timer path arrives as the
// loop's own posted event type instead.
class LastEvent : public QObject {
 public:
  LastEvent() { QCoreApplication::instance()->installEventFilter(this); }
  ~LastEvent() override { QCoreApplication::instance()->removeEventFilter(this); }
  QEvent::Type type = QEvent::None;

 protected:
  bool eventFilter(QObject*, QEvent* e) override {
    type = e->type();
    return false;
  }
};
}  // namespace

// The notifier path: an fd reader whose dispatch ran straight from the QSocketNotifier (not from
// the timer or the posted event) spins a nested Qt loop, as a modal dialog would. Nothing was
// pending when the fd became readable, so everything the callback schedules before exec() (a
// call_soon, a call_later, a task, a second reader) is left to aboutToBlock/awake to hand to the
// Qt timer, and the second reader needs Qt to re-activate the notifier whose event is still being
// handled. All of it must run inside the nested loop, in asyncio's order; after the nested loop
// quits, the outer dispatch returns normally and the first reader keeps being delivered, again
// from the notifier, along with later timers.
TEST(QtLoop, NestedQtLoopInsideAReaderDispatchedByTheNotifier) {
  QtEventLoop loop;
  // Datagram pairs: one read() is one message, so the trace does not depend on how writes merge.
  int a[2], b[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b), 0);
  struct Close {
    int* fds[2];
    ~Close() {
      for (int* p : fds) {
        ::close(p[0]);
        ::close(p[1]);
      }
    }
  } close_fds{{a, b}};

  LastEvent last_event;
  QEventLoop outer;
  QEventLoop nested;
  std::vector<std::string> order;
  std::vector<QEvent::Type> a_events;  // the Qt event under which each "a" delivery ran
  int depth = 0;                       // 1 while the nested loop spins
  bool all_inside = true, all_running = true, task_knew_itself = false;
  qaio::Future<> timer_fired = loop.create_future();
  qaio::Task<void> task;

  // Every qaio callback run while nested records itself and checks it really is nested and sees
  // a running loop (the dispatch of the nested loop, not of the outer one after it returned).
  auto inside = [&](const std::string& what) {
    order.push_back(what);
    all_inside = all_inside && depth == 1;
    all_running = all_running && loop.is_running();
  };
  auto send = [](int fd, const char* text) { return ::send(fd, text, std::strlen(text), 0) > 0; };

  loop.add_reader(b[0], [&] {
    char buf[32];
    const ssize_t n = ::recv(b[0], buf, sizeof buf, 0);
    if (n <= 0) return;
    inside("b:" + std::string(buf, static_cast<std::size_t>(n)));
    nested.quit();
  });
  loop.add_reader(a[0], [&] {
    char buf[32];
    const ssize_t n = ::recv(a[0], buf, sizeof buf, 0);
    if (n <= 0) return;
    const std::string msg(buf, static_cast<std::size_t>(n));
    order.push_back("a:" + msg);
    a_events.push_back(last_event.type);
    if (msg == "open") {
      loop.call_soon([&] { inside("soon"); });
      // Due well after the nested loop's first two iterations (soon and task:1, then task:2): a
      // 5 ms delay was already due at the first one when the machine stalled the test that long,
      // and asyncio then rightly runs "timer" before "task:2".
      loop.call_later(0.05, [&] {
        inside("timer");
        timer_fired.set_result();
      });
      task = loop.create_task([](std::function<void(const std::string&)> note, qaio::Future<> fired, int fd,
                                 bool& knew) -> qaio::Coro<void> {
        knew = static_cast<bool>(qaio::current_task());
        note("task:1");
        co_await qaio::sleep(0);
        note("task:2");
        co_await fired;
        note("task:3");
        ::send(fd, "ping", 4, 0);
      }(inside, timer_fired, b[1], task_knew_itself));
      ++depth;
      const int rc = nested.exec();
      --depth;
      order.push_back("nested returned " + std::to_string(rc));
      // Back in the outer dispatch: the same reader must be delivered again, from the notifier.
      send(a[1], "again");
    } else if (msg == "again") {
      // A timer scheduled by the outer dispatch after the nested loop: the Qt timer is armed
      // normally again. The last message is sent by a plain QTimer once qaio is idle, so only
      // the notifier can deliver it.
      loop.call_later(0.005, [&] {
        order.push_back("timer after");
        QTimer::singleShot(5, [&] { send(a[1], "last"); });
      });
    } else if (msg == "last") {
      outer.quit();
    }
  });

  // A failure must not hang inside the nested loop: the guard ends both loops.
  bool timed_out = false;
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, [&] {
    timed_out = true;
    nested.quit();
    outer.quit();
  });
  guard.start(5000);
  // The loop is idle (no timer, nothing ready): only the notifier can run the first dispatch.
  QTimer::singleShot(10, [&] { send(a[1], "open"); });
  outer.exec();
  ASSERT_FALSE(timed_out) << "order so far: " << ::testing::PrintToString(order);

  EXPECT_EQ(order, (std::vector<std::string>{"a:open", "soon", "task:1", "task:2", "timer", "task:3", "b:ping",
                                             "nested returned 0", "a:again", "timer after", "a:last"}));
  EXPECT_TRUE(all_inside) << "a callback meant for the nested loop ran outside it";
  EXPECT_TRUE(all_running);
  EXPECT_TRUE(task_knew_itself);
  ASSERT_TRUE(task.done());
  EXPECT_NO_THROW(task.result());
  // "open" and "last" came with nothing else pending, so their dispatch ran inside the
  // notifier's SockAct event. ("again" may be picked up by the outer dispatch's next iteration.)
  ASSERT_EQ(a_events.size(), 3u);
  EXPECT_EQ(a_events[0], QEvent::SockAct);
  EXPECT_EQ(a_events[2], QEvent::SockAct);
  EXPECT_FALSE(loop.is_running());
  loop.remove_reader(a[0]);
  loop.remove_reader(b[0]);
}

// asyncio: one running loop per thread. A second QtEventLoop whose dispatch event arrives while
// another loop runs waits (it neither runs nor busy-loops) and catches up afterwards.
TEST(QtLoop, SecondLoopWaitsWhileAnotherRuns) {
  QtEventLoop a;
  QtEventLoop b;
  bool b_ran_during_a = false, b_ran = false, a_running_when_b_ran = true;
  bool a_done = false;
  b.call_soon([&] {
    b_ran = true;
    b_ran_during_a = !a_done && a.is_running();
    a_running_when_b_ran = a.is_running();
  });
  a.run_until_complete(sleepy_sum(10));
  a_done = true;
  EXPECT_FALSE(b_ran);
  QEventLoop foreign;
  QTimer::singleShot(20, &foreign, &QEventLoop::quit);
  foreign.exec();
  EXPECT_TRUE(b_ran);
  EXPECT_FALSE(b_ran_during_a);
  EXPECT_FALSE(a_running_when_b_ran);
}

// Item 7: the default exception handler and debug warnings go through QLoggingCategory "qaio".
TEST(QtLoop, LogsThroughTheQaioCategory) {
  QaioLogCapture capture;
  QtEventLoop loop;
  loop.set_debug(true);
  loop.set_slow_callback_duration(0.005);
  loop.call_soon([] { throw std::runtime_error("boom"); });
  loop.call_soon([] { std::this_thread::sleep_for(std::chrono::milliseconds(10)); });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  auto msgs = capture.messages();
  bool error = false, warning = false;
  for (auto& [type, text] : msgs) {
    if (type == QtCriticalMsg && text.find("Exception in callback") != std::string::npos &&
        text.find("boom") != std::string::npos)
      error = true;
    if (type == QtWarningMsg && text.find("took") != std::string::npos) warning = true;
  }
  EXPECT_TRUE(error);
  EXPECT_TRUE(warning);
  EXPECT_EQ(&qaio::qt::log_category(), &qaio::qt::log_category());
  EXPECT_STREQ(qaio::qt::log_category().categoryName(), "qaio");
}

// QtEventLoopPolicy: new_event_loop() and qaio::run() use QtEventLoops.
TEST(QtLoop, PolicyMakesQtLoops) {
  qaio::set_event_loop_policy(std::make_unique<qaio::qt::QtEventLoopPolicy>());
  auto made = qaio::new_event_loop();
  EXPECT_NE(dynamic_cast<QtEventLoop*>(made.get()), nullptr);
  made->close();
  bool was_qt = false;
  int v = qaio::run([](bool& qt) -> qaio::Coro<int> {
    qt = dynamic_cast<QtEventLoop*>(&qaio::get_running_loop()) != nullptr;
    co_return co_await sleepy_sum(3);
  }(was_qt));
  qaio::set_event_loop_policy(nullptr);
  EXPECT_TRUE(was_qt);
  EXPECT_EQ(v, 3);
}

// Item 2: qaio::qt::run(app, coro): app.exec() ends with main and returns its value.
TEST(QtLoop, RunReturnsMainsValue) {
  auto* app = QCoreApplication::instance();
  int rc = qaio::qt::run(*app, []() -> qaio::Coro<int> {
    co_await qaio::sleep(0.01);
    co_return 42;
  }());
  EXPECT_EQ(rc, 42);
  EXPECT_THROW(qaio::get_event_loop(), qaio::RuntimeError);  // run() cleared the current loop
}

// Item 2: the application quits while tasks are pending: they are cancelled and awaited, and
// what they raise while cancelling is reported, not lost.
TEST(QtLoop, QuitWithPendingTasksCancelsAndReports) {
  auto* app = QCoreApplication::instance();
  static std::vector<std::string> reported;
  static bool main_cancelled = false, bg_cleaned = false;
  reported.clear();
  QTimer::singleShot(50, app, [] { QCoreApplication::exit(3); });
  int rc = qaio::qt::run(*app, []() -> qaio::Coro<void> {
    auto& loop = qaio::get_running_loop();
    loop.set_exception_handler([](qaio::EventLoop&, const qaio::ErrorContext& ctx) {
      reported.push_back(ctx.message + " | " + qaio::describe_exception(ctx.exception));
    });
    loop.create_task([]() -> qaio::Coro<void> {
      bool cancelled = false;
      try {
        co_await qaio::sleep(100);
      } catch (const qaio::CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        co_await qaio::sleep(0.005);  // cleanup that itself awaits
        bg_cleaned = true;
        throw std::logic_error("failed while cancelling");
      }
    }());
    try {
      co_await qaio::sleep(100);
    } catch (const qaio::CancelledError&) {
      main_cancelled = true;
      throw;
    }
  }());
  EXPECT_EQ(rc, 3);
  EXPECT_TRUE(main_cancelled);
  EXPECT_TRUE(bg_cleaned);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find("failed while cancelling"), std::string::npos);
}

// Item 2 / DESIGN rule 6: main's exception leaves run() (asyncio.run), not through Qt frames.
TEST(QtLoop, RunRethrowsMainsException) {
  auto* app = QCoreApplication::instance();
  EXPECT_THROW(qaio::qt::run(*app, []() -> qaio::Coro<int> {
                 co_await qaio::sleep(0.001);
                 throw std::out_of_range("main failed");
               }()),
               std::out_of_range);
}

// DESIGN rule 6: a KeyboardInterrupt raised under app.exec() leaves through run(), not Qt.
TEST(QtLoop, KeyboardInterruptUnderAppExecLeavesThroughRun) {
  auto* app = QCoreApplication::instance();
  EXPECT_THROW(qaio::qt::run(*app, []() -> qaio::Coro<void> {
                 qaio::get_running_loop().call_later(0.005, [] { throw qaio::KeyboardInterrupt(); });
                 co_await qaio::sleep(100);
               }()),
               qaio::KeyboardInterrupt);
}

// Rule 10 + item 1: call_soon_threadsafe from a QThread wakes a loop idling under a Qt loop
// (through the eventfd in the epoll set behind the one QSocketNotifier).
TEST(QtLoop, ThreadsafeCallFromAQThreadWakesTheLoop) {
  QtEventLoop loop;
  QEventLoop foreign;
  std::thread::id ran_on;
  double woke_after = -1;
  const double start = loop.time();
  std::unique_ptr<QThread> worker(QThread::create([&] {
    QThread::msleep(30);
    loop.call_soon_threadsafe([&] {
      ran_on = std::this_thread::get_id();
      woke_after = loop.time() - start;
      foreign.quit();
    });
  }));
  // Keep a long timer pending so only the wakeup can explain a prompt run.
  loop.call_later(30.0, [] {});
  loop.call_soon([] {});  // make sure the loop has been dispatched once before the thread posts
  worker->start();
  ASSERT_TRUE(spin_foreign(foreign));
  worker->wait();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_GE(woke_after, 0.025);
  EXPECT_LT(woke_after, 1.0);
}

// A busy loop that watches no fd drains call_soon_threadsafe's posts on an atomic flag instead of
// polling its eventfd. A post whose eventfd write lands after such a drain must not leave the
// eventfd readable with nobody to read it: the Qt notifier on the epoll fd would then fire on
// every Qt iteration and the idle application would spin. 20,000 posts from another thread race
// a busy call_soon chain; afterwards, 200 ms of idle app must cost (almost) no CPU.
TEST(QtLoop, ThreadsafePostsRacingABusyChainLeaveNoSpinningNotifier) {
  qaio::qt::QtEventLoop loop;
  std::atomic<int> posted{0};
  int ran = 0;
  bool chain_done = false;
  std::function<void()> chain = [&] {
    if (!chain_done) loop.call_soon(std::ref(chain));
  };
  constexpr int kPosts = 20000;
  std::thread poster([&] {
    for (int i = 0; i < kPosts; ++i) {
      loop.call_soon_threadsafe([&] { ++ran; });
      posted.fetch_add(1);
    }
  });
  qaio::Future<> all_ran = loop.create_future();
  std::function<void()> watch = [&] {
    if (ran == kPosts) {
      chain_done = true;
      all_ran.set_result();
    } else {
      loop.call_soon(std::ref(watch));
    }
  };
  loop.call_soon(std::ref(chain));
  loop.call_soon(std::ref(watch));
  loop.run_until_complete(all_ran);
  poster.join();
  ASSERT_EQ(ran, kPosts);
  // Idle: only a 200 ms QTimer is pending. A readable eventfd nobody drains would keep the
  // notifier firing and this thread busy for the whole 200 ms.
  timespec before{}, after{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &before);
  QEventLoop idle;
  QTimer::singleShot(200, &idle, &QEventLoop::quit);
  idle.exec();
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &after);
  const double cpu_ms = (after.tv_sec - before.tv_sec) * 1e3 + (after.tv_nsec - before.tv_nsec) / 1e6;
  std::printf("[ figures  ] idle 200 ms after the posts: %.2f ms of CPU\n", cpu_ms);
  EXPECT_LT(cpu_ms, 50.0);
  loop.close();
}
