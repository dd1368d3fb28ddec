// process_subprocess_test.cpp: the subprocess behaviours asyncio documents (asyncio-subprocess.rst,
// test_asyncio/test_subprocess.py), with real children (/bin/cat, /bin/sh, coreutils), on both loops:
// stdin/stdout round-trip, communicate with large input and output, exit codes, kill/terminate/
// send_signal giving negative returncodes, shell pipelines, STDOUT/DEVNULL redirection, cwd/env,
// start failures, and the low-level SubprocessProtocol event order. The SIGCHLD watcher (the
// fallback for kernels without pidfd_open) runs a subset of them again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "conformance_util.h"

using qaio::Coro;
using qaio::Process;

namespace {

qaio::SubprocessOptions pipes(bool in, bool out, bool err = false) {
  qaio::SubprocessOptions o;
  if (in) o.stdin_ = qaio::PIPE;
  if (out) o.stdout_ = qaio::PIPE;
  if (err) o.stderr_ = qaio::PIPE;
  return o;
}

// True if this process has no child left, zombie or not (WNOWAIT: nobody is reaped by looking).
bool no_children_left() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

Coro<std::string> cat_round_trip() {
  std::string program = "/bin/cat";
  Process p = co_await qaio::create_subprocess_exec(std::move(program), {}, pipes(true, true));
  EXPECT_GT(p.pid(), 0);
  EXPECT_FALSE(p.returncode().has_value());
  auto in = *p.stdin_writer();
  auto out = *p.stdout_reader();
  in.write("hello\n");
  co_await in.drain();
  std::string first = co_await out.readline();
  in.write("world\n");
  in.write_eof();
  std::string rest = co_await out.read();
  int rc = co_await p.wait();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(p.returncode(), std::optional<int>(0));
  co_return first + rest;
}

Coro<std::pair<std::string, std::string>> communicate(std::string program, std::vector<std::string> args,
                                                      qaio::SubprocessOptions options, std::string input,
                                                      int expected_rc) {
  Process p = co_await qaio::create_subprocess_exec(std::move(program), std::move(args), std::move(options));
  auto result = co_await p.communicate(std::move(input));
  EXPECT_EQ(p.returncode(), std::optional<int>(expected_rc));
  co_return result;
}

Coro<int> exit_code_of(std::string cmd) {
  Process p = co_await qaio::create_subprocess_shell(std::move(cmd));
  co_return co_await p.wait();
}

Coro<int> signal_child(int sig, int how) {
  std::vector<std::string> args{"30"};
  Process p = co_await qaio::create_subprocess_exec("/bin/sleep", std::move(args));
  co_await qaio::sleep(0.05);
  EXPECT_FALSE(p.returncode().has_value());
  if (how == 0) p.kill();
  if (how == 1) p.terminate();
  if (how == 2) p.send_signal(sig);
  co_return co_await p.wait();
}

Coro<std::string> shell_output(std::string cmd, qaio::SubprocessOptions options) {
  Process p = co_await qaio::create_subprocess_shell(std::move(cmd), std::move(options));
  auto [out, err] = co_await p.communicate();
  EXPECT_EQ(err, "");
  co_return out;
}

Coro<void> start_missing_program() {
  std::string program = "/nonexistent/qaio-no-such-program";
  co_await qaio::create_subprocess_exec(std::move(program), {}, pipes(true, true));
}

Coro<std::vector<std::string>> stream_lines() {
  std::string cmd = "echo a; sleep 0.1; echo b";
  Process p = co_await qaio::create_subprocess_shell(std::move(cmd), pipes(false, true));
  auto out = *p.stdout_reader();
  std::vector<std::string> lines;
  for (;;) {
    std::string line = co_await out.readline();
    if (line.empty()) break;
    lines.push_back(line);
  }
  EXPECT_EQ(co_await p.wait(), 0);
  co_return lines;
}

Coro<int> cancel_wait_then_kill() {
  std::vector<std::string> args{"30"};
  Process p = co_await qaio::create_subprocess_exec("/bin/sleep", std::move(args));
  auto waiter = qaio::get_running_loop().create_task(p.wait());
  co_await qaio::sleep(0.05);
  waiter.cancel();
  bool cancelled = false;
  try {
    co_await waiter;
  } catch (const qaio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(p.returncode().has_value());  // cancelling the wait does not touch the child
  p.kill();
  co_return co_await p.wait();
}

// Records the SubprocessProtocol events in order.
struct Recorder : qaio::SubprocessProtocol {
  std::vector<std::string> events;
  std::string out;
  qaio::SubprocessTransport* transport = nullptr;
  qaio::Future<> lost;
  explicit Recorder(qaio::Future<> f) : lost(std::move(f)) {}
  void connection_made(qaio::SubprocessTransport& t) override {
    transport = &t;
    events.push_back("made");
  }
  void pipe_data_received(int fd, std::string_view data) override {
    if (fd == 1) out += data;
    if (events.back() != "data1") events.push_back("data" + std::to_string(fd));
  }
  void pipe_connection_lost(int fd, std::exception_ptr) override { events.push_back("pipe_lost" + std::to_string(fd)); }
  void process_exited() override { events.push_back("exited"); }
  void connection_lost(std::exception_ptr exc) override {
    events.push_back(exc ? "lost_with_error" : "lost");
    lost.set_result();
  }
};

Coro<std::shared_ptr<Recorder>> low_level_echo() {
  auto& loop = qaio::get_running_loop();
  auto lost = loop.create_future();
  std::shared_ptr<Recorder> rec;
  qaio::SubprocessProtocolFactory factory = [&rec, lost]() -> std::shared_ptr<qaio::SubprocessProtocol> {
    rec = std::make_shared<Recorder>(lost);
    return rec;
  };
  std::vector<std::string> argv{"/bin/cat"};
  auto pair = co_await loop.subprocess_exec(std::move(factory), std::move(argv), pipes(true, true));
  EXPECT_EQ(pair.second, rec);
  EXPECT_EQ(rec->events, std::vector<std::string>{"made"});  // connection_made ran before we got here
  EXPECT_EQ(rec->transport, pair.first.get());
  EXPECT_EQ(pair.first->get_pipe_transport(2), nullptr);
  qaio::Transport* in = pair.first->get_pipe_transport(0);
  EXPECT_NE(in, nullptr);
  in->write("ping");
  in->close();
  co_await lost;
  EXPECT_EQ(co_await pair.first->wait(), 0);
  EXPECT_EQ(pair.first->get_returncode(), std::optional<int>(0));
  co_return rec;
}

// The call shape API.md shows: designated initializers for the options.
Coro<std::string> api_shape() {
  auto p = co_await qaio::create_subprocess_exec("/bin/cat", {}, {.stdin_ = qaio::PIPE, .stdout_ = qaio::PIPE});
  auto [out, err] = co_await p.communicate("input");
  EXPECT_EQ(co_await p.wait(), 0);
  // Once the transport finished, signalling is asyncio's ProcessLookupError (ESRCH).
  bool lookup_error = false;
  try {
    p.send_signal(SIGTERM);
  } catch (const qaio::OSError& e) {
    lookup_error = e.errnum() == ESRCH;
  }
  EXPECT_TRUE(lookup_error);
  co_return out;
}

}  // namespace

QAIO_LOOP_SUITE(Subprocess);

TYPED_TEST(Subprocess, ApiShapeAndSignalAfterExit) {
  EXPECT_EQ(this->loop.run_until_complete(api_shape()), "input");
}

TYPED_TEST(Subprocess, StdinStdoutRoundTrip) {
  EXPECT_EQ(this->loop.run_until_complete(cat_round_trip()), "hello\nworld\n");
}

TYPED_TEST(Subprocess, CommunicateWithLargeInputAndOutput) {
  // 4 MiB each way through cat: far more than a pipe holds, so writing and reading must overlap.
  std::string input;
  input.reserve(4u << 20);
  for (int i = 0; input.size() < (4u << 20); ++i) input += "line " + std::to_string(i) + "\n";
  auto [out, err] = this->loop.run_until_complete(communicate("cat", {}, pipes(true, true, true), input, 0));
  EXPECT_EQ(out.size(), input.size());
  EXPECT_TRUE(out == input);
  EXPECT_EQ(err, "");
}

TYPED_TEST(Subprocess, CommunicateLargeOutputOnly) {
  auto [out, err] = this->loop.run_until_complete(
      communicate("/bin/sh", {"-c", "head -c 3000000 /dev/zero; echo done >&2"}, pipes(false, true, true), "", 0));
  EXPECT_EQ(out, std::string(3000000, '\0'));
  EXPECT_EQ(err, "done\n");
}

TYPED_TEST(Subprocess, ExitCodes) {
  for (int n : {0, 1, 7, 255}) EXPECT_EQ(this->loop.run_until_complete(exit_code_of("exit " + std::to_string(n))), n);
}

TYPED_TEST(Subprocess, KilledChildHasNegativeReturncode) {
  EXPECT_EQ(this->loop.run_until_complete(signal_child(0, 0)), -SIGKILL);
  EXPECT_EQ(this->loop.run_until_complete(signal_child(0, 1)), -SIGTERM);
  EXPECT_EQ(this->loop.run_until_complete(signal_child(SIGHUP, 2)), -SIGHUP);
}

TYPED_TEST(Subprocess, ShellPipelineAndStderrIntoStdout) {
  EXPECT_EQ(this->loop.run_until_complete(shell_output("echo hello | tr a-z A-Z", pipes(false, true))), "HELLO\n");
  auto o = pipes(false, true);
  o.stderr_ = qaio::STDOUT;
  EXPECT_EQ(this->loop.run_until_complete(shell_output("echo out; echo err >&2", o)), "out\nerr\n");
}

TYPED_TEST(Subprocess, DevnullRedirections) {
  qaio::SubprocessOptions o;
  o.stdin_ = qaio::DEVNULL;
  o.stdout_ = qaio::PIPE;
  auto [out, err] = this->loop.run_until_complete(communicate("cat", {}, o, "", 0));
  EXPECT_EQ(out, "");  // cat read EOF from /dev/null at once
  qaio::SubprocessOptions quiet;
  quiet.stdout_ = qaio::DEVNULL;
  quiet.stderr_ = qaio::DEVNULL;
  EXPECT_EQ(this->loop.run_until_complete(shell_output("echo lost; echo lost >&2", quiet)), "");
}

TYPED_TEST(Subprocess, CwdAndEnv) {
  auto o = pipes(false, true);
  o.cwd = "/";
  o.env = std::vector<std::string>{"QAIO_X=forty two", "PATH=/usr/bin:/bin"};
  EXPECT_EQ(this->loop.run_until_complete(shell_output("pwd; echo \"$QAIO_X\"; echo \"${HOME-unset}\"", o)),
            "/\nforty two\nunset\n");
}

TYPED_TEST(Subprocess, ChildStartsWithCleanSignalState) {
  // The loop blocks the signals it handles and the transports ignore SIGPIPE: none of that may
  // reach the child (Python's restore_signals).
  this->loop.add_signal_handler(SIGUSR1, [] {});
  auto out = this->loop.run_until_complete(
      shell_output("grep -E '^Sig(Blk|Ign)' /proc/self/status", pipes(false, true)));
  EXPECT_NE(out.find("SigBlk:\t0000000000000000"), std::string::npos) << out;
  // SIGPIPE is bit 13 (mask 0x1000): the child must not ignore it.
  auto ign = out.substr(out.find("SigIgn:\t") + 8, 16);
  EXPECT_EQ(std::stoull(ign, nullptr, 16) & (1ull << (SIGPIPE - 1)), 0u) << out;
  EXPECT_TRUE(this->loop.remove_signal_handler(SIGUSR1));
}

TYPED_TEST(Subprocess, MissingProgramIsFileNotFound) {
  int fds_before = conformance::open_fd_count();
  bool thrown = false;
  try {
    this->loop.run_until_complete(start_missing_program());
  } catch (const qaio::OSError& e) {
    thrown = true;
    EXPECT_EQ(e.errnum(), ENOENT);
  }
  EXPECT_TRUE(thrown);
  EXPECT_EQ(conformance::open_fd_count(), fds_before);  // the pipes made for it are closed again
}

TYPED_TEST(Subprocess, ReadsLinesAsTheChildWritesThem) {
  EXPECT_EQ(this->loop.run_until_complete(stream_lines()), (std::vector<std::string>{"a\n", "b\n"}));
}

TYPED_TEST(Subprocess, InputToAChildThatDoesNotReadIsNotAnError) {
  auto [out, err] = this->loop.run_until_complete(
      communicate("/bin/sh", {"-c", "exit 3"}, pipes(true, true), std::string(1 << 20, 'x'), 3));
  EXPECT_EQ(out, "");
}

TYPED_TEST(Subprocess, CancellingWaitLeavesTheChildAlone) {
  EXPECT_EQ(this->loop.run_until_complete(cancel_wait_then_kill()), -SIGKILL);
}

TYPED_TEST(Subprocess, LowLevelProtocolEventOrder) {
  auto rec = this->loop.run_until_complete(low_level_echo());
  EXPECT_EQ(rec->out, "ping");
  ASSERT_GE(rec->events.size(), 5u);
  EXPECT_EQ(rec->events.front(), "made");
  EXPECT_EQ(rec->events.back(), "lost");  // after the exit and every pipe
  auto pos = [&](const std::string& e) { return std::find(rec->events.begin(), rec->events.end(), e) - rec->events.begin(); };
  EXPECT_LT(pos("data1"), pos("pipe_lost1"));
  EXPECT_LT(pos("pipe_lost0"), static_cast<long>(rec->events.size()));
  EXPECT_LT(pos("exited"), static_cast<long>(rec->events.size()) - 1);
}

TYPED_TEST(Subprocess, SigchldWatcherFallback) {
  qaio::detail::force_sigchld_child_watcher(true);
  struct Restore {
    ~Restore() { qaio::detail::force_sigchld_child_watcher(false); }
  } restore;
  EXPECT_FALSE(qaio::detail::using_pidfd_child_watcher());
  EXPECT_EQ(this->loop.run_until_complete(cat_round_trip()), "hello\nworld\n");
  EXPECT_EQ(this->loop.run_until_complete(exit_code_of("exit 5")), 5);
  EXPECT_EQ(this->loop.run_until_complete(signal_child(0, 0)), -SIGKILL);
  // Another child of ours that the watcher does not own is left alone: we reap it ourselves.
  pid_t stranger = ::fork();
  if (stranger == 0) ::_exit(42);
  EXPECT_EQ(this->loop.run_until_complete(exit_code_of("exit 6")), 6);
  int status = 0;
  EXPECT_EQ(::waitpid(stranger, &status, 0), stranger);
  EXPECT_EQ(WEXITSTATUS(status), 42);
}

TYPED_TEST(Subprocess, NothingLeftBehind) {
  int fds_before = conformance::open_fd_count();
  EXPECT_EQ(this->loop.run_until_complete(cat_round_trip()), "hello\nworld\n");
  EXPECT_EQ(this->loop.run_until_complete(exit_code_of("exit 2")), 2);
  EXPECT_TRUE(no_children_left());
  EXPECT_EQ(conformance::open_fd_count(), fds_before);
}

TYPED_TEST(Subprocess, ClosingTheLoopWithAChildRunningReapsItLater) {
  pid_t pid = this->loop.run_until_complete([]() -> Coro<pid_t> {
    std::vector<std::string> args{"0.2"};
    Process p = co_await qaio::create_subprocess_exec("/bin/sleep", std::move(args));
    co_return p.pid();
  }());
  this->loop.close();
  // The background reaper waits for it; poll for its disappearance (no zombie remains).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gone = ::kill(pid, 0) != 0 && errno == ESRCH;
  }
  EXPECT_TRUE(gone);
}
