// net_server.cpp: qaio::Server: listening sockets, accepting, and asyncio's close/wait_closed
// bookkeeping (spec items 77-84).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "fd_table.h"
#include "net_transport_impl.h"
#include "net_unix_path.h"
#include "qaio/server.h"
#include "qaio/sleep.h"

namespace qaio {

namespace {
constexpr double kAcceptRetryDelay = 1.0;  // asyncio's constants.ACCEPT_RETRY_DELAY
// A serving server makes room in the fd table for this many connections, or `backlog` if more,
// so that a burst of them does not stall the loop while the kernel grows the table (fd_table.h).
constexpr int kReservedConnections = 1024;
}

Server::Server(EventLoop& loop, std::vector<int> fds, ProtocolFactory factory, int backlog)
    : loop_(loop), fds_(std::move(fds)), factory_(std::move(factory)), backlog_(backlog) {}

Server::~Server() {
  // Normally close() ran already; a Server dropped while open still must not leak its fds.
  for (int fd : fds_) {
    if (!loop_.is_closed()) loop_.remove_reader(fd);
    ::close(fd);
  }
  for (auto& t : retry_timers_) t.cancel();
}

std::vector<ServerSocket> Server::sockets() const {
  std::vector<ServerSocket> out;
  for (int fd : fds_) out.emplace_back(fd);
  return out;
}

void Server::start_serving_now() {
  if (serving_ || closed_) return;
  serving_ = true;
  if (!fds_.empty()) detail::reserve_fd_table(fds_.front(), std::max(backlog_, kReservedConnections));
  for (int fd : fds_) {
    if (::listen(fd, backlog_) < 0) throw_os_error(errno, "listen()");
    loop_.add_reader(fd, [self = shared_from_this(), fd] { self->accept_ready(fd); });
  }
}

Coro<void> Server::start_serving() {
  start_serving_now();
  // One iteration, so that every listener is registered when this returns (asyncio does this).
  co_await sleep(0);
}

void Server::accept_ready(int fd) {
  for (int i = 0; i < std::max(backlog_, 1); ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int conn = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) return;
      ErrorContext ctx;
      ctx.exception = make_os_error(err, "accept()");
      ctx.socket = fd;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of fds: stop watching the listener for a while instead of spinning on a readiness
        // we cannot consume; the listener itself stays open (asyncio's _accept_connection).
        ctx.message = "socket.accept() out of system resource";
        loop_.call_exception_handler(ctx);
        loop_.remove_reader(fd);
        std::weak_ptr<Server> weak = weak_from_this();
        retry_timers_.push_back(loop_.call_later(kAcceptRetryDelay, [weak, fd] {
          auto self = weak.lock();
          if (!self || self->closed_ || !self->serving_) return;
          self->loop_.add_reader(fd, [s = self, fd] { s->accept_ready(fd); });
        }));
        if (retry_timers_.size() > 16) retry_timers_.erase(retry_timers_.begin());
        return;
      }
      ctx.message = "Error on accept()";
      loop_.call_exception_handler(ctx);
      return;
    }
    sockaddr* sa = reinterpret_cast<sockaddr*>(&ss);
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
      int one = 1;
      ::setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    std::shared_ptr<BaseProtocol> protocol;
    try {
      protocol = factory_();
      if (!protocol) throw std::invalid_argument("the protocol factory returned no protocol");
    } catch (const BaseException&) {
      ::close(conn);
      throw;
    } catch (...) {
      ErrorContext ctx;
      ctx.message = "Error on transport creation for incoming connection";
      ctx.exception = std::current_exception();
      ctx.socket = conn;
      ::close(conn);
      loop_.call_exception_handler(ctx);
      continue;
    }
    auto transport = std::make_shared<detail::StreamTransport>(loop_, conn, std::move(protocol),
                                                               detail::FdKind::socket, shared_from_this());
    transport->start(Future<>());
  }
}

void Server::close() {
  if (closed_) return;
  closed_ = true;
  for (int fd : fds_) {
    if (!loop_.is_closed()) loop_.remove_reader(fd);
    ::close(fd);
  }
  fds_.clear();
  for (auto& t : retry_timers_) t.cancel();
  retry_timers_.clear();
  detail::unlink_socket_file(unix_path_);
  serving_ = false;
  if (serving_forever_ && !serving_forever_.done()) serving_forever_.cancel();
  serving_forever_ = Future<>();
  if (active_count_ == 0) wakeup();
}

void Server::wakeup() {
  if (waiters_done_) return;
  waiters_done_ = true;
  std::vector<Future<>> waiters;
  waiters.swap(waiters_);
  for (auto& w : waiters)
    if (!w.done()) w.set_result();
}

Coro<void> Server::wait_closed() {
  // Keeps blocking while the server is open or any accepted connection is (3.12.1+ semantics).
  if (waiters_done_) co_return;
  Future<> waiter = loop_.create_future();
  waiters_.push_back(waiter);
  co_await waiter;
}

Coro<void> Server::serve_forever() {
  if (serving_forever_) throw RuntimeError("server is already being awaited on serve_forever()");
  if (closed_) throw RuntimeError("server is closed");
  start_serving_now();
  serving_forever_ = loop_.create_future();
  Future<> fut = serving_forever_;
  std::exception_ptr cancelled;
  try {
    co_await fut;
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  } catch (...) {
    serving_forever_ = Future<>();
    throw;
  }
  serving_forever_ = Future<>();
  if (cancelled) {
    close();
    co_await wait_closed();
    std::rethrow_exception(cancelled);
  }
}

void Server::close_clients() {
  std::vector<Transport*> clients(clients_.begin(), clients_.end());
  for (Transport* t : clients) t->close();
}

void Server::abort_clients() {
  std::vector<Transport*> clients(clients_.begin(), clients_.end());
  for (Transport* t : clients) t->abort();
}

void Server::attach(Transport* t) {
  ++active_count_;
  clients_.insert(t);
}

void Server::detach(Transport* t) {
  if (clients_.erase(t) == 0) return;
  --active_count_;
  if (active_count_ == 0 && closed_) wakeup();
}

}  // namespace qaio
