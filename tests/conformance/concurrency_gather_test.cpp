// concurrency_gather_test.cpp: gather and gather_settled (spec items 117-120).
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "loop_factories.h"

QAIO_LOOP_SUITE(ConcurrencyGather);

namespace {

qaio::Coro<int> value_after(double delay, int value, std::vector<int>* finished) {
  co_await qaio::sleep(delay);
  finished->push_back(value);
  co_return value;
}

qaio::Coro<std::string> text_after(double delay, std::string text, std::vector<int>* finished) {
  co_await qaio::sleep(delay);
  finished->push_back(2);
  co_return text;
}

qaio::Coro<void> nothing_after(double delay, std::vector<int>* finished) {
  co_await qaio::sleep(delay);
  finished->push_back(3);
}

qaio::Coro<int> fail_after(double delay, std::string what) {
  co_await qaio::sleep(delay);
  throw std::runtime_error(what);
}

qaio::Coro<int> count_runs(int* runs) {
  ++*runs;
  co_await qaio::sleep(0.001);
  co_return 7;
}

qaio::Coro<std::tuple<int, std::string, std::monostate>> gather_mixed(std::vector<int>* finished) {
  co_return co_await qaio::gather(value_after(0.03, 1, finished), text_after(0.01, "two", finished),
                                  nothing_after(0.02, finished));
}

qaio::Coro<std::vector<int>> gather_range(std::vector<int>* finished) {
  std::vector<qaio::Coro<int>> coros;
  coros.push_back(value_after(0.02, 10, finished));
  coros.push_back(value_after(0.0, 20, finished));
  coros.push_back(value_after(0.01, 30, finished));
  co_return co_await qaio::gather(std::move(coros));
}

qaio::Coro<std::size_t> gather_nothing() {
  auto empty_tuple = co_await qaio::gather();
  static_assert(std::tuple_size_v<decltype(empty_tuple)> == 0);
  std::vector<qaio::Task<int>> none;
  auto g = qaio::gather(none);
  bool done_at_once = g.done();
  std::vector<int> v = co_await g;
  co_return (done_at_once ? 100 : 0) + v.size();
}

qaio::Coro<std::tuple<int, int>> gather_same_task_twice(int* runs) {
  qaio::Task<int> t = qaio::get_running_loop().create_task(count_runs(runs));
  co_return co_await qaio::gather(t, t);
}

}  // namespace

TYPED_TEST(ConcurrencyGather, Item117_ResultsInArgumentOrderWhateverTheCompletionOrder) {
  std::vector<int> finished;
  auto [a, b, c] = this->loop.run_until_complete(gather_mixed(&finished));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, "two");
  EXPECT_EQ(c, std::monostate{});
  EXPECT_EQ(finished, (std::vector<int>{2, 3, 1}));  // they completed in another order

  finished.clear();
  std::vector<int> v = this->loop.run_until_complete(gather_range(&finished));
  EXPECT_EQ(v, (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(finished, (std::vector<int>{20, 30, 10}));
}

TYPED_TEST(ConcurrencyGather, Item117_DoneCallbackRunsExactlyOnce) {
  auto& loop = this->loop;
  qaio::set_event_loop(&loop);
  std::vector<int> finished;
  auto g = qaio::gather(value_after(0.01, 1, &finished), value_after(0.0, 2, &finished));
  int calls = 0;
  g.add_done_callback([&](qaio::Future<std::tuple<int, int>>&) { ++calls; });
  auto result = loop.run_until_complete(g);
  this->run_for(0.02);  // give a second (wrong) call every chance to happen
  qaio::set_event_loop(nullptr);
  EXPECT_EQ(result, std::make_tuple(1, 2));
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(ConcurrencyGather, Item117_EmptyGatherCompletesWithNothing) {
  EXPECT_EQ(this->loop.run_until_complete(gather_nothing()), 100u);
}

TYPED_TEST(ConcurrencyGather, Item117_SameTaskTwiceRunsOnceAndRepeatsItsResult) {
  int runs = 0;
  auto r = this->loop.run_until_complete(gather_same_task_twice(&runs));
  EXPECT_EQ(r, std::make_tuple(7, 7));
  EXPECT_EQ(runs, 1);
}

namespace {
struct FirstErrorOutcome {
  std::string error;
  bool sibling_done_when_gather_failed = true;
  bool sibling_cancelled = true;
  int sibling_result = 0;
};

qaio::Coro<FirstErrorOutcome> first_error_fails_gather_at_once() {
  auto& loop = qaio::get_running_loop();
  std::vector<int> finished;
  FirstErrorOutcome out;
  qaio::Task<int> slow = loop.create_task(value_after(0.05, 5, &finished));
  auto g = qaio::gather(fail_after(0.01, "boom"), slow);
  try {
    co_await g;
  } catch (const std::runtime_error& e) {
    out.error = e.what();
  }
  out.sibling_done_when_gather_failed = slow.done();
  out.sibling_result = co_await slow;  // the sibling was not cancelled: it finishes on its own
  out.sibling_cancelled = slow.cancelled();
  co_return out;
}

struct CancelledChildOutcome {
  bool got_cancelled_error = false;
  bool gather_done = false;
  bool gather_cancelled = true;
};

qaio::Coro<CancelledChildOutcome> cancelled_child_fails_gather() {
  auto& loop = qaio::get_running_loop();
  qaio::Future<int> a = loop.create_future<int>();
  qaio::Future<int> b = loop.create_future<int>();
  auto g = qaio::gather(a, b);
  loop.call_soon([a] { a.cancel(); });
  CancelledChildOutcome out;
  try {
    co_await g;
  } catch (const qaio::CancelledError&) {
    out.got_cancelled_error = true;
  }
  out.gather_done = g.done();
  out.gather_cancelled = g.cancelled();
  b.set_result(1);
  co_return out;
}
}  // namespace

TYPED_TEST(ConcurrencyGather, Item118_FirstExceptionCompletesGatherAndSiblingsKeepRunning) {
  FirstErrorOutcome out = this->loop.run_until_complete(first_error_fails_gather_at_once());
  EXPECT_EQ(out.error, "boom");
  EXPECT_FALSE(out.sibling_done_when_gather_failed);
  EXPECT_FALSE(out.sibling_cancelled);
  EXPECT_EQ(out.sibling_result, 5);
}

TYPED_TEST(ConcurrencyGather, Item118_CancelledChildFailsGatherWhichIsNotItselfCancelled) {
  CancelledChildOutcome out = this->loop.run_until_complete(cancelled_child_fails_gather());
  EXPECT_TRUE(out.got_cancelled_error);
  EXPECT_TRUE(out.gather_done);
  EXPECT_FALSE(out.gather_cancelled);
}

namespace {
qaio::Coro<std::tuple<qaio::Result<int>, qaio::Result<int>, qaio::Result<void>, qaio::Result<int>>>
settled_outcomes(bool* waited_for_slow) {
  auto& loop = qaio::get_running_loop();
  qaio::Future<int> cancelled = loop.create_future<int>();
  loop.call_soon([cancelled] { cancelled.cancel("stop"); });
  std::vector<int> finished;
  auto r = co_await qaio::gather_settled(value_after(0.0, 1, &finished), fail_after(0.0, "bad"),
                                         nothing_after(0.03, &finished), cancelled);
  *waited_for_slow = finished.size() == 2;  // the slow void child had finished too
  co_return r;
}

qaio::Coro<std::vector<qaio::Result<int>>> settled_range() {
  std::vector<qaio::Coro<int>> coros;
  coros.push_back(fail_after(0.01, "first"));
  std::vector<int> finished;
  coros.push_back(value_after(0.02, 2, &finished));
  co_return co_await qaio::gather_settled(std::move(coros));
}
}  // namespace

TYPED_TEST(ConcurrencyGather, Item119_SettledGatherKeepsExceptionsAtTheirPositions) {
  bool waited = false;
  auto [ok, failed, nothing, cancelled] = this->loop.run_until_complete(settled_outcomes(&waited));
  EXPECT_TRUE(waited);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok.value(), 1);
  ASSERT_FALSE(failed.has_value());
  EXPECT_THROW(failed.value(), std::runtime_error);
  try {
    std::rethrow_exception(failed.error());
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "bad");
  }
  EXPECT_TRUE(nothing.has_value());
  ASSERT_FALSE(cancelled.has_value());
  try {
    std::rethrow_exception(cancelled.error());
  } catch (const qaio::CancelledError& e) {
    EXPECT_EQ(e.message(), "stop");
  }

  auto v = this->loop.run_until_complete(settled_range());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_FALSE(v[0].has_value());
  EXPECT_EQ(v[1].value(), 2);
}

namespace {
qaio::Coro<void> await_gather_of(qaio::Future<std::tuple<int, int>> g) { co_await g; }
}  // namespace

TYPED_TEST(ConcurrencyGather, Item120_CancellingTheAwaitingTaskCancelsEveryChild) {
  auto& loop = this->loop;
  std::vector<int> finished;
  qaio::Task<int> a = loop.create_task(value_after(10, 1, &finished));
  qaio::Task<int> b = loop.create_task(value_after(10, 2, &finished));
  qaio::Task<void> outer = loop.create_task(await_gather_of(qaio::gather(a, b)));
  loop.call_later(0.01, [outer] { outer.cancel(); });
  EXPECT_THROW(loop.run_until_complete(outer), qaio::CancelledError);
  EXPECT_TRUE(a.cancelled());
  EXPECT_TRUE(b.cancelled());
  EXPECT_TRUE(outer.cancelled());
  EXPECT_TRUE(finished.empty());
}

TYPED_TEST(ConcurrencyGather, Item120_CancelAfterChildrenFinishedReturnsFalseAndKeepsResult) {
  auto& loop = this->loop;
  std::vector<int> finished;
  qaio::Task<int> a = loop.create_task(value_after(0, 1, &finished));
  qaio::Task<int> b = loop.create_task(value_after(0.001, 2, &finished));
  auto g = qaio::gather(a, b);
  loop.run_until_complete(g);
  EXPECT_FALSE(g.cancel());
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(g.result(), std::make_tuple(1, 2));
}

TYPED_TEST(ConcurrencyGather, Item120_ChildrenOfDifferentLoopsAreRejected) {
  auto other = this->make_other_loop();
  qaio::Future<int> mine = this->loop.template create_future<int>();
  qaio::Future<int> theirs = other->template create_future<int>();
  EXPECT_THROW(qaio::gather(mine, theirs), std::invalid_argument);
  std::vector<qaio::Future<int>> both{mine, theirs};
  EXPECT_THROW(qaio::gather(both), std::invalid_argument);
  other->close();
}
