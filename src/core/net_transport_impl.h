// net_transport_impl.h (private): the concrete transports the loop creates.
//
// StreamTransport is asyncio's _SelectorSocketTransport and, with a pipe kind, its
// _UnixReadPipeTransport/_UnixWritePipeTransport: one write-buffer and close/abort state machine
// for every byte-stream fd. DatagramSocketTransport is _SelectorDatagramTransport.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "qaio/event_loop.h"
#include "qaio/protocols.h"
#include "qaio/server.h"
#include "qaio/transports.h"

namespace qaio::detail {

enum class FdKind { socket, read_pipe, write_pipe };

class StreamTransport final : public Transport {
 public:
  StreamTransport(EventLoop& loop, int fd, std::shared_ptr<BaseProtocol> protocol, FdKind kind,
                  std::shared_ptr<Server> server);
  ~StreamTransport() override;

  // Schedules connection_made, the reader and the waiter, as asyncio's constructors do.
  void start(Future<> waiter);

  ExtraInfo get_extra_info(std::string_view name) const override;
  void close() override;
  bool is_closing() const noexcept override { return closing_; }
  std::shared_ptr<BaseProtocol> get_protocol() const override { return protocol_; }
  EventLoop& get_loop() const noexcept override { return loop_; }
  bool is_reading() const noexcept override;
  void pause_reading() override;
  void resume_reading() override;
  using Transport::write;
  void write(std::string_view data) override;
  bool can_write_eof() const noexcept override { return kind_ != FdKind::read_pipe; }
  void write_eof() override;
  void abort() override { force_close(nullptr); }
  void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept override { return {low_, high_}; }
  std::size_t get_write_buffer_size() const noexcept override { return buffer_.size() - buffer_head_; }

 private:
  void add_reader_if_reading();
  void read_ready();
  void read_ready_buffered();
  void on_eof();
  void write_ready();
  ssize_t send_some(const char* data, std::size_t size);
  void maybe_pause_protocol();
  void maybe_resume_protocol();
  void call_flow_control(void (BaseProtocol::*callback)(), const char* failure);
  void fatal_error(std::exception_ptr exc, const char* message);
  void force_close(std::exception_ptr exc);
  void call_connection_lost(std::exception_ptr exc);
  void close_fd() noexcept;

  EventLoop& loop_;
  int fd_;
  FdKind kind_;
  std::shared_ptr<BaseProtocol> protocol_;
  Protocol* stream_protocol_ = nullptr;
  BufferedProtocol* buffered_protocol_ = nullptr;
  std::shared_ptr<Server> server_;
  std::shared_ptr<Transport> self_;  // alive while open: the loop's callbacks refer to us
  SocketAddress sockname_;
  SocketAddress peername_;
  std::string buffer_;               // pending output is buffer_[buffer_head_..]
  std::size_t buffer_head_ = 0;
  std::size_t high_ = 64 * 1024;
  std::size_t low_ = 16 * 1024;
  int conn_lost_ = 0;
  bool closing_ = false;
  bool eof_ = false;
  bool paused_ = false;
  bool protocol_paused_ = false;
  bool writer_registered_ = false;
};

class DatagramSocketTransport final : public DatagramTransport {
 public:
  DatagramSocketTransport(EventLoop& loop, int fd, std::shared_ptr<DatagramProtocol> protocol,
                          SocketAddress remote);
  ~DatagramSocketTransport() override;
  void start(Future<> waiter);

  ExtraInfo get_extra_info(std::string_view name) const override;
  void close() override;
  bool is_closing() const noexcept override { return closing_; }
  std::shared_ptr<BaseProtocol> get_protocol() const override { return protocol_; }
  EventLoop& get_loop() const noexcept override { return loop_; }
  bool is_reading() const noexcept override { return !paused_ && !closing_; }
  void pause_reading() override;
  void resume_reading() override;
  using Transport::write;
  void write(std::string_view data) override { sendto(data); }
  bool can_write_eof() const noexcept override { return false; }
  void write_eof() override;
  void abort() override { force_close(nullptr); }
  void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept override { return {low_, high_}; }
  std::size_t get_write_buffer_size() const noexcept override { return buffer_size_; }
  void sendto(std::string_view data, const SocketAddress& addr = SocketAddress()) override;

 private:
  void resume_reading_now();
  void read_ready();
  void write_ready();
  void maybe_pause_protocol();
  void maybe_resume_protocol();
  void fatal_error(std::exception_ptr exc, const char* message);
  void force_close(std::exception_ptr exc);
  void call_connection_lost(std::exception_ptr exc);

  EventLoop& loop_;
  int fd_;
  std::shared_ptr<DatagramProtocol> protocol_;
  std::shared_ptr<Transport> self_;
  SocketAddress sockname_;
  SocketAddress remote_;
  std::deque<std::pair<std::string, SocketAddress>> buffer_;
  std::size_t buffer_size_ = 0;
  std::size_t high_ = 64 * 1024;
  std::size_t low_ = 16 * 1024;
  int conn_lost_ = 0;
  bool closing_ = false;
  bool paused_ = false;
  bool protocol_paused_ = false;
};

// asyncio's _create_connection_transport: wraps an fd the caller gives up (closed on failure) in
// a StreamTransport, and returns once connection_made() has run.
Coro<ConnectionPair> make_stream_connection(EventLoop& loop, int fd, ProtocolFactory factory, FdKind kind);

// Waits for a new transport's start-up (connection_made has run); if that fails, the transport
// is closed before the error propagates, so no fd or reader outlives a failed connect.
Coro<void> wait_started(std::shared_ptr<Transport> transport, Future<> waiter);
// SO_TYPE of fd (SOCK_STREAM, SOCK_DGRAM, ...), or -1 if it is not a socket.
int socket_type(int fd) noexcept;

// asyncio's (high, low) defaults and check; shared by both transports.
std::pair<std::size_t, std::size_t> compute_write_limits(std::optional<std::size_t> high,
                                                         std::optional<std::size_t> low);
// Ignores SIGPIPE process-wide if it still has its default action (pipes have no MSG_NOSIGNAL).
void ignore_sigpipe_once();

}  // namespace qaio::detail
