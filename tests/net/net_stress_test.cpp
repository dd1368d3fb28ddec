// net_stress_test.cpp: scale and fd accounting on both loops: 10,000 concurrent connections to
// one qaio echo server, each getting its own bytes back; 10,000 connect/close cycles that leave
// the fd count where it started; a serving server's room in the fd table (FdTable tests below).
//
// The 10k clients run in a forked child with its own SelectorEventLoop, so that the server
// process needs only one fd per connection (the hard RLIMIT_NOFILE here is 20,000).
#include <fcntl.h>
#include <poll.h>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "net_test_util.h"

QAIO_LOOP_SUITE(NetStress);

namespace {
constexpr int kConnections = 10000;

void raise_nofile() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

std::string payload_for(int i) { return "client-" + std::to_string(i) + "-" + std::string(static_cast<std::size_t>(i % 97), 'x') + "\n"; }

// The child's client: all connections open at once, then each writes and reads its own line.
qaio::Coro<int> many_clients(std::uint16_t port) {
  std::vector<std::pair<qaio::StreamReader, qaio::StreamWriter>> conns;
  conns.reserve(kConnections);
  for (int i = 0; i < kConnections; i += 500) {
    std::vector<qaio::Task<std::pair<qaio::StreamReader, qaio::StreamWriter>>> batch;
    for (int j = i; j < std::min(kConnections, i + 500); ++j)
      batch.push_back(qaio::get_running_loop().create_task(qaio::open_connection("127.0.0.1", port)));
    for (auto& t : batch) conns.push_back(co_await t);
  }
  for (int i = 0; i < kConnections; ++i) conns[static_cast<std::size_t>(i)].second.write(payload_for(i));
  int bad = 0;
  for (int i = 0; i < kConnections; ++i) {
    std::string line = co_await conns[static_cast<std::size_t>(i)].first.readline();
    if (line != payload_for(i)) {
      if (bad++ < 3) std::fprintf(stderr, "client %d got '%s'\n", i, line.c_str());
    }
  }
  for (auto& c : conns) c.second.close();
  for (auto& c : conns) co_await c.second.wait_closed();
  co_return bad;
}

// Echo that counts how many connections are open at the same time.
struct CountingEcho : qaio::Protocol {
  qaio::Transport* t = nullptr;
  int* live;
  int* peak;
  CountingEcho(int* l, int* p) : live(l), peak(p) {}
  void connection_made(qaio::Transport& tr) override {
    t = &tr;
    *peak = std::max(*peak, ++*live);
  }
  void data_received(std::string_view d) override { t->write(d); }
  void connection_lost(std::exception_ptr) override { --*live; }
};

qaio::Coro<int> wait_child(pid_t pid) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) co_return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    co_await qaio::sleep(0.01);
  }
}
}  // namespace

TYPED_TEST(NetStress, TenThousandConcurrentConnections) {
  auto& loop = this->loop;
  raise_nofile();
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(kConnections + 200)) << "RLIMIT_NOFILE too low for this test";
  int live = 0, peak = 0;
  auto server = loop.run_until_complete(loop.create_server(
      [&] { return std::make_shared<CountingEcho>(&live, &peak); }, "127.0.0.1", 0, {.backlog = 4096}));
  std::uint16_t port = server->sockets().at(0).port();
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 1;
    try {
      qaio::SelectorEventLoop client_loop;
      rc = client_loop.run_until_complete(many_clients(port)) == 0 ? 0 : 1;
      client_loop.close();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      rc = 2;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  double start = loop.time();
  int rc = loop.run_until_complete(wait_child(pid));
  double took = loop.time() - start;
  std::printf("[ figures  ] %d concurrent connections echoed in %.2f s (peak open %d)\n", kConnections, took, peak);
  EXPECT_EQ(rc, 0) << "some client did not get its own bytes back";
  EXPECT_EQ(peak, kConnections) << "the connections were not all open at once";
  loop.run_until_complete(nettest::wait_until([&] { return live == 0; }, 30));
  EXPECT_EQ(live, 0);
  server->close();
  loop.run_until_complete(server->wait_closed());
}

namespace {
// Completes `lost` in connection_lost, so a cycle waits exactly as long as the close takes.
struct LostSignal : qaio::Protocol {
  qaio::Future<> lost;
  explicit LostSignal(qaio::Future<> f) : lost(std::move(f)) {}
  void connection_lost(std::exception_ptr) override { lost.set_result(); }
};

qaio::Coro<void> cycles(qaio::EventLoop& loop, std::uint16_t port, int n) {
  for (int i = 0; i < n; ++i) {
    qaio::Future<> lost = loop.create_future();
    // (g++ 12: the capturing lambda is built in its own statement, never beside a co_await.)
    qaio::ProtocolFactory factory = [lost] { return std::make_shared<LostSignal>(lost); };
    auto [tr, proto] = co_await loop.create_connection(std::move(factory), "127.0.0.1", port);
    tr->close();
    co_await lost;
  }
}
}  // namespace

TYPED_TEST(NetStress, TenThousandConnectCloseCyclesKeepFdCount) {
  auto& loop = this->loop;
  int accepted_lost = 0;
  struct Closer : qaio::Protocol {
    int* lost;
    explicit Closer(int* l) : lost(l) {}
    void connection_lost(std::exception_ptr) override { ++*lost; }
  };
  auto server = loop.run_until_complete(
      loop.create_server([&] { return std::make_shared<Closer>(&accepted_lost); }, "127.0.0.1", 0));
  std::uint16_t port = server->sockets().at(0).port();
  loop.run_until_complete(cycles(loop, port, 10));  // warm up lazily created fds (executor, ...)
  loop.run_until_complete(nettest::wait_until([&] { return accepted_lost == 10; }));
  int before = nettest::open_fd_count();
  double start = loop.time();
  loop.run_until_complete(cycles(loop, port, 10000));
  loop.run_until_complete(nettest::wait_until([&] { return accepted_lost == 10010; }, 30));
  std::printf("[ figures  ] 10000 connect/close cycles in %.2f s\n", loop.time() - start);
  EXPECT_EQ(accepted_lost, 10010);
  EXPECT_EQ(nettest::open_fd_count(), before);
  server->close();
  loop.run_until_complete(server->wait_closed());
}

namespace {
// The number of fd slots in the calling thread's fd table (FDSize in /proc/thread-self/status).
int fd_table_size() {
  std::FILE* f = std::fopen("/proc/thread-self/status", "r");
  if (!f) return -1;
  char line[256];
  int size = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "FDSize: %d", &size) == 1) break;
  std::fclose(f);
  return size;
}

int lowest_free_fd() {
  const int fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  if (fd >= 0) ::close(fd);
  return fd;
}

// What a check measured in its child process (see in_fresh_process), -1 where it did not get
// that far, and the error that stopped it, if any.
struct TableFigures {
  int before = -1;       // the table's size when the check began
  int lowest_free = -1;  // the lowest free fd number then
  long limit = -1;       // the soft RLIMIT_NOFILE the check set, if it set one
  int serving = -1;      // the table's size once the server serves
  int after = -1;        // ... and once its connections were accepted
  int accepted = -1;
  char error[200] = {};
};

// Runs `check` in a forked child and returns what it measured. A child gets a table of its own
// that the kernel sizes for the fds open at the fork, so the check sees a table the earlier tests'
// 10,000 connections did not grow, and what it changes (the table, the rlimit) stays in the
// child. unshare(CLONE_FILES) would give a thread the same, but container seccomp profiles
// (Docker's default) deny it; fork() is allowed everywhere. The check runs its own
// SelectorEventLoop: what it measures is Server's, the same on both loops.
template <typename Check>
TableFigures in_fresh_process(Check check) {
  int channel[2];
  if (::pipe(channel) != 0) {
    TableFigures failed;
    std::snprintf(failed.error, sizeof failed.error, "pipe: %s", std::strerror(errno));
    return failed;
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(channel[0]);
    TableFigures figures;
    try {
      check(figures);
    } catch (const std::exception& e) {
      std::snprintf(figures.error, sizeof figures.error, "%s", e.what());
    }
    const ssize_t n = ::write(channel[1], &figures, sizeof figures);
    ::_exit(n == static_cast<ssize_t>(sizeof figures) ? 0 : 1);
  }
  ::close(channel[1]);
  TableFigures figures;
  std::size_t got = 0;
  while (pid > 0 && got < sizeof figures) {
    // A child stuck after the fork (it forks a threaded process) fails the test in 60 s, not at
    // CTest's timeout.
    pollfd readable{channel[0], POLLIN, 0};
    if (::poll(&readable, 1, 60000) == 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    const ssize_t n = ::read(channel[0], reinterpret_cast<char*>(&figures) + got, sizeof figures - got);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  ::close(channel[0]);
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  if (pid < 0 || got != sizeof figures) {
    figures = TableFigures{};
    std::snprintf(figures.error, sizeof figures.error, "the child reported nothing (fork: %s, status %d)",
                  pid < 0 ? std::strerror(errno) : "ok", status);
  }
  return figures;
}

struct CountedProtocol : qaio::Protocol {
  int* accepted;
  explicit CountedProtocol(int* a) : accepted(a) {}
  void connection_made(qaio::Transport&) override { ++*accepted; }
};

// Opens `n` loopback connections to `port` and waits until the server has accepted all of them.
qaio::Coro<std::vector<std::shared_ptr<qaio::Transport>>> open_connections(qaio::EventLoop& loop,
                                                                           std::uint16_t port, int n,
                                                                           const int* accepted) {
  std::vector<std::shared_ptr<qaio::Transport>> clients;
  for (int i = 0; i < n; ++i) {
    qaio::ProtocolFactory factory = [] { return std::make_shared<qaio::Protocol>(); };
    auto [tr, proto] = co_await loop.create_connection(std::move(factory), "127.0.0.1", port);
    clients.push_back(tr);
  }
  co_await nettest::wait_until([accepted, n] { return *accepted == n; }, 30);
  co_return clients;
}

// Serves on a new listener with `backlog`, records the table size once serving, then has
// `connections` clients connect and be accepted, and records the size again.
void serve_burst(int backlog, int connections, TableFigures& figures) {
  qaio::SelectorEventLoop loop;
  int accepted = 0;
  auto server = loop.run_until_complete(loop.create_server(
      [&accepted] { return std::make_shared<CountedProtocol>(&accepted); }, "127.0.0.1", 0, {.backlog = backlog}));
  figures.serving = fd_table_size();
  auto clients = loop.run_until_complete(open_connections(loop, server->sockets().at(0).port(), connections, &accepted));
  figures.accepted = accepted;
  figures.after = fd_table_size();
  for (auto& c : clients) c->close();
  server->close();
  loop.run_until_complete(server->wait_closed());
  loop.close();
}
}  // namespace

// A server that starts serving makes room in the fd table for `backlog` connections (at least
// 1,024), so that Linux does not grow the table while a burst is being accepted: in a threaded
// process each growth waits for an RCU grace period, 10-30 ms here, on the loop thread (a lost Qt
// frame per doubling; see src/core/fd_table.h). Shown through the kernel's own figure, FDSize.
TEST(FdTable, ServingServerMakesRoomForItsBacklog) {
  raise_nofile();
  constexpr int kAccepted = 400;  // 800 fds of the child (both ends): all inside the room
  const TableFigures f = in_fresh_process([](TableFigures& figures) {
    figures.before = fd_table_size();
    figures.lowest_free = lowest_free_fd();
    serve_burst(figures.before + 1000, kAccepted, figures);  // more than the table holds now
  });
  ASSERT_STREQ(f.error, "");
  ASSERT_GT(f.before, 0) << "no FDSize in /proc/thread-self/status";
  EXPECT_EQ(f.accepted, kAccepted);
  // The loop's own fds and the listener take the lowest free numbers; the room starts above them.
  EXPECT_GE(f.serving, f.lowest_free + f.before + 1000) << "the table was not grown for the backlog";
  EXPECT_EQ(f.after, f.serving) << "the table grew while the connections were accepted";
}

// A small backlog still gets room for 1,024 connections: a listener's backlog says little about
// how many connections a server keeps open, and a table below 1,024 entries would double three
// times during the first thousand of them.
TEST(FdTable, ASmallBacklogStillGetsRoomFor1024) {
  raise_nofile();
  const TableFigures f = in_fresh_process([](TableFigures& figures) {
    figures.before = fd_table_size();
    figures.lowest_free = lowest_free_fd();
    serve_burst(8, 3, figures);
  });
  ASSERT_STREQ(f.error, "");
  ASSERT_GT(f.before, 0) << "no FDSize in /proc/thread-self/status";
  ASSERT_LT(f.before, f.lowest_free + 1024) << "the child's table was already big enough to show nothing";
  EXPECT_EQ(f.accepted, 3);
  EXPECT_GE(f.serving, f.lowest_free + 1024) << "the table was grown for the backlog of 8 only";
}

// The room is capped by RLIMIT_NOFILE: fd numbers past the soft limit can never be used (the
// kernel refuses them), so a huge backlog under a lower limit grows the table up to the limit,
// and the server serves.
TEST(FdTable, RoomStopsAtTheSoftLimit) {
  const TableFigures f = in_fresh_process([](TableFigures& figures) {
    figures.before = fd_table_size();
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    // Above the table (so reaching the limit means growing it), far below the backlog's room.
    figures.limit = 2L * figures.before + 1;
    if (figures.before <= 0 || static_cast<rlim_t>(figures.limit) > rl.rlim_max) return;
    rl.rlim_cur = static_cast<rlim_t>(figures.limit);
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) throw std::runtime_error(std::string("setrlimit: ") + std::strerror(errno));
    serve_burst(100000, 3, figures);
  });
  ASSERT_STREQ(f.error, "");
  ASSERT_GT(f.before, 0) << "no FDSize in /proc/thread-self/status";
  ASSERT_GE(f.serving, 0) << "RLIMIT_NOFILE's hard limit is below " << f.limit << ", too low for this test";
  EXPECT_EQ(f.accepted, 3);
  EXPECT_GE(f.serving, f.limit) << "the table was not grown up to the soft limit";
  // The kernel sizes a table in powers of two: room up to the limit is at most twice the limit.
  EXPECT_LE(f.serving, 2 * f.limit) << "the table grew past what the soft limit allows";
  EXPECT_EQ(f.after, f.serving);
}
