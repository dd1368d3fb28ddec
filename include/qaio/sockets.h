// qaio/sockets.h: the option structs of the loop's networking calls and small socket helpers.
//
// C++ has no keyword arguments, so what asyncio takes as keywords (family=, local_addr=, sock=,
// backlog=, reuse_port=, ...) lives in one aggregate per call, used with designated initializers:
//   co_await loop.create_server(factory, "127.0.0.1", 0, {.backlog = 10, .start_serving = false});
// An fd of -1 means "not given" (Python's sock=None).
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "qaio/socket_address.h"

namespace qaio {

class Transport;
class DatagramTransport;
class BaseProtocol;
class DatagramProtocol;
class Server;

// What create_connection()/create_server() call for each new connection.
using ProtocolFactory = std::function<std::shared_ptr<BaseProtocol>()>;
using DatagramProtocolFactory = std::function<std::shared_ptr<DatagramProtocol>()>;
using ConnectionPair = std::pair<std::shared_ptr<Transport>, std::shared_ptr<BaseProtocol>>;
using DatagramPair = std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<DatagramProtocol>>;

// getaddrinfo()'s family/type/proto/flags.
struct AddrInfoHints {
  int family = AF_UNSPEC;
  int type = 0;
  int protocol = 0;
  int flags = 0;
};

struct ConnectionOptions {
  int family = AF_UNSPEC;
  int proto = 0;
  int flags = 0;
  // A stream socket to use instead of host/port (connected or not: asyncio's sock=). The
  // transport takes ownership of it.
  int sock = -1;
  // Bind to this address before connecting (numeric; a port of 0 lets the kernel choose).
  std::optional<SocketAddress> local_addr{};
  // Throw an ExceptionGroup of every failure instead of one OSError (3.12's all_errors=True).
  bool all_errors = false;
};

struct ServerOptions {
  int family = AF_UNSPEC;
  int flags = AI_PASSIVE;
  // A listening (or bound) stream socket to serve on instead of host/port; the Server owns it.
  int sock = -1;
  int backlog = 100;
  // SO_REUSEADDR: on by default on POSIX, as in asyncio.
  std::optional<bool> reuse_address{};
  bool reuse_port = false;
  bool keep_alive = false;
  bool start_serving = true;
};

struct DatagramOptions {
  std::optional<SocketAddress> local_addr{};
  std::optional<SocketAddress> remote_addr{};
  int family = AF_UNSPEC;
  bool reuse_port = false;
  bool allow_broadcast = false;
  // A datagram socket to use instead (the transport owns it).
  int sock = -1;
};

// A new non-blocking, close-on-exec socket; throws OSError.
int open_socket(int family, int type, int protocol = 0);
// Sets or clears O_NONBLOCK; throws OSError.
void set_blocking(int fd, bool blocking);
bool is_blocking(int fd);

}  // namespace qaio
