// net_connect.cpp: the loop's outgoing connections: create_connection (every resolved address in
// turn, failures reported together), create_unix_connection, connect_accepted_socket and the
// transport hand-over they share.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "net_transport_impl.h"

namespace qaio {

namespace detail {

int socket_type(int fd) noexcept {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -1;
  return type;
}

Coro<void> wait_started(std::shared_ptr<Transport> transport, Future<> waiter) {
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    transport->close();
    std::rethrow_exception(error);
  }
}

Coro<ConnectionPair> make_stream_connection(EventLoop& loop, int fd, ProtocolFactory factory, FdKind kind) {
  std::shared_ptr<BaseProtocol> protocol;
  try {
    set_blocking(fd, false);
    if (kind == FdKind::socket) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
          (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        int one = 1;  // asyncio sets TCP_NODELAY on every TCP transport
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
    }
    protocol = factory();
    if (!protocol) throw std::invalid_argument("the protocol factory returned no protocol");
  } catch (...) {
    ::close(fd);
    throw;
  }
  Future<> waiter = loop.create_future();
  auto transport = std::make_shared<StreamTransport>(loop, fd, protocol, kind, nullptr);
  transport->start(waiter);
  co_await wait_started(transport, std::move(waiter));
  co_return ConnectionPair(std::static_pointer_cast<Transport>(transport), std::move(protocol));
}

}  // namespace detail

namespace {

// One attempt of create_connection: a socket for `remote`, bound to a matching local address if
// asked, then connected. Failures go to `errors` and the socket is closed (spec item 74).
Coro<int> connect_one(EventLoop& loop, AddrInfo remote, std::optional<SocketAddress> local,
                      std::vector<std::exception_ptr>* errors) {
  int fd = open_socket(remote.family, SOCK_STREAM, remote.protocol);
  std::exception_ptr error;
  try {
    if (local) {
      if (local->family() != remote.family) {
        throw OSError(std::error_code(), "no matching local address with family=" + std::to_string(remote.family) +
                                             " found");
      }
      if (::bind(fd, local->native(), local->native_size()) < 0) {
        int err = errno;
        throw OSError(err, "[Errno " + std::to_string(err) + "] error while attempting to bind on address " +
                               local->to_string() + ": " + std::error_code(err, std::generic_category()).message());
      }
    }
    co_await loop.sock_connect(fd, remote.address);
    co_return fd;
  } catch (const OSError&) {
    error = std::current_exception();
    errors->push_back(error);
  } catch (...) {
    error = std::current_exception();
  }
  ::close(fd);
  std::rethrow_exception(error);
}

std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

Coro<ConnectionPair> EventLoop::create_connection(ProtocolFactory factory, std::string host, std::uint16_t port,
                                                  ConnectionOptions options) {
  if (options.sock >= 0) throw std::invalid_argument("host/port and sock can not be specified at the same time");
  AddrInfoHints hints{options.family, SOCK_STREAM, options.proto, options.flags};
  std::vector<AddrInfo> infos = co_await getaddrinfo(host, std::to_string(port), hints);
  if (infos.empty()) throw OSError(std::error_code(), "getaddrinfo() returned empty list");
  std::vector<std::exception_ptr> errors;
  int fd = -1;
  for (const AddrInfo& ai : infos) {
    try {
      fd = co_await connect_one(*this, ai, options.local_addr, &errors);
      break;
    } catch (const OSError&) {
      continue;  // recorded in `errors`; try the next address
    }
  }
  if (fd < 0) {
    if (options.all_errors) throw ExceptionGroup("create_connection failed", errors);
    if (errors.size() == 1) std::rethrow_exception(errors.front());
    const std::string model = error_text(errors.front());
    bool same = true;
    for (const auto& e : errors) same = same && error_text(e) == model;
    if (same) std::rethrow_exception(errors.front());
    std::string text = "Multiple exceptions: ";
    for (std::size_t i = 0; i < errors.size(); ++i) text += (i ? ", " : "") + error_text(errors[i]);
    throw OSError(std::error_code(), text);
  }
  co_return co_await detail::make_stream_connection(*this, fd, std::move(factory), detail::FdKind::socket);
}

Coro<ConnectionPair> EventLoop::create_connection(ProtocolFactory factory, ConnectionOptions options) {
  if (options.sock < 0) throw std::invalid_argument("host and port was not specified and no sock specified");
  if (detail::socket_type(options.sock) != SOCK_STREAM)
    throw std::invalid_argument("A Stream Socket was expected, got fd=" + std::to_string(options.sock));
  co_return co_await detail::make_stream_connection(*this, options.sock, std::move(factory), detail::FdKind::socket);
}

Coro<ConnectionPair> EventLoop::create_unix_connection(ProtocolFactory factory, std::string path,
                                                       ConnectionOptions options) {
  int fd = options.sock;
  if (!path.empty()) {
    if (fd >= 0) throw std::invalid_argument("path and sock can not be specified at the same time");
    fd = open_socket(AF_UNIX, SOCK_STREAM, 0);
    std::exception_ptr error;
    try {
      co_await sock_connect(fd, SocketAddress::unix_path(path));
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      ::close(fd);
      std::rethrow_exception(error);
    }
  } else {
    if (fd < 0) throw std::invalid_argument("no path and sock were specified");
    if (detail::socket_type(fd) != SOCK_STREAM || SocketAddress::local_of(fd).family() != AF_UNIX)
      throw std::invalid_argument("A UNIX Domain Stream Socket was expected, got fd=" + std::to_string(fd));
  }
  co_return co_await detail::make_stream_connection(*this, fd, std::move(factory), detail::FdKind::socket);
}

Coro<ConnectionPair> EventLoop::connect_accepted_socket(ProtocolFactory factory, int fd) {
  if (detail::socket_type(fd) != SOCK_STREAM)
    throw std::invalid_argument("A Stream Socket was expected, got fd=" + std::to_string(fd));
  co_return co_await detail::make_stream_connection(*this, fd, std::move(factory), detail::FdKind::socket);
}

}  // namespace qaio
