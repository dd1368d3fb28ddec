// io_poll_interval_test.cpp: EventLoop::set_io_poll_interval, issue 8's documented relaxation of
// asyncio's iteration. The default (1) polls I/O every iteration, as asyncio does; with N > 1 a loop
// busy with callbacks polls every N iterations, while timers keep expiring every iteration and an
// idle loop still blocks in the poll (so it wakes for I/O at once).
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "conformance_util.h"

using conformance::SocketPair;

QAIO_LOOP_SUITE(IoPollInterval);

namespace {

// A callback that reschedules itself until told to stop: one run per iteration, so `runs` counts
// the iterations the loop made while it was busy.
struct BusyChain {
  qaio::EventLoop* loop;
  int* runs;
  bool* done;
  double give_up_at;  // loop.time() after which a broken loop fails the test instead of hanging it
  void operator()() const {
    if (*done) return;
    ++*runs;
    if (loop->time() > give_up_at) {
      loop->stop();
      return;
    }
    loop->call_soon(BusyChain{loop, runs, done, give_up_at});
  }
};

// Runs a busy chain while `fd` is readable and returns how many chain runs happened before the
// reader ran (the reader is registered before the chain starts, so 1 means "the first iteration").
int chain_runs_before_reader(qaio::EventLoop& loop, int fd) {
  int runs = 0;
  bool done = false;
  int runs_at_read = -1;
  loop.add_reader(fd, [&] {
    runs_at_read = runs;
    done = true;
    loop.remove_reader(fd);
    loop.stop();
  });
  loop.call_soon(BusyChain{&loop, &runs, &done, loop.time() + 10.0});
  loop.run_forever();
  return runs_at_read;
}

}  // namespace

TYPED_TEST(IoPollInterval, DefaultIsAsyncioOneAndZeroIsRejected) {
  qaio::EventLoop& loop = this->loop;
  EXPECT_EQ(loop.io_poll_interval(), 1u);
  EXPECT_THROW(loop.set_io_poll_interval(0), std::invalid_argument);
  EXPECT_EQ(loop.io_poll_interval(), 1u);
  loop.set_io_poll_interval(64);
  EXPECT_EQ(loop.io_poll_interval(), 64u);
}

TYPED_TEST(IoPollInterval, DefaultPollsIoInTheFirstBusyIteration) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  ASSERT_GE(sp.a, 0);
  ASSERT_EQ(::write(sp.b, "x", 1), 1);
  // asyncio: the reader of a readable fd is queued by the first poll, behind the chain's callback.
  EXPECT_EQ(chain_runs_before_reader(loop, sp.a), 1);
}

TYPED_TEST(IoPollInterval, BusyLoopPollsEveryNthIteration) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  ASSERT_GE(sp.a, 0);
  ASSERT_EQ(::write(sp.b, "x", 1), 1);
  loop.set_io_poll_interval(8);
  // The first iteration is busy (the chain's first callback is queued), so the poll is skipped
  // until the 8th: the readable fd is seen late, but never later than that.
  EXPECT_EQ(chain_runs_before_reader(loop, sp.a), 8);
}

TYPED_TEST(IoPollInterval, TimersStillExpireEveryIterationWhileBusy) {
  qaio::EventLoop& loop = this->loop;
  loop.set_io_poll_interval(1'000'000);
  int runs = 0;
  bool done = false;
  int runs_at_timer = -1;
  // Due at once: the first iteration that expires timers runs it. If timers were only expired on
  // poll iterations, the chain would run a million times first.
  loop.call_later(0, [&] {
    runs_at_timer = runs;
    done = true;
    loop.stop();
  });
  loop.call_soon(BusyChain{&loop, &runs, &done, loop.time() + 10.0});
  loop.run_forever();
  EXPECT_TRUE(done);
  EXPECT_GE(runs_at_timer, 0);
  EXPECT_LE(runs_at_timer, 2);
}

TYPED_TEST(IoPollInterval, IdleLoopStillWakesForIoAndThreadsafeCalls) {
  qaio::EventLoop& loop = this->loop;
  loop.set_io_poll_interval(1'000'000);
  SocketPair sp;
  ASSERT_GE(sp.a, 0);
  bool read = false;
  std::thread poster;
  loop.add_reader(sp.a, [&] {
    read = true;
    loop.remove_reader(sp.a);
    // Then a call from another thread must wake the idle loop as well.
    poster = std::thread([&loop] { loop.call_soon_threadsafe([&loop] { loop.stop(); }); });
  });
  bool gave_up = false;
  loop.call_later(5.0, [&] {  // a loop that never wakes fails here instead of hanging the suite
    gave_up = true;
    loop.stop();
  });
  std::thread writer([fd = sp.b] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)!::write(fd, "x", 1);
  });
  const double took = conformance::timed([&] { loop.run_forever(); });
  writer.join();
  if (poster.joinable()) poster.join();
  EXPECT_FALSE(gave_up);
  EXPECT_TRUE(read);
  EXPECT_LT(took, 5.0);
}
