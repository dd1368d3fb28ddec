// bench/mem_qaio.cpp: issue 8's memory figures for qaio: heap bytes per idle task, per pending
// timer and per idle connection, measured as the growth of glibc's in-use heap (mallinfo2) plus
// the bytes in use in qaio's slab pools (handles, frames, future and task states live there,
// outside malloc) while n objects are alive.
//
//   bench_mem_qaio <task|frame|timer|connection> [n]
//
//   task        n tasks parked on a future that never completes (the whole cost of a task)
//   frame       n coroutine frames of the same body, never started (what "beyond its coroutine
//               frame" subtracts)
//   timer       n call_later timers pending far in the future
//   connection  n accepted TCP connections served by an idle protocol (server side only; the
//               client ends are raw sockets whose memory is in the kernel, not on this heap)
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "qaio/qaio.h"

namespace {

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd + qaio::detail::slab_live_bytes_this_thread();
}

void report_bytes(const char* what, double bytes_per_object, std::uint64_t n) {
  std::printf("RESULT mem_%s qaio %.1f B/obj n=%llu\n", what, bytes_per_object, static_cast<unsigned long long>(n));
}

qaio::Coro<void> idle_body(qaio::Future<> never) { co_await never; }

qaio::Coro<void> park_tasks(qaio::EventLoop* loop, std::uint64_t n, double* per_task) {
  qaio::Future<> never = loop->create_future();
  std::vector<qaio::Task<>> tasks;
  tasks.reserve(n);
  const std::size_t before = heap_in_use();
  for (std::uint64_t i = 0; i < n; ++i) tasks.push_back(loop->create_task(idle_body(never)));
  co_await qaio::sleep(0);  // every task takes its first step and parks on `never`
  co_await qaio::sleep(0);
  const std::size_t after = heap_in_use();
  *per_task = static_cast<double>(after - before) / static_cast<double>(n);
  for (auto& t : tasks) bench::check(!t.done(), "an idle task finished");
  never.cancel();
  for (auto& t : tasks) {
    try {
      co_await t;
    } catch (const qaio::CancelledError&) {
    }
  }
}

class IdleProtocol : public qaio::Protocol {};

qaio::Coro<void> idle_connections(qaio::EventLoop* loop, std::uint64_t n, double* per_conn) {
  std::uint64_t made = 0;
  auto factory = [&made]() -> std::shared_ptr<qaio::BaseProtocol> {
    ++made;
    return std::make_shared<IdleProtocol>();
  };
  qaio::ServerOptions options;
  options.backlog = 4096;
  std::shared_ptr<qaio::Server> server = co_await loop->create_server(factory, "127.0.0.1", 0, options);
  const std::uint16_t port = server->sockets().at(0).port();
  std::vector<int> clients;
  clients.reserve(n);
  const std::size_t before = heap_in_use();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (std::uint64_t i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bench::check(fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
    clients.push_back(fd);
    // Let the server accept as we go, so the backlog never overflows.
    if (i % 256 == 255) co_await qaio::sleep(0.001);
  }
  for (int spins = 0; made < n && spins < 5000; ++spins) co_await qaio::sleep(0.001);
  bench::check(made == n, "server accepted " + std::to_string(made) + " of " + std::to_string(n));
  const std::size_t after = heap_in_use();
  *per_conn = static_cast<double>(after - before) / static_cast<double>(n);
  for (int fd : clients) ::close(fd);
  server->close();
  co_await server->wait_closed();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <task|frame|timer|connection> [n]\n", argv[0]);
    return 2;
  }
  const std::string what = argv[1];
  const std::uint64_t n = bench::count_arg(argc, argv, 2, what == "connection" ? 8'000 : 100'000);
  qaio::SelectorEventLoop loop;
  qaio::set_event_loop(&loop);
  if (what == "task") {
    double per = 0;
    loop.run_until_complete(park_tasks(&loop, n, &per));
    report_bytes("task", per, n);
  } else if (what == "frame") {
    qaio::Future<> never = loop.create_future();
    std::vector<qaio::Coro<void>> frames;
    frames.reserve(n);
    const std::size_t before = heap_in_use();
    for (std::uint64_t i = 0; i < n; ++i) frames.push_back(idle_body(never));
    report_bytes("frame", static_cast<double>(heap_in_use() - before) / static_cast<double>(n), n);
  } else if (what == "timer") {
    std::vector<qaio::TimerHandle> timers;
    timers.reserve(n);
    const std::size_t before = heap_in_use();
    for (std::uint64_t i = 0; i < n; ++i) timers.push_back(loop.call_later(3600.0, [] {}));
    report_bytes("timer", static_cast<double>(heap_in_use() - before) / static_cast<double>(n), n);
    for (auto& t : timers) t.cancel();
  } else if (what == "connection") {
    double per = 0;
    loop.run_until_complete(idle_connections(&loop, n, &per));
    report_bytes("connection", per, n);
  } else {
    std::fprintf(stderr, "unknown object '%s'\n", what.c_str());
    return 2;
  }
  qaio::set_event_loop(nullptr);
  return 0;
}
