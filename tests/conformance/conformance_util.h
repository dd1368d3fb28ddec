// conformance_util.h: small helpers shared by the conformance cases (message checks, one-iteration
// runs, live-object counters, fd counting). Only the public API of qaio::EventLoop is used, so every
// helper works for each loop in LoopFactories.
#pragma once

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "loop_factories.h"

// Expects `stmt` to throw exactly type E (or a subclass) whose what() equals `msg`.
#define QAIO_EXPECT_THROW_MSG(stmt, E, msg)                                                  \
  do {                                                                                       \
    bool qaio_thrown_ = false;                                                               \
    try {                                                                                    \
      stmt;                                                                                  \
    } catch (const E& qaio_e_) {                                                             \
      qaio_thrown_ = true;                                                                   \
      EXPECT_EQ(std::string(qaio_e_.what()), std::string(msg));                              \
    }                                                                                        \
    EXPECT_TRUE(qaio_thrown_) << "expected " #E " from: " #stmt;                            \
  } while (0)

namespace conformance {

// Runs exactly one iteration of the loop: the pre-stop idiom (spec item 8) polls once without
// blocking, runs what is ready, and returns.
inline void run_one_iteration(qaio::EventLoop& loop) {
  loop.stop();
  loop.run_forever();
}

// Seconds elapsed while running fn().
inline double timed(const std::function<void()>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Number of open file descriptors of this process (entries of /proc/self/fd, minus the one that
// opendir itself uses while counting).
inline int open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  int n = 0;
  while (::readdir(dir) != nullptr) ++n;
  ::closedir(dir);
  return n - 3;  // ".", ".." and the directory's own fd
}

// A connected AF_UNIX, non-blocking socket pair closed at scope exit.
struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
      a = sv[0];
      b = sv[1];
    }
  }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// An RAII object counting how many instances are alive; placed as a local in a coroutine it counts
// live coroutine frames.
struct LiveCounter {
  static inline long alive = 0;
  LiveCounter() { ++alive; }
  LiveCounter(const LiveCounter&) { ++alive; }
  ~LiveCounter() { --alive; }
};

// Coroutines most cases need.
inline qaio::Coro<int> returns(int v) { co_return v; }
inline qaio::Coro<void> sleeps(double seconds) { co_await qaio::sleep(seconds); }
template <class T>
qaio::Coro<T> await_future(qaio::Future<T> f) {
  co_return co_await f;
}
inline qaio::Coro<void> await_void_future(qaio::Future<> f) { co_await f; }

}  // namespace conformance
