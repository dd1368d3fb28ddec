// net_listen.cpp: the loop's listening side: create_server (one socket per resolved address, as
// asyncio binds them) and create_unix_server.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "net_transport_impl.h"
#include "net_unix_path.h"
#include "qaio/server.h"
#include "qaio/sleep.h"

namespace qaio {

namespace {

void close_all(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

Coro<std::shared_ptr<Server>> finish_server(EventLoop& loop, std::vector<int> fds, ProtocolFactory factory,
                                            ServerOptions options, std::string unix_path) {
  auto server = std::make_shared<Server>(loop, std::move(fds), std::move(factory), options.backlog);
  if (!unix_path.empty()) server->set_unix_path(std::move(unix_path));
  if (options.start_serving) {
    server->start_serving_now();
    co_await sleep(0);  // let every listener registration go through, as asyncio does
  }
  co_return server;
}

}  // namespace

Coro<std::shared_ptr<Server>> EventLoop::create_server(ProtocolFactory factory, std::vector<std::string> hosts,
                                                       std::uint16_t port, ServerOptions options) {
  if (options.sock >= 0) throw std::invalid_argument("host/port and sock can not be specified at the same time");
  const bool reuse_address = options.reuse_address.value_or(true);
  if (hosts.empty()) hosts.emplace_back();  // "" is None: every interface
  std::vector<AddrInfo> infos;
  for (const std::string& host : hosts) {
    AddrInfoHints hints{options.family, SOCK_STREAM, 0, options.flags};
    std::vector<AddrInfo> found = co_await getaddrinfo(host, std::to_string(port), hints);
    if (found.empty()) throw OSError(std::error_code(), "getaddrinfo('" + host + "') returned empty list");
    for (auto& ai : found) {
      // A set, as in asyncio: the same address from two hosts gives one socket (spec item 80).
      bool dup = std::any_of(infos.begin(), infos.end(), [&](const AddrInfo& o) {
        return o.family == ai.family && o.protocol == ai.protocol && o.address == ai.address;
      });
      if (!dup) infos.push_back(std::move(ai));
    }
  }
  std::vector<int> fds;
  try {
    for (const AddrInfo& ai : infos) {
      int fd = ::socket(ai.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.protocol);
      if (fd < 0) continue;  // a family this host does not support
      fds.push_back(fd);
      int one = 1;
      if (reuse_address) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        throw_os_error(errno, "SO_REUSEPORT");
      if (options.keep_alive) ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
      // One socket per family: no IPv4-mapped dual stack on the IPv6 one.
      if (ai.family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      if (::bind(fd, ai.address.native(), ai.address.native_size()) < 0) {
        int err = errno;
        if (err == EADDRNOTAVAIL) {  // the family is not enabled here (bpo-30945)
          fds.pop_back();
          ::close(fd);
          continue;
        }
        throw OSError(err, "[Errno " + std::to_string(err) + "] error while attempting to bind on address " +
                               ai.address.to_string() + ": " +
                               std::error_code(err, std::generic_category()).message());
      }
    }
    if (fds.empty()) throw OSError(std::error_code(), "could not bind on any address");
  } catch (...) {
    close_all(fds);  // spec item 79: nothing created here survives a failed bind
    throw;
  }
  co_return co_await finish_server(*this, std::move(fds), std::move(factory), options, {});
}

Coro<std::shared_ptr<Server>> EventLoop::create_server(ProtocolFactory factory, std::string host, std::uint16_t port,
                                                       ServerOptions options) {
  std::vector<std::string> hosts{std::move(host)};
  co_return co_await create_server(std::move(factory), std::move(hosts), port, std::move(options));
}

Coro<std::shared_ptr<Server>> EventLoop::create_server(ProtocolFactory factory, ServerOptions options) {
  if (options.sock < 0) throw std::invalid_argument("Neither host/port nor sock were specified");
  if (detail::socket_type(options.sock) != SOCK_STREAM)
    throw std::invalid_argument("A Stream Socket was expected, got fd=" + std::to_string(options.sock));
  set_blocking(options.sock, false);
  std::vector<int> fds{options.sock};
  co_return co_await finish_server(*this, std::move(fds), std::move(factory), options, {});
}

Coro<std::shared_ptr<Server>> EventLoop::create_unix_server(ProtocolFactory factory, std::string path,
                                                            ServerOptions options) {
  int fd = options.sock;
  if (!path.empty()) {
    if (fd >= 0) throw std::invalid_argument("path and sock can not be specified at the same time");
    detail::unlink_socket_file(path);  // a stale one from an earlier run would make bind() fail
    SocketAddress addr = SocketAddress::unix_path(path);
    fd = open_socket(AF_UNIX, SOCK_STREAM, 0);
    if (::bind(fd, addr.native(), addr.native_size()) < 0) {
      int err = errno;
      ::close(fd);
      if (err == EADDRINUSE) throw OSError(err, "Address '" + path + "' is already in use");
      throw_os_error(err, "bind(" + path + ")");
    }
  } else {
    if (fd < 0) throw std::invalid_argument("path was not specified, and no sock specified");
    if (detail::socket_type(fd) != SOCK_STREAM || SocketAddress::local_of(fd).family() != AF_UNIX)
      throw std::invalid_argument("A UNIX Domain Stream Socket was expected, got fd=" + std::to_string(fd));
    set_blocking(fd, false);
    path = SocketAddress::local_of(fd).path();
  }
  std::vector<int> fds{fd};
  co_return co_await finish_server(*this, std::move(fds), std::move(factory), options, std::move(path));
}

}  // namespace qaio
