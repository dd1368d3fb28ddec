// net_endpoints.cpp: the loop's other endpoints: create_datagram_endpoint and the pipe
// transports (connect_read_pipe / connect_write_pipe).
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "net_transport_impl.h"
#include "net_unix_path.h"

namespace qaio {

Coro<DatagramPair> EventLoop::create_datagram_endpoint(DatagramProtocolFactory factory, DatagramOptions options) {
  int fd = options.sock;
  SocketAddress remote;
  if (fd >= 0) {
    if (detail::socket_type(fd) != SOCK_DGRAM)
      throw std::invalid_argument("A datagram socket was expected, got fd=" + std::to_string(fd));
    if (options.local_addr || options.remote_addr || options.family != AF_UNSPEC || options.reuse_port ||
        options.allow_broadcast)
      throw std::invalid_argument("socket modifier keyword arguments can not be used when sock is specified");
    set_blocking(fd, false);
    remote = SocketAddress::peer_of(fd);
  } else {
    int family = options.family;
    if (options.local_addr) family = options.local_addr->family();
    if (options.remote_addr) {
      if (options.local_addr && options.remote_addr->family() != family)
        throw std::invalid_argument("local_addr and remote_addr have different address families");
      family = options.remote_addr->family();
    }
    if (family == AF_UNSPEC) throw std::invalid_argument("unexpected address family");
    if (family == AF_UNIX && options.local_addr) detail::unlink_socket_file(options.local_addr->path());
    fd = open_socket(family, SOCK_DGRAM, 0);
    std::exception_ptr error;
    try {
      int one = 1;
      if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        throw_os_error(errno, "SO_REUSEPORT");
      if (options.allow_broadcast && ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0)
        throw_os_error(errno, "SO_BROADCAST");
      if (options.local_addr && ::bind(fd, options.local_addr->native(), options.local_addr->native_size()) < 0)
        throw_os_error(errno, "bind(" + options.local_addr->to_string() + ")");
      if (options.remote_addr) {
        if (!options.allow_broadcast) co_await sock_connect(fd, *options.remote_addr);
        remote = *options.remote_addr;
      }
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      ::close(fd);
      std::rethrow_exception(error);
    }
  }
  std::shared_ptr<DatagramProtocol> protocol;
  try {
    protocol = factory();
    if (!protocol) throw std::invalid_argument("the protocol factory returned no protocol");
  } catch (...) {
    ::close(fd);
    throw;
  }
  Future<> waiter = create_future();
  auto transport = std::make_shared<detail::DatagramSocketTransport>(*this, fd, protocol, remote);
  transport->start(waiter);
  co_await detail::wait_started(transport, std::move(waiter));
  co_return DatagramPair(std::static_pointer_cast<DatagramTransport>(transport), std::move(protocol));
}

namespace {
void check_pipe(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) throw_os_error(errno, "fstat");
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode))
    throw std::invalid_argument("Pipe transport is for pipes/sockets only.");
}
}  // namespace

Coro<ConnectionPair> EventLoop::connect_read_pipe(ProtocolFactory factory, int fd) {
  check_pipe(fd);
  co_return co_await detail::make_stream_connection(*this, fd, std::move(factory), detail::FdKind::read_pipe);
}

Coro<ConnectionPair> EventLoop::connect_write_pipe(ProtocolFactory factory, int fd) {
  check_pipe(fd);
  co_return co_await detail::make_stream_connection(*this, fd, std::move(factory), detail::FdKind::write_pipe);
}

}  // namespace qaio
