// qaio/server.h: qaio::Server, what create_server()/create_unix_server()/start_server() return.
//
// A Server owns its listening sockets and keeps count of the connections it accepted, so that
// wait_closed() can wait for them as asyncio's does (spec items 82-84). Accepting follows
// asyncio's _accept_connection: up to `backlog` accepts per readiness event, and when the process
// runs out of fds (EMFILE/ENFILE/ENOBUFS/ENOMEM) the listener is unwatched for one second and
// then retried, instead of busy-looping or closing it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "qaio/coro.h"
#include "qaio/future.h"
#include "qaio/handle.h"
#include "qaio/socket_address.h"
#include "qaio/sockets.h"

namespace qaio {

class EventLoop;
class Transport;

// A view of one listening socket (asyncio's TransportSocket): the Server still owns the fd.
class ServerSocket {
 public:
  explicit ServerSocket(int fd) noexcept : fd_(fd) {}
  int fd() const noexcept { return fd_; }
  SocketAddress address() const { return SocketAddress::local_of(fd_); }
  std::uint16_t port() const { return address().port(); }
  int family() const { return address().family(); }

 private:
  int fd_;
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  // Made by the loop; `fds` are bound (and maybe listening) sockets the Server now owns.
  Server(EventLoop& loop, std::vector<int> fds, ProtocolFactory factory, int backlog);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  EventLoop& get_loop() const noexcept { return loop_; }
  // Stops listening and closes the listening sockets; accepted connections stay open.
  void close();
  // Completes once the server is closed and every connection it accepted has gone.
  Coro<void> wait_closed();
  bool is_serving() const noexcept { return serving_; }
  // Starts accepting (listen() + watch the sockets). Does nothing if already serving.
  Coro<void> start_serving();
  // Serves until cancelled; cancelling closes the server and waits for it (wait_closed).
  Coro<void> serve_forever();
  // The listening sockets; empty once closed.
  std::vector<ServerSocket> sockets() const;
  // Close / abort every connection this server accepted (3.13).
  void close_clients();
  void abort_clients();

  // ---- internals (transports, the loop) ----
  void attach(Transport* t);
  void detach(Transport* t);
  void start_serving_now();
  // A Unix socket path removed when the server closes (asyncio's cleanup_socket).
  void set_unix_path(std::string path) { unix_path_ = std::move(path); }
  std::size_t active_count() const noexcept { return active_count_; }

 private:
  void accept_ready(int fd);
  void wakeup();

  EventLoop& loop_;
  std::vector<int> fds_;
  ProtocolFactory factory_;
  int backlog_;
  bool serving_ = false;
  bool closed_ = false;
  bool waiters_done_ = false;
  std::size_t active_count_ = 0;
  std::unordered_set<Transport*> clients_;
  std::vector<Future<>> waiters_;
  Future<> serving_forever_;
  std::vector<TimerHandle> retry_timers_;
  std::string unix_path_;
};

}  // namespace qaio
