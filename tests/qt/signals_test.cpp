// signals_test.cpp: Qt signals as awaitables and async slots (issue 3, items 4 and 5): the value
// shapes, the timeout variant, a sender destroyed while awaited, emissions from a worker QThread,
// per-emission tasks, their errors, and cancellation when the context object dies.
#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QThread>
#include <QTimer>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "qaio/qt.h"
#include "test_objects.h"

using qaio::qt::QtEventLoop;

namespace {

// Emits `fn` on the loop after `delay` seconds (from a timer callback, not inline).
template <class F>
void later(qaio::EventLoop& loop, double delay, F fn) {
  loop.call_later(delay, std::move(fn));
}

}  // namespace

TEST(QtSignals, ValueShapes) {
  QtEventLoop loop;
  Emitter e;
  // Each emission is scheduled by the coroutine itself, so it comes after that awaitable exists.
  auto result = loop.run_until_complete([](Emitter* em) -> qaio::Coro<std::string> {
    auto& l = qaio::get_running_loop();
    l.call_soon([em] { emit em->ping(); });
    co_await qaio::qt::signal(em, &Emitter::ping);  // void
    l.call_later(0.002, [em] { emit em->value(7); });
    int v = co_await qaio::qt::signal(em, &Emitter::value);
    l.call_soon([em] { emit em->pair(3, QStringLiteral("three")); });
    std::tuple<int, QString> p = co_await qaio::qt::signal(em, &Emitter::pair);
    l.call_soon([em] { em->fire_private(9); });
    int priv = co_await qaio::qt::signal(em, &Emitter::privateSignal);  // the private tag is dropped
    co_return std::to_string(v) + "/" + std::to_string(std::get<0>(p)) + std::get<1>(p).toStdString() + "/" +
        std::to_string(priv);
  }(&e));
  EXPECT_EQ(result, "7/3three/9");
  static_assert(std::is_same_v<qaio::qt::detail::signal_value_t<decltype(&QTimer::timeout)>, void>);
}

// Connected at creation: an emission between creating the awaitable and awaiting it is kept.
TEST(QtSignals, EmissionBeforeTheAwaitIsNotLost) {
  QtEventLoop loop;
  Emitter e;
  int got = loop.run_until_complete([](Emitter* em) -> qaio::Coro<int> {
    auto next = qaio::qt::signal(em, &Emitter::value);
    emit em->value(5);  // synchronous, before co_await
    emit em->value(6);  // only the first emission counts
    int v = co_await next;
    co_return v;
  }(&e));
  EXPECT_EQ(got, 5);
}

TEST(QtSignals, TimeoutVariant) {
  QtEventLoop loop;
  Emitter e;
  later(loop, 0.01, [&] { emit e.value(11); });
  auto [first, second, waited] = loop.run_until_complete([](Emitter* em, qaio::EventLoop* l)
                                                             -> qaio::Coro<std::tuple<std::optional<int>, std::optional<std::monostate>, double>> {
    std::optional<int> a = co_await qaio::qt::signal(em, &Emitter::value, 2.0);
    const double t0 = l->time();
    std::optional<std::monostate> b = co_await qaio::qt::signal(em, &Emitter::ping, std::chrono::milliseconds(30));
    co_return std::make_tuple(a, b, l->time() - t0);
  }(&e, &loop));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, 11);
  EXPECT_FALSE(second.has_value());
  EXPECT_GE(waited, 0.029);
  EXPECT_LT(waited, 1.0);
}

// Sender destroyed while awaited: CancelledError at the co_await, no hang, no crash; the rest of
// the coroutine (and the loop) carry on.
TEST(QtSignals, SenderDestroyedCancelsTheAwaiter) {
  QtEventLoop loop;
  auto* e = new Emitter;
  later(loop, 0.005, [e] { delete e; });
  std::string caught;
  auto task = loop.create_task([](Emitter* em, std::string& out) -> qaio::Coro<int> {
    try {
      co_await qaio::qt::signal(em, &Emitter::value);
    } catch (const qaio::CancelledError& ex) {
      out = ex.message();
    }
    co_await qaio::sleep(0.001);
    co_return 1;
  }(e, caught));
  const double t0 = loop.time();
  EXPECT_EQ(loop.run_until_complete(task), 1);
  EXPECT_LT(loop.time() - t0, 1.0);
  EXPECT_EQ(caught, "sender destroyed");
  // Uncaught, it ends the task as cancelled.
  auto* e2 = new Emitter;
  later(loop, 0.002, [e2] { delete e2; });
  auto t2 = loop.create_task([](Emitter* em) -> qaio::Coro<void> { co_await qaio::qt::signal(em, &Emitter::ping); }(e2));
  EXPECT_THROW(loop.run_until_complete(t2), qaio::CancelledError);
  EXPECT_TRUE(t2.cancelled());
}

// Cancelling the awaiting task disconnects: a later emission touches nothing.
TEST(QtSignals, CancelledAwaiterDisconnects) {
  QtEventLoop loop;
  Emitter e;
  auto task = loop.create_task([](Emitter* em) -> qaio::Coro<int> { co_return co_await qaio::qt::signal(em, &Emitter::value); }(&e));
  later(loop, 0.003, [&] { task.cancel(); });
  EXPECT_THROW(loop.run_until_complete(task), qaio::CancelledError);
  emit e.value(1);  // nobody listens any more
  loop.run_until_complete([]() -> qaio::Coro<void> { co_await qaio::sleep(0.002); }());
  EXPECT_TRUE(task.cancelled());
}

// A signal emitted in a worker QThread resumes the awaiting task on the loop's thread.
TEST(QtSignals, WorkerThreadEmissionResumesOnTheLoopThread) {
  QtEventLoop loop;
  Emitter e;  // lives in the loop's thread; emitted from the worker (a direct emission there)
  std::thread::id emitted_on;
  std::unique_ptr<QThread> worker(QThread::create([&] {
    QThread::msleep(20);
    emitted_on = std::this_thread::get_id();
    emit e.pair(42, QStringLiteral("from worker"));
  }));
  auto [value, resumed_on] = loop.run_until_complete(
      [](Emitter* em, QThread* w) -> qaio::Coro<std::tuple<std::tuple<int, QString>, std::thread::id>> {
        auto next = qaio::qt::signal(em, &Emitter::pair);
        w->start();
        auto v = co_await next;
        co_return std::make_tuple(v, std::this_thread::get_id());
      }(&e, worker.get()));
  worker->wait();
  EXPECT_EQ(std::get<0>(value), 42);
  EXPECT_EQ(std::get<1>(value), QStringLiteral("from worker"));
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
  EXPECT_NE(emitted_on, std::this_thread::get_id());
}

// Async slots: one task per emission, with the emission's arguments; errors reach the exception
// handler (not Qt); destroying the context cancels the slot tasks still running.
TEST(QtSignals, AsyncSlotTaskPerEmissionErrorsAndContext) {
  QtEventLoop loop;
  qaio::set_event_loop(&loop);
  std::vector<std::string> errors;
  loop.set_exception_handler([&](qaio::EventLoop&, const qaio::ErrorContext& ctx) {
    errors.push_back(ctx.message + ": " + qaio::describe_exception(ctx.exception));
  });
  Emitter e;
  auto* context = new QObject;
  std::vector<int> started, finished;
  int cancelled = 0;
  qaio::qt::connect(&e, &Emitter::value, context, [&](int v) -> qaio::Coro<void> {
    started.push_back(v);
    if (v < 0) throw std::runtime_error("negative");
    try {
      co_await qaio::sleep(v == 1 ? 0.001 : 10.0);
    } catch (const qaio::CancelledError&) {
      ++cancelled;
      throw;
    }
    finished.push_back(v);
  });
  emit e.value(1);
  emit e.value(2);
  emit e.value(-1);
  EXPECT_TRUE(started.empty());  // the bodies run from the ready deque, not inside emit
  loop.run_until_complete([]() -> qaio::Coro<void> { co_await qaio::sleep(0.02); }());
  EXPECT_EQ(started, (std::vector<int>{1, 2, -1}));
  EXPECT_EQ(finished, (std::vector<int>{1}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("Exception in async slot"), std::string::npos);
  EXPECT_NE(errors[0].find("negative"), std::string::npos);
  delete context;  // task 2 is still sleeping
  emit e.value(3);  // disconnected with the context: no new task
  loop.run_until_complete([]() -> qaio::Coro<void> { co_await qaio::sleep(0.01); }());
  EXPECT_EQ(cancelled, 1);
  EXPECT_EQ(started.size(), 3u);
  EXPECT_EQ(errors.size(), 1u);  // a cancellation is not an error
  qaio::set_event_loop(nullptr);
}

// An async slot whose signal comes from a worker thread runs on the loop's thread.
TEST(QtSignals, AsyncSlotFromAWorkerThread) {
  QtEventLoop loop;
  qaio::set_event_loop(&loop);
  Emitter e;
  QObject context;
  std::thread::id ran_on;
  qaio::Future<int> got = loop.create_future<int>();
  qaio::qt::connect(&e, &Emitter::value, &context, [&](int v) -> qaio::Coro<void> {
    ran_on = std::this_thread::get_id();
    co_await qaio::sleep(0);
    got.set_result(v);
  });
  std::unique_ptr<QThread> worker(QThread::create([&] { emit e.value(77); }));
  worker->start();
  EXPECT_EQ(loop.run_until_complete(got), 77);
  worker->wait();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  qaio::set_event_loop(nullptr);
}

// create_task(context, coro): the task ends (cancelled) with its QObject.
TEST(QtSignals, CreateTaskBoundToAnObject) {
  QtEventLoop loop;
  qaio::set_event_loop(&loop);
  auto* owner = new QObject;
  auto bound = qaio::qt::create_task(owner, []() -> qaio::Coro<int> {
    co_await qaio::sleep(10);
    co_return 1;
  }());
  auto free_task = qaio::qt::create_task(owner, []() -> qaio::Coro<int> { co_return 2; }());
  loop.call_later(0.005, [owner] { delete owner; });
  EXPECT_THROW(loop.run_until_complete(bound), qaio::CancelledError);
  EXPECT_EQ(loop.run_until_complete(free_task), 2);
  qaio::set_event_loop(nullptr);
}
