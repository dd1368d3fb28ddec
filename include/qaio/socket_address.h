// qaio/socket_address.h: SocketAddress and AddrInfo, the value types of qaio's networking.
//
// SocketAddress is Python's address tuple as a C++ value: an IPv4 ("127.0.0.1", 80), IPv6
// ("::1", 80) or Unix-path ("/tmp/sock") address, stored as a sockaddr_storage so it can be handed
// to the kernel as is. AddrInfo is one entry of getaddrinfo()'s answer (asyncio's 5-tuple).
// GaiError is socket.gaierror: a failed name lookup (its errnum() is the EAI_* code).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "qaio/errors.h"

namespace qaio {

class SocketAddress {
 public:
  // An empty address (family() == AF_UNSPEC).
  SocketAddress() noexcept;
  // A numeric IPv4 or IPv6 address and a port; std::invalid_argument if `host` is not numeric
  // (names go through getaddrinfo). An IPv6 scope ("fe80::1%eth0") is accepted.
  SocketAddress(std::string_view host, std::uint16_t port);
  // A Unix-domain path. A leading '\0' makes a Linux abstract-namespace address.
  static SocketAddress unix_path(std::string_view path);
  // Copies a kernel address (accept, getpeername, recvfrom, getaddrinfo).
  static SocketAddress from_native(const sockaddr* addr, socklen_t len);
  // getsockname()/getpeername() of fd; empty if the call fails (e.g. not connected).
  static SocketAddress local_of(int fd);
  static SocketAddress peer_of(int fd);

  int family() const noexcept { return storage_.ss_family; }
  bool empty() const noexcept { return family() == AF_UNSPEC; }
  bool is_ip() const noexcept { return family() == AF_INET || family() == AF_INET6; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  // The numeric host ("127.0.0.1", "::1"), or the path of a Unix address.
  std::string host() const;
  std::uint16_t port() const noexcept;  // 0 for Unix addresses
  std::string path() const;             // Unix addresses only ("" otherwise, or if unnamed)
  // "127.0.0.1:8080", "[::1]:8080", "/tmp/sock".
  std::string to_string() const;

  const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t native_size() const noexcept { return len_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t len_;
};

// One getaddrinfo() answer: (family, type, proto, canonname, sockaddr) in asyncio.
struct AddrInfo {
  int family = AF_UNSPEC;
  int type = 0;
  int protocol = 0;
  std::string canonname;
  SocketAddress address;
};

// socket.gaierror: a getaddrinfo()/getnameinfo() failure. errnum() is the EAI_* code.
class GaiError : public OSError {
 public:
  using OSError::OSError;
};

}  // namespace qaio
