// net_socket_address.cpp: SocketAddress (numeric parsing, formatting, kernel conversions) and the
// small socket helpers of sockets.h.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <net/if.h>
#include <stdexcept>

#include "qaio/socket_address.h"
#include "qaio/sockets.h"

namespace qaio {

SocketAddress::SocketAddress() noexcept : storage_{}, len_(0) { storage_.ss_family = AF_UNSPEC; }

SocketAddress::SocketAddress(std::string_view host, std::uint16_t port) : SocketAddress() {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage_);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len_ = sizeof(sockaddr_in);
    return;
  }
  storage_ = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage_);
  std::string scope;
  if (auto pct = h.find('%'); pct != std::string::npos) {
    scope = h.substr(pct + 1);
    h.resize(pct);
  }
  if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    if (!scope.empty()) {
      unsigned idx = ::if_nametoindex(scope.c_str());
      if (idx == 0) idx = static_cast<unsigned>(std::strtoul(scope.c_str(), nullptr, 10));
      v6->sin6_scope_id = idx;
    }
    len_ = sizeof(sockaddr_in6);
    return;
  }
  storage_ = {};
  storage_.ss_family = AF_UNSPEC;
  throw std::invalid_argument("not a numeric IPv4 or IPv6 address: '" + std::string(host) +
                              "' (resolve names with getaddrinfo)");
}

SocketAddress SocketAddress::unix_path(std::string_view path) {
  SocketAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  if (path.size() >= sizeof(un->sun_path))
    throw std::invalid_argument("Unix socket path too long: " + std::string(path));
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  // Pathname addresses include the terminating NUL in their length; abstract ones must not.
  a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                  (!path.empty() && path[0] != '\0' ? 1 : 0));
  return a;
}

SocketAddress SocketAddress::from_native(const sockaddr* addr, socklen_t len) {
  SocketAddress a;
  if (!addr || len == 0) return a;
  if (len > static_cast<socklen_t>(sizeof(a.storage_))) len = sizeof(a.storage_);
  std::memcpy(&a.storage_, addr, len);
  a.len_ = len;
  return a;
}

SocketAddress SocketAddress::local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return {};
  return from_native(reinterpret_cast<sockaddr*>(&ss), len);
}

SocketAddress SocketAddress::peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return {};
  return from_native(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string SocketAddress::host() const {
  char buf[INET6_ADDRSTRLEN + 1] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
    return buf;
  }
  if (family() == AF_UNIX) return path();
  return {};
}

std::uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string SocketAddress::path() const {
  if (family() != AF_UNIX) return {};
  const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
  std::size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
  if (n == 0) return {};
  if (un->sun_path[0] == '\0') return std::string(un->sun_path, n);  // abstract: keep the NUL
  return std::string(un->sun_path, ::strnlen(un->sun_path, n));
}

std::string SocketAddress::to_string() const {
  // Built by appending: g++ 12 at -O3 reports a false -Wrestrict on `"[" + std::string` chains.
  std::string text;
  switch (family()) {
    case AF_INET:
      text = host();
      break;
    case AF_INET6:
      text = '[';
      text += host();
      text += ']';
      break;
    case AF_UNIX:
      return path();
    default:
      return "<no address>";
  }
  text += ':';
  text += std::to_string(port());
  return text;
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  if (a.family() != b.family()) return false;
  switch (a.family()) {
    case AF_INET:
    case AF_INET6:
      return a.host() == b.host() && a.port() == b.port();
    case AF_UNIX:
      return a.path() == b.path();
    default:
      return a.len_ == b.len_;
  }
}

// ---- sockets.h helpers ----

int open_socket(int family, int type, int protocol) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw_os_error(errno, "socket()");
  return fd;
}

void set_blocking(int fd, bool blocking) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_os_error(errno, "fcntl(F_GETFL)");
  int want = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) < 0) throw_os_error(errno, "fcntl(F_SETFL)");
}

bool is_blocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_os_error(errno, "fcntl(F_GETFL)");
  return (flags & O_NONBLOCK) == 0;
}

}  // namespace qaio
