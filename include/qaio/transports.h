// qaio/transports.h: asyncio's transport interfaces (the loop's half of a connection).
//
// Transport is asyncio's ReadTransport + WriteTransport in one abstract class: stream sockets,
// Unix sockets and pipes implement it (a read pipe refuses writes, a write pipe has nothing to
// read). DatagramTransport adds sendto(). Transports are created by the loop
// (create_connection, create_server, connect_*_pipe, ...), held by std::shared_ptr, and keep
// themselves alive while open: after connection_lost() they let go of themselves and of their
// protocol. Every method must be called from the loop's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "qaio/socket_address.h"

namespace qaio {

class BaseProtocol;
class EventLoop;

// What get_extra_info() returns: nothing, an address ("peername", "sockname") or an fd
// ("socket", "pipe"). Converts to false when the key is unknown or the value is unavailable.
class ExtraInfo {
 public:
  ExtraInfo() noexcept = default;
  ExtraInfo(SocketAddress a) : value_(std::move(a)) {}  // NOLINT: implicit like Python's any
  ExtraInfo(int fd) : value_(fd) {}                      // NOLINT
  explicit operator bool() const noexcept { return !std::holds_alternative<std::monostate>(value_); }
  bool is_address() const noexcept { return std::holds_alternative<SocketAddress>(value_); }
  bool is_fd() const noexcept { return std::holds_alternative<int>(value_); }
  // std::bad_variant_access if it holds something else.
  const SocketAddress& address() const { return std::get<SocketAddress>(value_); }
  int fd() const { return std::get<int>(value_); }

 private:
  std::variant<std::monostate, SocketAddress, int> value_;
};

class Transport : public std::enable_shared_from_this<Transport> {
 public:
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  virtual ~Transport() = default;

  // ---- BaseTransport ----
  // "peername", "sockname", "socket" (the fd), "pipe" (the fd of a pipe transport).
  virtual ExtraInfo get_extra_info(std::string_view name) const = 0;
  // Flushes the write buffer, then closes; connection_lost(nullptr) follows. Idempotent.
  virtual void close() = 0;
  virtual bool is_closing() const noexcept = 0;
  virtual std::shared_ptr<BaseProtocol> get_protocol() const = 0;
  virtual EventLoop& get_loop() const noexcept = 0;

  // ---- ReadTransport ----
  virtual bool is_reading() const noexcept = 0;
  // Stop / restart calling data_received(). Repeated calls have no further effect.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;

  // ---- WriteTransport ----
  // Sends at once if possible; the rest is buffered and sent as the fd becomes writable.
  virtual void write(std::string_view data) = 0;
  void write(std::span<const std::byte> data) {
    write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }
  void write(const char* data) { write(std::string_view(data)); }
  void write(const std::string& data) { write(std::string_view(data)); }
  void writelines(const std::vector<std::string>& parts) {
    for (const auto& p : parts) write(std::string_view(p));
  }
  virtual bool can_write_eof() const noexcept = 0;
  // Half-closes after the buffer is flushed (shutdown(SHUT_WR)); writes then throw.
  virtual void write_eof() = 0;
  // Closes at once, dropping buffered data; connection_lost(nullptr) follows.
  virtual void abort() = 0;
  // high defaults to 64 KiB (or 4*low), low to high/4; std::invalid_argument unless high >= low.
  virtual void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                       std::optional<std::size_t> low = std::nullopt) = 0;
  // (low, high), as asyncio returns them.
  virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept = 0;
  virtual std::size_t get_write_buffer_size() const noexcept = 0;
};

// asyncio.DatagramTransport.
class DatagramTransport : public Transport {
 public:
  // Sends one datagram to addr (or to the connected peer when addr is empty).
  virtual void sendto(std::string_view data, const SocketAddress& addr = SocketAddress()) = 0;
};

}  // namespace qaio
