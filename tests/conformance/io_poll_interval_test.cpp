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

// A busy loop that watches no fd skips the zero-timeout epoll_wait and looks at
// call_soon_threadsafe's posts directly (docs/design.md, "The I/O poll interval"). That must not
// delay them: a post made during iteration k runs in iteration k+1, as with a real poll.
TYPED_TEST(IoPollInterval, BusyLoopWithoutFdsRunsAThreadsafePostInTheNextIteration) {
  qaio::EventLoop& loop = this->loop;
  int runs = 0;
  bool done = false;
  int posted_at = -1;
  int ran_at = -1;
  loop.call_soon(BusyChain{&loop, &runs, &done, loop.time() + 10.0});
  loop.call_soon([&] {
    // From another thread, joined here: the post is waiting before this iteration ends.
    std::thread([&] {
      loop.call_soon_threadsafe([&] {
        ran_at = runs;
        done = true;
        loop.stop();
      });
    }).join();
    posted_at = runs;
  });
  loop.run_forever();
  ASSERT_TRUE(done);
  EXPECT_EQ(posted_at, 1);
  EXPECT_EQ(ran_at, 2);  // behind the chain's second run, queued in the same iteration
}

// The count of watched fds that decides whether a busy iteration polls must follow every add and
// remove: after readers and a writer came and went, a busy loop with no fd left runs normally,
// and a newly readable fd is still seen in the first busy iteration.
TYPED_TEST(IoPollInterval, ReadersThatComeAndGoKeepTheFirstBusyIterationPolling) {
  qaio::EventLoop& loop = this->loop;
  SocketPair first, second;
  ASSERT_GE(first.a, 0);
  ASSERT_GE(second.a, 0);
  loop.add_reader(first.a, [] {});
  loop.add_writer(first.a, [] {});
  loop.remove_writer(first.a);
  loop.remove_reader(first.a);
  loop.add_reader(first.a, [] {});
  loop.remove_reader(first.a);
  // (The chain's last callback stays queued after stop(); `done` outlives it, so it returns.)
  int runs = 0;
  bool done = false;
  loop.call_soon(BusyChain{&loop, &runs, &done, loop.time() + 10.0});
  loop.call_later(0.02, [&] {
    done = true;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(done);
  EXPECT_GT(runs, 10);
  ASSERT_EQ(::write(second.b, "x", 1), 1);
  EXPECT_EQ(chain_runs_before_reader(loop, second.a), 1);
}
