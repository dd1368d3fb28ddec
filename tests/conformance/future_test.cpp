// future_test.cpp: spec section 13, Future: states, results, exceptions, cancellation and
// done-callbacks (items 95-101).
#include "conformance_util.h"

using conformance::run_one_iteration;

QAIO_LOOP_SUITE(FutureSuite);

namespace {

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

qaio::Coro<int> await_int(qaio::Future<int> f) {
  int v = co_await f;
  co_return v;
}

}  // namespace

TYPED_TEST(FutureSuite, Item95_NewFutureIsPending) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(&f.get_loop(), &loop);
  QAIO_EXPECT_THROW_MSG(f.result(), qaio::InvalidStateError, "Result is not ready.");
  QAIO_EXPECT_THROW_MSG(f.exception(), qaio::InvalidStateError, "Exception is not set.");
  EXPECT_EQ(f.repr(), "<Future pending>");
}

TYPED_TEST(FutureSuite, Item96_SetResult) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  f.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.exception(), nullptr);
  QAIO_EXPECT_THROW_MSG(f.set_result(1), qaio::InvalidStateError, "FINISHED: <Future finished>");
  QAIO_EXPECT_THROW_MSG(f.set_exception(Boom()), qaio::InvalidStateError, "FINISHED: <Future finished>");
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 42);
  auto v = loop.create_future();
  v.set_result();
  EXPECT_NO_THROW(v.result());
}

TYPED_TEST(FutureSuite, Item97_SetException) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  f.set_exception(Boom());  // like set_exception(ExcClass): an instance of the type is stored
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), Boom);
  auto e = f.exception();
  ASSERT_TRUE(e);
  EXPECT_THROW(std::rethrow_exception(e), Boom);
  EXPECT_FALSE(f.cancel());
  EXPECT_THROW(f.set_exception(std::exception_ptr()), qaio::InvalidStateError);
  // A null exception_ptr is the "None" of set_exception:
  auto g = loop.create_future<int>();
  EXPECT_THROW(g.set_exception(std::exception_ptr()), std::invalid_argument);
  EXPECT_FALSE(g.done());
  // StopIteration has no C++ counterpart (coroutines do not end by throwing), so there is nothing
  // to convert into RuntimeError.
}

TYPED_TEST(FutureSuite, Item98_Cancel) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), qaio::CancelledError);
  EXPECT_THROW(f.exception(), qaio::CancelledError);
  EXPECT_THROW(f.set_result(1), qaio::InvalidStateError);
  EXPECT_THROW(f.set_exception(Boom()), qaio::InvalidStateError);
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.repr(), "<Future cancelled>");
}

TYPED_TEST(FutureSuite, Item99_CancelMessageReachesTheAwaiter) {
  qaio::EventLoop& loop = this->loop;
  auto f = loop.create_future<int>();
  auto t = loop.create_task(await_int(f));
  run_one_iteration(loop);
  EXPECT_TRUE(f.cancel("my message"));
  try {
    loop.run_until_complete(t);
    ADD_FAILURE() << "expected CancelledError";
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "my message");
    EXPECT_TRUE(e.has_message());
  }
  try {
    f.result();
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "my message");
  }
  auto g = loop.create_future<int>();
  g.cancel();
  try {
    g.result();
  } catch (const qaio::CancelledError& e) {
    EXPECT_FALSE(e.has_message());
  }
}

TYPED_TEST(FutureSuite, Item100_DoneCallbacksAreQueuedInOrderNeverCalledSynchronously) {
  qaio::EventLoop& loop = this->loop;
  std::vector<std::string> order;
  auto f = loop.create_future<int>();
  for (int i = 0; i < 3; ++i)
    f.add_done_callback([&order, i, f](qaio::Future<int>& done) {
      EXPECT_TRUE(done == f);
      order.push_back("cb" + std::to_string(i) + "=" + std::to_string(done.result()));
    });
  f.set_result(7);
  EXPECT_TRUE(order.empty());  // not synchronous
  run_one_iteration(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"cb0=7", "cb1=7", "cb2=7"}));

  // On an already-done future the callback is queued like call_soon, in FIFO with other calls.
  order.clear();
  loop.call_soon([&] { order.push_back("soon1"); });
  f.add_done_callback([&](qaio::Future<int>&) { order.push_back("late"); });
  loop.call_soon([&] { order.push_back("soon2"); });
  EXPECT_TRUE(order.empty());
  run_one_iteration(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"soon1", "late", "soon2"}));

  // Failing futures call back too.
  auto g = loop.create_future<int>();
  bool called = false;
  g.add_done_callback([&](qaio::Future<int>& done) {
    called = true;
    EXPECT_THROW(done.result(), Boom);
  });
  g.set_exception(Boom());
  run_one_iteration(loop);
  EXPECT_TRUE(called);
}

TYPED_TEST(FutureSuite, Item101_RemoveDoneCallback) {
  qaio::EventLoop& loop = this->loop;
  std::vector<int> order;
  auto f = loop.create_future<int>();
  std::vector<qaio::CallbackId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(f.add_done_callback([&order, i](qaio::Future<int>&) { order.push_back(i); }));
  // Each registration has its own id (C++ callables have no equality to match "every
  // registration of cb"): removing one reports 1, removing it again 0.
  EXPECT_EQ(f.remove_done_callback(ids[0]), 1u);
  EXPECT_EQ(f.remove_done_callback(ids[2]), 1u);
  EXPECT_EQ(f.remove_done_callback(ids[2]), 0u);
  EXPECT_EQ(f.remove_done_callback(9999), 0u);
  f.set_result(1);
  run_one_iteration(loop);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}
