// scale_test.cpp: the Qt driver under load (issue 3 "It must show", DESIGN rules 4 and 5):
// a flood of 4,000,000 call_soon callbacks does not starve Qt (a 5 ms QTimer stays on time), and
// 100,000 call_later timers (half cancelled) fire in deadline order in about the standalone time.
#include <gtest/gtest.h>

#include <QAbstractEventDispatcher>
#include <QEventLoop>
#include <QTimer>


#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include <cstdlib>
#include <functional>

#include "qaio/qt.h"
#include "qt_test_support.h"

using qaio::qt::QtEventLoop;

namespace {

// CPU time used by this thread, in ms: unlike the wall clock it does not advance while other
// processes on the (shared, 2-core) machine hold the CPU.
double thread_cpu_ms() { return thread_cpu_seconds() * 1e3; }

struct FloodResult {
  double worst_lateness_ms = 0;      // wall clock: includes time other processes held the CPU
  double worst_cpu_lateness_ms = 0;  // this thread's CPU time between ticks beyond the 5 ms period
  int ticks = 0;
  double flood_seconds = 0;
  long callbacks = 0;
};

// 10,000 call_soon chains that keep re-scheduling themselves until 4,000,000 callbacks have run
// (the ready deque never drains), while a 5 ms Qt::PreciseTimer records how late each tick is.
FloodResult flood(QtEventLoop& loop) {
  // Enough to outlast several 5 ms ticks (~80 ms here): with fewer, the control test below could
  // finish its whole flood inside one 16 ms frame and so fail to starve Qt.
  constexpr long kTotal = 4'000'000;
  constexpr int kChains = 10'000;
  FloodResult r;
  long started = 0;
  volatile unsigned sink = 0;
  qaio::Future<> done = loop.create_future();
  std::function<void()> step = [&] {
    unsigned h = static_cast<unsigned>(r.callbacks);
    for (int i = 0; i < 20; ++i) h = h * 2654435761u + 1;  // a little work per callback
    sink = sink + h;
    if (++r.callbacks == kTotal) {
      done.set_result();
      return;
    }
    if (started < kTotal) {
      ++started;
      loop.call_soon(std::ref(step));
    }
  };
  QTimer ticker;
  ticker.setTimerType(Qt::PreciseTimer);
  ticker.setInterval(5);
  auto last = std::chrono::steady_clock::now();
  double last_cpu = thread_cpu_ms();
  QObject::connect(&ticker, &QTimer::timeout, [&] {
    auto now = std::chrono::steady_clock::now();
    const double cpu = thread_cpu_ms();
    double late = std::chrono::duration<double, std::milli>(now - last).count() - 5.0;
    r.worst_lateness_ms = std::max(r.worst_lateness_ms, late);
    r.worst_cpu_lateness_ms = std::max(r.worst_cpu_lateness_ms, cpu - last_cpu - 5.0);
    ++r.ticks;
    last = now;
    last_cpu = cpu;
  });
  loop.call_soon([&] {
    last = std::chrono::steady_clock::now();
    last_cpu = thread_cpu_ms();
    ticker.start();
    for (int i = 0; i < kChains; ++i) {
      ++started;
      loop.call_soon(std::ref(step));
    }
  });
  const double t0 = loop.time();
  loop.run_until_complete(done);
  r.flood_seconds = loop.time() - t0;
  // One more tick after the flood, so a stall at its very end is measured too.
  QEventLoop settle;
  const int before = r.ticks;
  QObject::connect(&ticker, &QTimer::timeout, &settle, [&] {
    if (r.ticks > before) settle.quit();
  });
  settle.exec();
  ticker.stop();
  return r;
}

struct TimerRun {
  double seconds = 0;       // from the first call_later to the last callback
  bool in_order = true;
  std::size_t fired = 0;
  bool cancelled_fired = false;
};

// 100,000 timers with random deadlines in [50 ms, 300 ms]; every other one is cancelled. Each
// callback records its own deadline, so the firing order can be compared with the sorted deadlines.
TimerRun many_timers(qaio::EventLoop& loop) {
  constexpr int kTimers = 100'000;
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> delay(0.05, 0.30);
  TimerRun r;
  std::vector<double> fired;
  fired.reserve(kTimers / 2);
  std::vector<qaio::TimerHandle> handles;
  handles.reserve(kTimers);
  double last_deadline = 0;
  const double t0 = loop.time();
  for (int i = 0; i < kTimers; ++i) {
    const double when = t0 + delay(rng);
    last_deadline = std::max(last_deadline, when);
    const bool doomed = i % 2 == 1;
    handles.push_back(loop.call_at(when, [&fired, &r, doomed, when] {
      if (doomed) r.cancelled_fired = true;
      fired.push_back(when);
    }));
  }
  std::vector<double> expected;
  expected.reserve(kTimers / 2);
  for (int i = 0; i < kTimers; ++i) {
    if (i % 2 == 1) {
      handles[static_cast<std::size_t>(i)].cancel();
    } else {
      expected.push_back(handles[static_cast<std::size_t>(i)].when());
    }
  }
  loop.call_at(last_deadline + 0.001, [&loop] { loop.stop(); });
  loop.run_forever();
  r.seconds = loop.time() - t0;
  r.fired = fired.size();
  r.in_order = std::is_sorted(fired.begin(), fired.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(fired, expected);
  return r;
}

}  // namespace

// Rule 4: the flood runs in time slices, so the 5 ms Qt timer is never more than a frame late.
// Lateness is measured twice. Wall-clock lateness is what a user sees, but on this shared 2-core
// machine it also counts the time other processes held the CPU, which no event loop can hide;
// CPU-time lateness counts only the time this thread itself ran past a tick (qaio holding Qt off)
// and is what the test asserts. Up to three runs; one must keep the wall clock under 16 ms too
// unless the machine is overloaded (load average above the core count).
TEST(QtScale, CallSoonFloodDoesNotStarveQt) {
  double best_wall = 1e9, worst_cpu = 0;
  for (int attempt = 0; attempt < 3 && best_wall >= 16.0; ++attempt) {
    QtEventLoop loop;
    FloodResult r = flood(loop);
    std::printf("[ figures  ] flood: %ld callbacks in %.3f s, %d ticks of a 5 ms QTimer, worst lateness %.2f ms "
                "(wall), %.2f ms (CPU)\n",
                r.callbacks, r.flood_seconds, r.ticks, r.worst_lateness_ms, r.worst_cpu_lateness_ms);
    EXPECT_EQ(r.callbacks, 4'000'000);
    EXPECT_GE(r.ticks, 3);  // Qt kept ticking during the flood
    best_wall = std::min(best_wall, r.worst_lateness_ms);
    worst_cpu = std::max(worst_cpu, r.worst_cpu_lateness_ms);
  }
  EXPECT_LT(worst_cpu, 16.0);
  double load = 0;
  if (::getloadavg(&load, 1) == 1 && load < 2.0) {
    EXPECT_LT(best_wall, 16.0);
  }
}

// The control that shows the test above can fail: with a 1 s slice the flood holds Qt off.
TEST(QtScale, WithoutTimeSlicingTheSameFloodStarvesQt) {
  QtEventLoop loop;
  loop.set_time_slice(1.0);
  FloodResult r = flood(loop);
  std::printf("[ figures  ] flood with a 1 s slice: %.3f s, %d ticks, worst lateness %.2f ms (wall), %.2f ms (CPU)\n",
              r.flood_seconds, r.ticks, r.worst_lateness_ms, r.worst_cpu_lateness_ms);
  EXPECT_GT(r.worst_cpu_lateness_ms, 16.0);
}

// Rule 5 / "never one Qt timer per callback": 100,000 timers, half cancelled, fire in deadline
// order, and Qt mode takes about as long as standalone (100k QTimers took 9.2 s here).
TEST(QtScale, HundredThousandTimersInDeadlineOrder) {
  qaio::SelectorEventLoop standalone;
  TimerRun s = many_timers(standalone);
  QtEventLoop qloop;
  TimerRun q = many_timers(qloop);
  std::printf("[ figures  ] 100k timers (50k cancelled, deadlines 50-300 ms): standalone %.3f s, Qt %.3f s\n",
              s.seconds, q.seconds);
  EXPECT_EQ(s.fired, 50'000u);
  EXPECT_EQ(q.fired, 50'000u);
  EXPECT_TRUE(s.in_order);
  EXPECT_TRUE(q.in_order);
  EXPECT_FALSE(q.cancelled_fired);
  EXPECT_FALSE(s.cancelled_fired);
  EXPECT_LT(q.seconds, s.seconds * 1.5 + 0.1);
}

// Spec item 38's cleanup on a huge heap: with more than half of 200,000 timers cancelled, the
// standalone loop rebuilds the heap at once, while QtEventLoop (time-sliced) erases the cancelled
// entries a slice at a time so that no Qt frame is lost to it. Either way the heap must stay a
// valid heap: every live timer fires, in deadline order, and nothing cancelled is left behind.
TEST(QtScale, MostlyCancelledHugeHeapIsCleanedUpWithoutBreakingTheOrder) {
  auto run = [](qaio::EventLoop& loop) {
    constexpr int kTimers = 200'000;
    std::mt19937 rng(777);
    std::uniform_real_distribution<double> delay(0.05, 0.25);
    std::vector<double> fired;
    std::vector<double> expected;
    std::vector<qaio::TimerHandle> handles;
    handles.reserve(kTimers);
    for (int i = 0; i < kTimers; ++i) {
      const double when = loop.time() + delay(rng);
      handles.push_back(loop.call_at(when, [&fired, when] { fired.push_back(when); }));
    }
    for (int i = 0; i < kTimers; ++i) {
      if (i % 4 != 0) {
        handles[static_cast<std::size_t>(i)].cancel();  // 75% cancelled: above asyncio's half
      } else {
        expected.push_back(handles[static_cast<std::size_t>(i)].when());
      }
    }
    handles.clear();
    std::size_t after_first_iteration = 0;
    loop.call_soon([&] { after_first_iteration = loop.timer_count(); });
    loop.call_at(loop.time() + 0.3, [&loop] { loop.stop(); });
    loop.run_forever();
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(fired.size(), expected.size());
    EXPECT_TRUE(fired == expected) << "live timers fired out of deadline order or went missing";
    EXPECT_LT(after_first_iteration, static_cast<std::size_t>(kTimers));  // cleanup began at once
    EXPECT_EQ(loop.timer_count(), 0u);
    EXPECT_EQ(loop.cancelled_timer_count(), 0u);
  };
  qaio::SelectorEventLoop standalone;
  run(standalone);
  QtEventLoop qloop;
  run(qloop);
}

namespace {

// Burns `ms` of this thread's CPU time: a slow callback.
void burn_cpu_ms(double ms) {
  const double until = thread_cpu_ms() + ms;
  while (thread_cpu_ms() < until) {
  }
}

// Which Qt iteration (awake() of this thread's dispatcher) each counted callback ran in, so a test
// can tell how many ran in one dispatch slice. Other processes on the machine can only make a
// slice hold fewer 2 ms callbacks, never more.
struct IterationLog {
  QtIterations iterations;
  std::vector<int> ran_in;
  void counted() { ran_in.push_back(iterations.count()); }
  int most_in_one_iteration() const {
    int most = 0;
    int run = 0;  // callbacks so far in the current iteration
    for (std::size_t i = 0; i < ran_in.size(); ++i) {
      run = i > 0 && ran_in[i] == ran_in[i - 1] ? run + 1 : 1;
      most = std::max(most, run);
    }
    return most;
  }
  int in_first_iteration() const {
    return static_cast<int>(std::count(ran_in.begin(), ran_in.end(), ran_in.empty() ? -1 : ran_in.front()));
  }
};

}  // namespace

// DESIGN rule 4 with slow callbacks: a chain of callbacks that each burn 2 ms of CPU must still
// give Qt its turn after about one 4 ms slice, not after a fixed number of handles. Counted per
// Qt iteration: a dispatch that ignored the clock for 16 handles would run 16 of them (32 ms).
TEST(QtScale, ChainOfSlowCallbacksStillYieldsWithinAFrame) {
  QtEventLoop loop;
  constexpr int kCallbacks = 60;
  int ran = 0;
  IterationLog log;
  qaio::Future<> done = loop.create_future();
  std::function<void()> step = [&] {
    burn_cpu_ms(2.0);
    log.counted();
    if (++ran == kCallbacks) {
      done.set_result();
    } else {
      loop.call_soon(std::ref(step));
    }
  };
  loop.call_soon(std::ref(step));
  loop.run_until_complete(done);
  const int most = log.most_in_one_iteration();
  std::printf("[ figures  ] 2 ms callbacks: at most %d in one Qt iteration\n", most);
  EXPECT_EQ(ran, kCallbacks);
  // A 4 ms slice, checked on a coarse clock that may lag one 4 ms tick, plus the callback crossing
  // its end. One Qt iteration can hold two slices (the notifier's and the zero-interval timer's
  // dispatch): 6 callbacks here, every run. At most 8 (16 ms) keeps Qt's turn within a frame.
  EXPECT_LE(most, 8);
}

// A long batch of fast callbacks arms the slice alarm (src/core/slice_alarm.h) and from then on
// tests its flag instead of the clock. Slow callbacks that follow in the same batch must still
// end the slice on time: 2,000 fast callbacks, then 40 that take 2 ms of CPU each, all queued up
// front (one batch). Counted per Qt iteration (awake()): the first slice ends about 4 ms in, so
// the first iteration runs the fast ones and one to three slow ones (one more if the alarm thread
// waits for a core). Were the alarm never raised, only the clock read every 8th handle would end
// that slice: 8 slow callbacks (16 ms) here. Counting the callbacks between two ticks of a 5 ms
// Qt timer instead showed 6-8 either way.
TEST(QtScale, SlowCallbacksAfterAFastBatchStillYieldWithinAFrame) {
  QtEventLoop loop;
  constexpr int kFast = 2000;
  constexpr int kSlow = 40;
  IterationLog log;
  volatile unsigned sink = 0;  // the fast callbacks' work, so the compiler keeps it
  qaio::Future<> done = loop.create_future();
  loop.call_soon([&] {
    for (int i = 0; i < kFast; ++i) loop.call_soon([&sink, i] { sink = sink + static_cast<unsigned>(i); });
    for (int i = 0; i < kSlow; ++i) {
      loop.call_soon([&] {
        burn_cpu_ms(2.0);
        log.counted();
        if (static_cast<int>(log.ran_in.size()) == kSlow) done.set_result();
      });
    }
  });
  loop.run_until_complete(done);
  ASSERT_EQ(log.ran_in.size(), static_cast<std::size_t>(kSlow));
  const int first = log.in_first_iteration();
  std::printf("[ figures  ] 2 ms callbacks after %d fast ones: %d in the first slice, at most %d in one\n", kFast,
              first, log.most_in_one_iteration());
  EXPECT_LE(first, 5) << "the slice alarm did not end the slice";
  EXPECT_LE(log.most_in_one_iteration(), 8);  // as in ChainOfSlowCallbacksStillYieldsWithinAFrame
}
