// sigint_run_test.cpp: SIGINT to a console program that uses qaio::run (tests/proc/sigint_child.cpp)
// cancels its main task cleanly, as asyncio.Runner does: the task's finally-block runs, every record
// it wrote is whole, and qaio::run raises KeyboardInterrupt (the program exits 130). A second SIGINT
// while the task ignores the first raises KeyboardInterrupt out of the loop.
#include <signal.h>

#include <sstream>
#include <string>
#include <vector>

#include "conformance_util.h"

namespace {

struct Outcome {
  std::vector<std::string> lines;
  int returncode = 0;
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Starts the child, waits until it runs, sends `interrupts` SIGINTs 100 ms apart, collects its output.
qaio::Coro<Outcome> interrupt_child(std::vector<std::string> args, int interrupts) {
  qaio::SubprocessOptions options;
  options.stdout_ = qaio::PIPE;
  std::string program = QAIO_SIGINT_CHILD;
  qaio::Process p = co_await qaio::create_subprocess_exec(std::move(program), std::move(args), options);
  qaio::StreamReader out = *p.stdout_reader();
  std::string first = co_await out.readline();
  EXPECT_EQ(first, "ready\n");
  for (int i = 0; i < interrupts; ++i) {
    co_await qaio::sleep(0.1);  // let it write a few records, then interrupt it mid-stream
    p.send_signal(SIGINT);
  }
  auto [rest, err] = co_await p.communicate();
  Outcome o;
  o.lines = split_lines(first + rest);
  o.returncode = *p.returncode();
  co_return o;
}

void expect_whole_records(const std::vector<std::string>& lines, int& records) {
  records = 0;
  for (const auto& l : lines) {
    if (l.rfind("record ", 0) != 0) continue;
    EXPECT_EQ(l, "record " + std::to_string(records) + " " + std::string(64, 'x'));
    ++records;
  }
}

}  // namespace

QAIO_LOOP_SUITE(SigintRun);

TYPED_TEST(SigintRun, FirstSigintCancelsTheMainTaskAndItsFinallyRuns) {
  Outcome o = this->loop.run_until_complete(interrupt_child({}, 1));
  ASSERT_GE(o.lines.size(), 4u);
  int records = 0;
  expect_whole_records(o.lines, records);
  EXPECT_GT(records, 0);
  const std::size_t n = o.lines.size();
  EXPECT_EQ(o.lines[n - 3], "cancelled");
  EXPECT_EQ(o.lines[n - 2], "finally " + std::to_string(records));
  EXPECT_EQ(o.lines[n - 1], "KeyboardInterrupt");
  EXPECT_EQ(o.returncode, 130);  // not -SIGINT: nothing was killed mid-write
}

TYPED_TEST(SigintRun, SecondSigintRaisesKeyboardInterruptOutOfTheLoop) {
  Outcome o = this->loop.run_until_complete(interrupt_child({"stubborn"}, 2));
  int records = 0;
  expect_whole_records(o.lines, records);
  std::vector<std::string> tail;
  for (const auto& l : o.lines)
    if (l.rfind("record ", 0) != 0) tail.push_back(l);
  EXPECT_EQ(tail, (std::vector<std::string>{"ready", "ignoring cancel", "cancelled", "finally " + std::to_string(records),
                                            "KeyboardInterrupt"}));
  EXPECT_EQ(o.returncode, 130);
}

TEST(SigintRun, RunLeavesSigintAsItFoundIt) {
  struct sigaction before {}, after {};
  sigaction(SIGINT, nullptr, &before);
  EXPECT_EQ(qaio::run(conformance::returns(5)), 5);
  sigaction(SIGINT, nullptr, &after);
  EXPECT_EQ(before.sa_handler, after.sa_handler);
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  EXPECT_EQ(sigismember(&mask, SIGINT), 0);
}
