// signal_handlers_test.cpp: spec section 19, loop.add_signal_handler / remove_signal_handler
// (items 148-149, and item 2 for a closed loop), on real signals sent to this process.
//
// Every case restores what it changes: dispositions and mask bits are checked after remove and
// after close, which is also what keeps a stray SIGUSR1 from killing the test binary later.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conformance_util.h"

using conformance::timed;

namespace {

bool blocked_in_this_thread(int sig) {
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}

void (*disposition(int sig))(int) {
  struct sigaction sa {};
  sigaction(sig, nullptr, &sa);
  return sa.sa_handler;
}

// A string is not a signal number: Python's TypeError is a compile error here.
template <class L>
concept TakesStringSignal = requires(L& l, void (*fn)()) { l.add_signal_handler("boom", fn); };
static_assert(!TakesStringSignal<qaio::EventLoop>, "add_signal_handler('boom', h) must not compile");

}  // namespace

QAIO_LOOP_SUITE(SignalHandlers);

TYPED_TEST(SignalHandlers, Item148_InvalidNumbersAreValueErrors) {
  auto& loop = this->loop;
  for (int sig : {0, -1, NSIG + 1, NSIG, 32, 33}) {
    const std::string msg = "invalid signal number " + std::to_string(sig);
    QAIO_EXPECT_THROW_MSG(loop.add_signal_handler(sig, [] {}), std::invalid_argument, msg);
    QAIO_EXPECT_THROW_MSG(loop.remove_signal_handler(sig), std::invalid_argument, msg);
  }
  EXPECT_FALSE(qaio::is_valid_signal(0));
  EXPECT_TRUE(qaio::is_valid_signal(SIGINT));
  EXPECT_TRUE(qaio::is_valid_signal(SIGRTMIN));
}

TYPED_TEST(SignalHandlers, Item148_SigkillAndSigstopCannotBeCaught) {
  auto& loop = this->loop;
  QAIO_EXPECT_THROW_MSG(loop.add_signal_handler(SIGKILL, [] {}), qaio::RuntimeError, "sig 9 cannot be caught");
  QAIO_EXPECT_THROW_MSG(loop.add_signal_handler(SIGSTOP, [] {}), qaio::RuntimeError,
                        "sig " + std::to_string(SIGSTOP) + " cannot be caught");
  EXPECT_FALSE(loop.remove_signal_handler(SIGKILL));
  // The failed add left nothing behind: SIGKILL's bit is not in our mask, nothing is registered.
  EXPECT_FALSE(blocked_in_this_thread(SIGKILL));
  EXPECT_FALSE(loop.remove_signal_handler(SIGSTOP));
}

TYPED_TEST(SignalHandlers, Item2_ClosedLoopRefusesAddSignalHandler) {
  auto& loop = this->loop;
  loop.close();
  QAIO_EXPECT_THROW_MSG(loop.add_signal_handler(SIGUSR1, [] {}), qaio::RuntimeError, "Event loop is closed");
  EXPECT_EQ(disposition(SIGUSR1), SIG_DFL);
}

TYPED_TEST(SignalHandlers, Item149_HandlerRunsWithItsArgsThenRemoveRestores) {
  auto& loop = this->loop;
  std::vector<std::pair<int, std::string>> calls;
  ASSERT_EQ(disposition(SIGUSR1), SIG_DFL);
  ASSERT_FALSE(blocked_in_this_thread(SIGUSR1));
  loop.add_signal_handler(
      SIGUSR1, [&](int n, const std::string& s) { calls.emplace_back(n, s); loop.stop(); }, 7,
      std::string("args"));
  EXPECT_TRUE(blocked_in_this_thread(SIGUSR1));
  loop.call_soon([] { ::kill(::getpid(), SIGUSR1); });
  loop.call_later(10, [&] { loop.stop(); });  // safety net only
  double took = timed([&] { loop.run_forever(); });
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (std::pair<int, std::string>{7, "args"}));
  EXPECT_LT(took, 5.0);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
  EXPECT_EQ(disposition(SIGUSR1), SIG_DFL);
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
}

TYPED_TEST(SignalHandlers, Item149_SignalWakesALoopBlockedInPoll) {
  auto& loop = this->loop;
  int got = 0;
  loop.add_signal_handler(SIGUSR2, [&] {
    ++got;
    loop.stop();
  });
  loop.call_later(30, [&] { loop.stop(); });  // the only timer: the poll would block 30 s
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(::getpid(), SIGUSR2);  // process-directed, as a shell's `kill` would send it
  });
  double took = timed([&] { loop.run_forever(); });
  sender.join();
  EXPECT_EQ(got, 1);
  EXPECT_GE(took, 0.05);
  EXPECT_LT(took, 5.0);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
}

// A thread that existed before the handler was added does not block the signal; a signal aimed at
// that very thread must still reach the loop (the forwarding disposition) and not kill us.
TYPED_TEST(SignalHandlers, Item149_SignalDeliveredToAnotherThreadReachesTheLoop) {
  auto& loop = this->loop;
  std::atomic<bool> go{false}, quit{false};
  std::atomic<pthread_t> other_id{};
  std::thread other([&] {
    other_id = pthread_self();
    go = true;
    while (!quit) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  while (!go) std::this_thread::yield();
  int got = 0;
  loop.add_signal_handler(SIGUSR1, [&] {
    ++got;
    loop.stop();
  });
  loop.call_later(0.05, [&] { pthread_kill(other_id.load(), SIGUSR1); });
  loop.call_later(10, [&] { loop.stop(); });
  double took = timed([&] { loop.run_forever(); });
  quit = true;
  other.join();
  EXPECT_EQ(got, 1);
  EXPECT_LT(took, 5.0);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

TYPED_TEST(SignalHandlers, Item149_PreviousDispositionComesBackOnRemoveAndOnClose) {
  auto& loop = this->loop;
  struct sigaction ignore {}, saved {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR2, &ignore, &saved);
  loop.add_signal_handler(SIGUSR2, [] {});
  EXPECT_NE(disposition(SIGUSR2), SIG_IGN);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
  EXPECT_EQ(disposition(SIGUSR2), SIG_IGN);

  // close() gives back every signal the loop still handles (asyncio's close removes them all).
  loop.add_signal_handler(SIGUSR2, [] {});
  loop.add_signal_handler(SIGINT, [] {});
  EXPECT_TRUE(blocked_in_this_thread(SIGINT));
  loop.close();
  EXPECT_EQ(disposition(SIGUSR2), SIG_IGN);
  EXPECT_EQ(disposition(SIGINT), SIG_DFL);
  EXPECT_FALSE(blocked_in_this_thread(SIGINT));
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
  sigaction(SIGUSR2, &saved, nullptr);
}

TYPED_TEST(SignalHandlers, Item149_ReplacingAHandlerKeepsOneRegistration) {
  auto& loop = this->loop;
  std::vector<int> seen;
  loop.add_signal_handler(SIGUSR1, [&] { seen.push_back(1); });
  loop.add_signal_handler(SIGUSR1, [&] {
    seen.push_back(2);
    loop.stop();
  });
  loop.call_soon([] { ::raise(SIGUSR1); });
  loop.call_later(10, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(seen, std::vector<int>{2});
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
}

TYPED_TEST(SignalHandlers, Item149_AnErrorInTheHandlerGoesToTheExceptionHandler) {
  auto& loop = this->loop;
  this->capture_errors();
  loop.add_signal_handler(SIGUSR1, [&] {
    loop.call_soon([&] { loop.stop(); });
    throw std::runtime_error("handler failed");
  });
  loop.call_soon([] { ::raise(SIGUSR1); });
  loop.call_later(10, [&] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(this->errors.size(), 1u);
  EXPECT_NE(this->errors[0].message.find("Exception in callback"), std::string::npos);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

TYPED_TEST(SignalHandlers, OneLoopPerSignalInTheProcess) {
  auto& loop = this->loop;
  auto other = this->make_other_loop();
  loop.add_signal_handler(SIGUSR1, [] {});
  QAIO_EXPECT_THROW_MSG(other->add_signal_handler(SIGUSR1, [] {}), qaio::RuntimeError,
                        "sig " + std::to_string(SIGUSR1) + " is already handled by another event loop");
  EXPECT_FALSE(other->remove_signal_handler(SIGUSR1));
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
  other->add_signal_handler(SIGUSR1, [] {});  // free again
  other->close();
  EXPECT_EQ(disposition(SIGUSR1), SIG_DFL);
}

TYPED_TEST(SignalHandlers, ManySignalsWhileRunningAreAllNoticed) {
  auto& loop = this->loop;
  // Standard signals coalesce while pending (as in asyncio); each one sent after the previous was
  // handled is seen separately.
  int got = 0;
  loop.add_signal_handler(SIGUSR1, [&] {
    if (++got == 20) {
      loop.stop();
    } else {
      ::kill(::getpid(), SIGUSR1);
    }
  });
  loop.call_soon([] { ::kill(::getpid(), SIGUSR1); });
  loop.call_later(10, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(got, 20);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}
