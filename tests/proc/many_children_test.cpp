// many_children_test.cpp: 200 children at once (/bin/cat fed and read, /bin/sh -c 'exit N'), every
// exit code and every echo checked; afterwards this process has no child left (zombie or not) and
// exactly the fds it had before. Run with the pidfd watcher and with the SIGCHLD fallback.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "conformance_util.h"

namespace {

constexpr int kChildren = 200;

qaio::Coro<int> cat_child(int i) {
  qaio::SubprocessOptions options;
  options.stdin_ = qaio::PIPE;
  options.stdout_ = qaio::PIPE;
  std::string program = "/bin/cat";
  qaio::Process p = co_await qaio::create_subprocess_exec(std::move(program), {}, options);
  std::string input;
  for (int k = 0; k < 50; ++k) input += "child " + std::to_string(i) + " line " + std::to_string(k) + "\n";
  auto [out, err] = co_await p.communicate(input);
  EXPECT_EQ(out, input) << "cat child " << i;
  co_return *p.returncode();
}

qaio::Coro<int> exit_child(int n) {
  std::string program = "/bin/sh";
  std::vector<std::string> args{"-c", "exit " + std::to_string(n)};
  qaio::Process p = co_await qaio::create_subprocess_exec(std::move(program), std::move(args));
  co_return co_await p.wait();
}

qaio::Coro<int> spawn_all() {
  auto& loop = qaio::get_running_loop();
  std::vector<qaio::Task<int>> tasks;
  for (int i = 0; i < kChildren; ++i) {
    if (i % 2 == 0) {
      tasks.push_back(loop.create_task(cat_child(i)));
    } else {
      tasks.push_back(loop.create_task(exit_child(i % 256)));
    }
  }
  int checked = 0;
  for (int i = 0; i < kChildren; ++i) {
    int rc = co_await tasks[static_cast<std::size_t>(i)];
    EXPECT_EQ(rc, i % 2 == 0 ? 0 : i % 256) << "child " << i;
    ++checked;
  }
  co_return checked;
}

bool no_children_left() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

}  // namespace

QAIO_LOOP_SUITE(ManyChildren);

TYPED_TEST(ManyChildren, TwoHundredConcurrentChildrenNoZombiesNoLeaks) {
  for (bool sigchld : {false, true}) {
    qaio::detail::force_sigchld_child_watcher(sigchld);
    const int fds_before = conformance::open_fd_count();
    auto start = std::chrono::steady_clock::now();
    int checked = this->loop.run_until_complete(spawn_all());
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    qaio::detail::force_sigchld_child_watcher(false);
    EXPECT_EQ(checked, kChildren);
    EXPECT_TRUE(no_children_left());
    // The SIGCHLD watcher keeps the loop's signalfd open until the loop closes: one fd, not per child.
    EXPECT_EQ(conformance::open_fd_count(), fds_before + (sigchld ? 1 : 0));
    std::printf("[ figures  ] %d children via %s watcher: %.3f s\n", kChildren, sigchld ? "SIGCHLD" : "pidfd", took);
  }
}
