// bench/echo_loadgen.cpp: the one load generator every W4 echo server is measured with.
//
//   echo_loadgen <port> <connections> <message bytes> <seconds> <server pid> <workload> <system>
//
// Closed loop: each connection sends one message, waits until all of it came back, records the
// round-trip latency and sends the next. Single-threaded epoll, so the generator itself costs the
// same for every server. After a warm-up (a quarter of the run, at least 0.3 s) it measures
// requests/s, latency percentiles and the server's own CPU time (utime + stime of every server
// thread, from /proc/<pid>/stat) per request: the figure that stays meaningful when generator
// and server share the pinned core.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::size_t sent = 0;
  std::size_t received = 0;
  Clock::time_point started;
  bool want_write = false;
};

// Server CPU seconds (all threads) from /proc/<pid>/stat fields 14 and 15.
double server_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(text.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: %s <port> <connections> <bytes> <seconds> <server pid> <workload> <system>\n",
                 argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int nconns = std::atoi(argv[2]);
  const std::size_t size = static_cast<std::size_t>(std::atol(argv[3]));
  const double seconds = std::atof(argv[4]);
  const int server_pid = std::atoi(argv[5]);
  const std::string workload = argv[6];
  const std::string system = argv[7];

  std::string message(size, 'x');
  std::vector<char> buf(std::max<std::size_t>(size, 65536));
  std::vector<Conn> conns(static_cast<std::size_t>(nconns));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < nconns; ++i) {
    Conn& c = conns[static_cast<std::size_t>(i)];
    c.fd = connect_to(port);
    if (c.fd < 0) {
      std::fprintf(stderr, "connect %d failed: %s\n", i, std::strerror(errno));
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  // Sends what is left of the current message; arms EPOLLOUT only while the socket is full.
  auto pump_write = [&](Conn& c, std::uint32_t index) -> bool {
    while (c.sent < size) {
      ssize_t n = ::send(c.fd, message.data() + c.sent, size - c.sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) break;
        return false;
      }
      c.sent += static_cast<std::size_t>(n);
    }
    const bool need_out = c.sent < size;
    if (need_out != c.want_write) {
      epoll_event ev{};
      ev.events = EPOLLIN | (need_out ? EPOLLOUT : 0u);
      ev.data.u32 = index;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_write = need_out;
    }
    return true;
  };
  auto start_request = [&](Conn& c, std::uint32_t index) -> bool {
    c.sent = 0;
    c.received = 0;
    c.started = Clock::now();
    return pump_write(c, index);
  };

  const auto t0 = Clock::now();
  const double warmup = std::max(0.3, seconds / 4);
  const auto measure_from = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  bool measuring = false;
  double cpu_at_start = 0;
  Clock::time_point measured_t0;
  std::vector<float> latencies_us;
  latencies_us.reserve(1 << 20);
  std::uint64_t done = 0;

  for (std::uint32_t i = 0; i < conns.size(); ++i)
    if (!start_request(conns[i], i)) return 1;

  std::vector<epoll_event> events(1024);
  for (;;) {
    const auto now = Clock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      cpu_at_start = server_cpu_seconds(server_pid);
      measured_t0 = now;
    }
    if (now >= end) break;
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      const std::uint32_t index = events[k].data.u32;
      Conn& c = conns[index];
      if (events[k].events & EPOLLOUT) {
        if (!pump_write(c, index)) return 1;
      }
      if (!(events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      for (;;) {
        ssize_t r = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) {
          std::fprintf(stderr, "server closed connection %u\n", index);
          return 1;
        }
        c.received += static_cast<std::size_t>(r);
        if (c.received >= size) {
          if (c.received > size) {
            std::fprintf(stderr, "echo returned more bytes than sent\n");
            return 1;
          }
          if (measuring) {
            latencies_us.push_back(std::chrono::duration<float, std::micro>(Clock::now() - c.started).count());
            ++done;
          }
          if (!start_request(c, index)) return 1;
          break;
        }
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - measured_t0).count();
  const double server_cpu = server_cpu_seconds(server_pid) - cpu_at_start;
  for (Conn& c : conns) ::close(c.fd);
  bench::check(done > 0, "no request completed");
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    return latencies_us[std::min(latencies_us.size() - 1, static_cast<std::size_t>(p * latencies_us.size()))];
  };
  std::printf("RESULT %s %s %.4g us/req rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f server_cpu_s=%.3f n=%llu\n",
              workload.c_str(), system.c_str(), server_cpu * 1e6 / static_cast<double>(done),
              static_cast<double>(done) / elapsed, pct(0.50), pct(0.99), latencies_us.back(), server_cpu,
              static_cast<unsigned long long>(done));
  return 0;
}
