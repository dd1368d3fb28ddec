// thread_test.cpp: a QtEventLoop that lives in a worker QThread, not in the GUI thread. The loop
// belongs to the thread that creates it (qt_event_loop.h): its notifier and timer must be driven by
// that thread's own Qt event dispatcher, and other threads reach it only through
// call_soon_threadsafe / run_coroutine_threadsafe. Timers, fd readers, tasks, plain Qt timers of the
// worker and calls from the main thread all have to work there.
#include <gtest/gtest.h>

#include <QThread>
#include <QTimer>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "qaio/qt.h"
#include "qaio/run_threadsafe.h"

namespace {

struct Outcome {
  std::string trace;
  bool qt_timer_fired = false;
  std::thread::id loop_thread;
  std::thread::id step_thread;
};

qaio::Coro<int> add_in_loop(int a, int b) {
  co_await qaio::sleep(0.001);
  co_return a + b;
}

// Runs in the worker: a timer, a reader on a socketpair written by the main thread, a task, and a
// plain QTimer of the worker thread interleaved with all of it.
qaio::Coro<void> worker_body(qaio::EventLoop* loop, int read_fd, Outcome* out, std::atomic<bool>* ready,
                             std::atomic<bool>* summed) {
  out->step_thread = std::this_thread::get_id();
  QTimer::singleShot(5, [out] { out->qt_timer_fired = true; });
  qaio::Future<> timer_done = loop->create_future();
  loop->call_later(0.01, [out, timer_done] {
    out->trace += "timer ";
    timer_done.set_result();
  });
  co_await timer_done;
  qaio::Future<std::string> line = loop->create_future<std::string>();
  loop->add_reader(read_fd, [loop, read_fd, line] {
    char buf[64];
    const ssize_t n = ::read(read_fd, buf, sizeof buf);
    loop->remove_reader(read_fd);
    if (!line.done()) line.set_result(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0));
  });
  ready->store(true);  // the main thread may write now
  out->trace += co_await line + " ";
  int sum = co_await loop->create_task(add_in_loop(2, 3));
  out->trace += std::to_string(sum);
  summed->store(true);
  // Stay up until the main thread's threadsafe call stops us.
  qaio::Future<> never_done = loop->create_future();
  try {
    co_await never_done;
  } catch (const qaio::CancelledError&) {
    out->trace += " cancelled";
  }
}

}  // namespace

TEST(QtThread, LoopRunsInAWorkerQThreadAndTakesCallsFromTheMainThread) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  Outcome out;
  std::atomic<bool> ready{false};
  std::atomic<bool> summed{false};
  std::atomic<qaio::qt::QtEventLoop*> worker_loop{nullptr};
  std::atomic<bool> finished{false};
  std::string error;

  QThread* thread = QThread::create([&] {
    try {
      qaio::qt::QtEventLoop loop;
      out.loop_thread = std::this_thread::get_id();
      qaio::Task<void> main = loop.create_task(worker_body(&loop, sv[0], &out, &ready, &summed));
      worker_loop.store(&loop);
      loop.run_until_complete(main);
      worker_loop.store(nullptr);
      loop.close();
    } catch (const std::exception& e) {
      error = e.what();
    }
    finished.store(true);
  });
  thread->start();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!ready.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(ready.load()) << "the worker loop never reached its reader";
  ASSERT_EQ(::write(sv[1], "hello", 5), 5);

  // A coroutine submitted from this thread runs on the worker's loop and hands its result back.
  qaio::qt::QtEventLoop* loop = worker_loop.load();
  ASSERT_NE(loop, nullptr);
  auto sum = qaio::run_coroutine_threadsafe(add_in_loop(20, 22), *loop);
  EXPECT_EQ(sum.result(10.0), 42);

  // Then cancel every task of that loop from here: the main task ends and run_until_complete returns.
  while (!summed.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(summed.load());
  loop->call_soon_threadsafe([loop] {
    for (qaio::AnyTask& t : loop->tasks()) t.cancel();
  });
  ASSERT_TRUE(thread->wait(QDeadlineTimer(20'000)));
  delete thread;
  ::close(sv[0]);
  ::close(sv[1]);

  EXPECT_TRUE(finished.load());
  EXPECT_EQ(error, "");
  EXPECT_EQ(out.trace, "timer hello 5 cancelled");
  EXPECT_TRUE(out.qt_timer_fired) << "the worker's own Qt timers must keep running beside qaio";
  EXPECT_NE(out.loop_thread, std::this_thread::get_id());
  EXPECT_EQ(out.step_thread, out.loop_thread);
}
