// qaio/streams.h: asyncio's streams: StreamReader, StreamWriter and the functions that make them.
//
// Streams are a coroutine API over a transport: StreamReaderProtocol feeds a StreamReader's
// buffer and turns the transport's pause_writing()/resume_writing() into StreamWriter::drain()'s
// back-pressure. StreamReader and StreamWriter are cheap copyable handles to shared state
// (DESIGN rule 7). Semantics follow CPython 3.13's streams.py (spec items 139-147): read(n)
// returns what is buffered, readline()/readuntil() honour `limit` (64 KiB by default), reading
// pauses the transport while more than 2*limit bytes wait unread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qaio/coro.h"
#include "qaio/future.h"
#include "qaio/protocols.h"
#include "qaio/server.h"
#include "qaio/sockets.h"
#include "qaio/transports.h"

namespace qaio {

inline constexpr long kDefaultStreamLimit = 64 * 1024;  // asyncio's _DEFAULT_LIMIT

namespace detail {
class StreamReaderState;
}

class StreamReader {
 public:
  // std::invalid_argument("Limit cannot be <= 0") unless limit > 0.
  explicit StreamReader(long limit = kDefaultStreamLimit);

  // Up to n bytes, as soon as any are buffered; n < 0 reads until EOF; "" at EOF.
  Coro<std::string> read(long n = -1);
  // One line including "\n"; the partial line (or "") at EOF. A line longer than limit throws
  // std::invalid_argument and is discarded.
  Coro<std::string> readline();
  // Exactly n bytes, or IncompleteReadError at EOF; std::invalid_argument for n < 0.
  Coro<std::string> readexactly(long n);
  // Data up to and including the separator; IncompleteReadError at EOF, LimitOverrunError past
  // the limit (the data stays buffered). With several separators, the one that ends first wins.
  Coro<std::string> readuntil(std::string separator = "\n");
  Coro<std::string> readuntil(std::vector<std::string> separators);
  bool at_eof() const noexcept;

  // The protocol side (also usable directly, as in asyncio's tests).
  void feed_data(std::string_view data);
  void feed_eof();
  void set_exception(std::exception_ptr exc);
  std::exception_ptr exception() const noexcept;
  void set_transport(Transport* transport);
  long limit() const noexcept;
  std::size_t buffered() const noexcept;

  const std::shared_ptr<detail::StreamReaderState>& state() const noexcept { return state_; }

 private:
  std::shared_ptr<detail::StreamReaderState> state_;
};

class StreamWriter;
using ClientConnectedCallback = std::function<Coro<void>(StreamReader, StreamWriter)>;

// asyncio.StreamReaderProtocol: adapts Protocol callbacks to a StreamReader (and, for servers,
// starts the client_connected callback as a task).
class StreamReaderProtocol : public Protocol, public std::enable_shared_from_this<StreamReaderProtocol> {
 public:
  explicit StreamReaderProtocol(StreamReader reader, ClientConnectedCallback cb = nullptr);

  void connection_made(Transport& transport) override;
  void connection_lost(std::exception_ptr exc) override;
  void data_received(std::string_view data) override;
  bool eof_received() override;
  void pause_writing() override;
  void resume_writing() override;

  // drain()'s wait: ConnectionResetError("Connection lost") once the connection is gone.
  Coro<void> drain_helper();
  // Completes (or fails with the connection's error) after connection_lost().
  Future<> closed_future();
  const StreamReader& reader() const noexcept { return reader_; }

 private:
  StreamReader reader_;
  ClientConnectedCallback client_connected_cb_;
  Future<> closed_;
  std::vector<Future<>> drain_waiters_;
  bool paused_ = false;
  bool connection_lost_ = false;
};

class StreamWriter {
 public:
  StreamWriter() = default;
  StreamWriter(std::shared_ptr<Transport> transport, std::shared_ptr<StreamReaderProtocol> protocol,
               std::optional<StreamReader> reader);

  void write(std::string_view data) { transport()->write(data); }
  void writelines(const std::vector<std::string>& parts) { transport()->writelines(parts); }
  bool can_write_eof() const { return transport()->can_write_eof(); }
  void write_eof() { transport()->write_eof(); }
  void close() { transport()->close(); }
  bool is_closing() const { return transport()->is_closing(); }
  ExtraInfo get_extra_info(std::string_view name) const { return transport()->get_extra_info(name); }
  // Waits while the transport's write buffer is above its high-water mark; throws the
  // connection's error (ConnectionResetError, ...) once it is lost.
  Coro<void> drain();
  // Waits until the connection is closed; throws the error it closed with, if any.
  Coro<void> wait_closed();
  const std::shared_ptr<Transport>& transport() const;
  EventLoop& get_loop() const { return transport()->get_loop(); }

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Streams over TCP and Unix sockets.
Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                            long limit = kDefaultStreamLimit,
                                                            ConnectionOptions options = {});
Coro<std::shared_ptr<Server>> start_server(ClientConnectedCallback cb, std::string host, std::uint16_t port,
                                           long limit = kDefaultStreamLimit, ServerOptions options = {});
Coro<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path,
                                                                 long limit = kDefaultStreamLimit);
Coro<std::shared_ptr<Server>> start_unix_server(ClientConnectedCallback cb, std::string path,
                                                long limit = kDefaultStreamLimit, ServerOptions options = {});

}  // namespace qaio
