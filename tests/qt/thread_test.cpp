// thread_test.cpp: a QtEventLoop that lives in a worker QThread, not in the GUI thread. The loop
// belongs to the thread that creates it (qt_event_loop.h): its notifier and timer must be driven by
// that thread's own Qt event dispatcher, and other threads reach it only through
// call_soon_threadsafe / run_coroutine_threadsafe. Timers, fd readers, tasks, plain Qt timers of the
// worker and calls from the main thread all have to work there. The test body is the only place that
// asserts: the worker records what happens, and a failed ASSERT stops and joins it on the way out.
#include <gtest/gtest.h>

#include <QThread>
#include <QTimer>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
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

// Everything the worker thread touches. The test and the worker own it together: a failed ASSERT
// returns from the test body while the worker may still run, and the worker must not be left
// writing into a dead stack frame.
struct WorkerState {
  int sv[2] = {-1, -1};
  Outcome out;
  std::atomic<bool> ready{false};
  std::atomic<bool> summed{false};
  std::atomic<bool> finished{false};
  std::string error;  // written by the worker before `finished`

  ~WorkerState() {
    for (int fd : sv)
      if (fd >= 0) ::close(fd);
  }

  // Runs f(loop) on this thread while the worker's loop is running, under the lock that keeps the
  // worker from leaving run_until_complete and destroying the loop meanwhile. False if no loop.
  template <class F>
  bool with_loop(F f) {
    std::lock_guard<std::mutex> lock(mutex);
    if (loop == nullptr) return false;
    f(*loop);
    return true;
  }

  std::mutex mutex;
  qaio::qt::QtEventLoop* loop = nullptr;  // under mutex: the worker's loop while it runs
  bool stop_requested = false;            // under mutex: the test ended, cancel at once
};

// The worker: its QtEventLoop runs worker_body until the main task ends. No gtest assertion runs
// here; whatever happens is recorded in the state and checked on the main thread.
void run_worker(const std::shared_ptr<WorkerState>& st) {
  try {
    qaio::qt::QtEventLoop loop;
    st->out.loop_thread = std::this_thread::get_id();
    qaio::Task<void> main = loop.create_task(worker_body(&loop, st->sv[0], &st->out, &st->ready, &st->summed));
    {
      std::lock_guard<std::mutex> lock(st->mutex);
      if (st->stop_requested) main.cancel();
      st->loop = &loop;
    }
    struct Unpublish {
      WorkerState& st;
      ~Unpublish() {
        std::lock_guard<std::mutex> lock(st.mutex);
        st.loop = nullptr;
      }
    };
    {
      Unpublish unpublish{*st};
      loop.run_until_complete(main);
    }
    loop.close();
  } catch (const std::exception& e) {
    st->error = e.what();
  }
  st->finished.store(true);
}

// Cancels every task of the worker's loop from this thread: its main task ends, and so does
// run_until_complete.
bool cancel_worker_tasks(WorkerState& st) {
  return st.with_loop([](qaio::qt::QtEventLoop& loop) {
    loop.call_soon_threadsafe([&loop] {
      for (qaio::AnyTask& t : loop.tasks()) t.cancel();
    });
  });
}

// Stops the worker however the test body ends (a failed ASSERT returns early, an exception unwinds)
// and waits for it. A worker that cannot be stopped is reported and leaked with the state it shares:
// destroying a running QThread would abort the whole test program.
struct StopWorkerAtExit {
  std::shared_ptr<WorkerState> st;
  std::unique_ptr<QThread> thread;
  ~StopWorkerAtExit() {
    {
      std::lock_guard<std::mutex> lock(st->mutex);
      st->stop_requested = true;
    }
    cancel_worker_tasks(*st);
    if (!thread->wait(QDeadlineTimer(20'000))) {
      ADD_FAILURE() << "the worker QThread did not stop within 20 s; leaking it";
      (void)thread.release();
    }
  }
};

}  // namespace

TEST(QtThread, LoopRunsInAWorkerQThreadAndTakesCallsFromTheMainThread) {
  auto st = std::make_shared<WorkerState>();
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, st->sv), 0);
  StopWorkerAtExit worker{st, std::unique_ptr<QThread>(QThread::create([st] { run_worker(st); }))};
  worker.thread->start();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!st->ready.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(st->ready.load()) << "the worker loop never reached its reader";
  ASSERT_EQ(::write(st->sv[1], "hello", 5), 5);

  // A coroutine submitted from this thread runs on the worker's loop and hands its result back.
  std::optional<qaio::ConcurrentFuture<int>> sum;
  ASSERT_TRUE(st->with_loop([&sum](qaio::qt::QtEventLoop& loop) {
    sum.emplace(qaio::run_coroutine_threadsafe(add_in_loop(20, 22), loop));
  })) << "the worker loop is not running";
  EXPECT_EQ(sum->result(10.0), 42);

  // Then cancel every task of that loop from here: the main task ends and run_until_complete returns.
  while (!st->summed.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(st->summed.load());
  ASSERT_TRUE(cancel_worker_tasks(*st)) << "the worker loop is not running";
  ASSERT_TRUE(worker.thread->wait(QDeadlineTimer(20'000)));

  // The worker has ended: everything it recorded is visible here.
  EXPECT_TRUE(st->finished.load());
  EXPECT_EQ(st->error, "");
  EXPECT_EQ(st->out.trace, "timer hello 5 cancelled");
  EXPECT_TRUE(st->out.qt_timer_fired) << "the worker's own Qt timers must keep running beside qaio";
  EXPECT_NE(st->out.loop_thread, std::this_thread::get_id());
  EXPECT_EQ(st->out.step_thread, st->out.loop_thread);
}
