// net_test_util.h: helpers shared by the networking conformance cases (net_*_test.cpp): fd
// ownership, listening sockets on loopback, free ports, fd counting and recording protocols.
#pragma once

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fcntl.h>
#include <string>
#include <vector>

#include "loop_factories.h"

namespace nettest {

// Closes its fd at scope exit (a test failure must not leak fds into the next case).
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  ~Fd() { reset(); }
  int release() { return std::exchange(fd, -1); }
  void reset() {
    if (fd >= 0) ::close(std::exchange(fd, -1));
  }
  int get() const { return fd; }
};

// A non-blocking TCP socket listening on 127.0.0.1 (or ::1) with a kernel-chosen port.
inline int listener(int family = AF_INET, int backlog = 128) {
  int fd = qaio::open_socket(family, SOCK_STREAM);
  qaio::SocketAddress a(family == AF_INET ? "127.0.0.1" : "::1", 0);
  if (::bind(fd, a.native(), a.native_size()) < 0 || ::listen(fd, backlog) < 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on loopback");
  }
  return fd;
}

inline std::uint16_t port_of(int fd) { return qaio::SocketAddress::local_of(fd).port(); }

// A loopback port nobody listens on right now (bound, then closed).
inline std::uint16_t unused_port(int family = AF_INET) {
  int fd = qaio::open_socket(family, SOCK_STREAM);
  qaio::SocketAddress a(family == AF_INET ? "127.0.0.1" : "::1", 0);
  ::bind(fd, a.native(), a.native_size());
  std::uint16_t p = port_of(fd);
  ::close(fd);
  return p;
}

// Open fds of this process (what /proc/self/fd lists, minus the DIR's own fd).
inline int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
    n -= 3;  // ".", ".." and the directory's fd
  }
  return n;
}

// Blocking helpers for peers that run in plain threads.
inline std::string read_all_blocking(int fd) {
  qaio::set_blocking(fd, true);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// A protocol that records every callback, for assertions on order and payloads.
struct Recorder : qaio::Protocol {
  qaio::Transport* transport = nullptr;
  std::vector<std::string> events;
  std::string data;
  std::exception_ptr lost_exc;
  int lost = 0;
  int eof = 0;
  bool keep_open_on_eof = false;
  bool pause_in_connection_made = false;
  int paused = 0;
  int resumed = 0;
  void connection_made(qaio::Transport& t) override {
    transport = &t;
    events.push_back("made");
    if (pause_in_connection_made) t.pause_reading();
  }
  void data_received(std::string_view d) override {
    if (events.empty() || events.back() != "data") events.push_back("data");
    data.append(d);
  }
  bool eof_received() override {
    ++eof;
    events.push_back("eof");
    return keep_open_on_eof;
  }
  void connection_lost(std::exception_ptr exc) override {
    ++lost;
    lost_exc = exc;
    events.push_back("lost");
  }
  void pause_writing() override { ++paused; }
  void resume_writing() override { ++resumed; }
};

// Echoes everything back; closes when the peer sends EOF.
struct Echo : qaio::Protocol {
  qaio::Transport* transport = nullptr;
  void connection_made(qaio::Transport& t) override { transport = &t; }
  void data_received(std::string_view d) override { transport->write(d); }
};

inline qaio::Coro<void> sleep_for(double seconds) { co_await qaio::sleep(seconds); }
// Runs the loop for `seconds` (0: one iteration).
inline void spin(qaio::EventLoop& loop, double seconds = 0) { loop.run_until_complete(sleep_for(seconds)); }

// Waits (running the loop) until pred() holds or `timeout` seconds pass; returns pred().
template <class Pred>
qaio::Coro<bool> wait_until(Pred pred, double timeout = 5.0) {
  qaio::EventLoop& loop = qaio::get_running_loop();
  double end = loop.time() + timeout;
  while (!pred()) {
    if (loop.time() > end) co_return false;
    co_await qaio::sleep(0.002);
  }
  co_return true;
}

}  // namespace nettest
