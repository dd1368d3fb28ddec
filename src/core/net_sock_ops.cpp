// net_sock_ops.cpp: the loop's low-level socket coroutines (sock_recv, sock_sendall, sock_connect,
// sock_accept, ...) and name resolution through the default executor.
//
// Each operation first tries the system call; only when it would block does the task park on the
// fd's readiness (FdWait), then it retries. Nothing stays registered once the coroutine returns,
// throws or is cancelled, so the caller's fd is left exactly as it was (spec items 61-65).
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "net_fd_wait.h"
#include "qaio/event_loop.h"
#include "qaio/sleep.h"
#include "qaio/socket_address.h"

namespace qaio {

namespace {

void check_nonblocking(const EventLoop& loop, int fd) {
  if (fd < 0) throw std::invalid_argument("Invalid file descriptor: " + std::to_string(fd));
  // asyncio only checks in debug mode (spec item 60): a blocking fd would stall the whole loop.
  if (loop.get_debug() && is_blocking(fd)) throw std::invalid_argument("the socket must be non-blocking");
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

Coro<std::string> EventLoop::sock_recv(int fd, std::size_t nbytes) {
  check_nonblocking(*this, fd);
  std::string buf(nbytes, '\0');
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), nbytes, 0);
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      co_return buf;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (!would_block(err)) throw_os_error(err);
    co_await detail::FdWait(*this, fd, true);
  }
}

Coro<std::size_t> EventLoop::sock_recv_into(int fd, std::span<std::byte> buffer) {
  check_nonblocking(*this, fd);
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n >= 0) co_return static_cast<std::size_t>(n);
    int err = errno;
    if (err == EINTR) continue;
    if (!would_block(err)) throw_os_error(err);
    co_await detail::FdWait(*this, fd, true);
  }
}

Coro<void> EventLoop::sock_sendall(int fd, std::string data) {
  check_nonblocking(*this, fd);
  std::size_t sent = 0;
  while (sent < data.size()) {
    // MSG_NOSIGNAL: a closed peer is an EPIPE error here, never a SIGPIPE.
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (!would_block(err)) throw_os_error(err);
    co_await detail::FdWait(*this, fd, false);
  }
}

Coro<void> EventLoop::sock_connect(int fd, SocketAddress address) {
  check_nonblocking(*this, fd);
  const std::string context = "Connect call failed " + address.to_string();
  for (;;) {
    if (::connect(fd, address.native(), address.native_size()) == 0) co_return;
    int err = errno;
    if (err == EAGAIN && address.is_unix()) {
      // A Unix listener with a full backlog: the connect did not start; try again shortly.
      co_await sleep(0.005);
      continue;
    }
    if (err != EINPROGRESS && err != EINTR && !would_block(err)) throw_os_error(err, context);
    break;
  }
  co_await detail::FdWait(*this, fd, false);
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0) throw_os_error(errno, context);
  if (so_error != 0) throw_os_error(so_error, context);
}

Coro<std::pair<int, SocketAddress>> EventLoop::sock_accept(int fd) {
  check_nonblocking(*this, fd);
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int conn = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) co_return std::pair(conn, SocketAddress::from_native(reinterpret_cast<sockaddr*>(&ss), len));
    int err = errno;
    if (err == EINTR) continue;
    if (!would_block(err)) throw_os_error(err);
    co_await detail::FdWait(*this, fd, true);
  }
}

namespace {

std::exception_ptr gai_error(int code, int saved_errno) {
  if (code == EAI_SYSTEM) return make_os_error(saved_errno, "getaddrinfo");
  return std::make_exception_ptr(GaiError(code, "[Errno " + std::to_string(code) + "] " + ::gai_strerror(code)));
}

std::vector<AddrInfo> resolve(const std::string& host, const std::string& port, AddrInfoHints hints) {
  addrinfo want{};
  want.ai_family = hints.family;
  want.ai_socktype = hints.type;
  want.ai_protocol = hints.protocol;
  want.ai_flags = hints.flags;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.empty() ? nullptr : port.c_str(), &want, &res);
  if (rc != 0) std::rethrow_exception(gai_error(rc, errno));
  std::vector<AddrInfo> out;
  for (addrinfo* p = res; p; p = p->ai_next) {
    AddrInfo ai;
    ai.family = p->ai_family;
    ai.type = p->ai_socktype;
    ai.protocol = p->ai_protocol;
    if (p->ai_canonname) ai.canonname = p->ai_canonname;
    ai.address = SocketAddress::from_native(p->ai_addr, p->ai_addrlen);
    out.push_back(std::move(ai));
  }
  ::freeaddrinfo(res);
  return out;
}

}  // namespace

Coro<std::vector<AddrInfo>> EventLoop::getaddrinfo(std::string host, std::string port, AddrInfoHints hints) {
  // Numeric hosts need no thread hop (asyncio's _ipaddr_info shortcut): resolve inline.
  bool numeric_port = !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
  if (!host.empty() && numeric_port) {
    try {
      SocketAddress a(host, static_cast<std::uint16_t>(std::stoul(port)));
      if (hints.family == AF_UNSPEC || hints.family == a.family()) {
        hints.flags |= AI_NUMERICHOST | AI_NUMERICSERV;
        co_return resolve(host, port, hints);
      }
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
    }
  }
  // (g++ 12: a capturing lambda and co_await must not share one expression.)
  auto lookup = run_in_executor(nullptr, [host = std::move(host), port = std::move(port), hints] {
    return resolve(host, port, hints);
  });
  co_return co_await lookup;
}

Coro<std::pair<std::string, std::string>> EventLoop::getnameinfo(SocketAddress address, int flags) {
  auto lookup = run_in_executor(nullptr, [address, flags] {
    char host[NI_MAXHOST] = {};
    char serv[NI_MAXSERV] = {};
    int rc = ::getnameinfo(address.native(), address.native_size(), host, sizeof host, serv, sizeof serv, flags);
    if (rc != 0) std::rethrow_exception(gai_error(rc, errno));
    return std::pair<std::string, std::string>(host, serv);
  });
  co_return co_await lookup;
}

}  // namespace qaio
