// net_stream_transport.cpp: StreamTransport, the transport of stream sockets and pipes.
//
// The state machine is asyncio's _SelectorSocketTransport (spec items 87-93): write() sends at
// once when nothing is buffered and buffers the rest behind a writer callback; close() stops
// reading, flushes, then closes; abort() drops the buffer; a reset peer force-closes with the
// error (logged only in debug mode); protocol callbacks run from ready-deque handles only.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>

#include "net_transport_impl.h"

namespace qaio::detail {

namespace {
constexpr std::size_t kMaxRead = 256 * 1024;  // asyncio's max_size for one recv()
constexpr int kLogThresholdForConnLostWrites = 5;

// One read buffer per thread, shared by every transport: data_received() sees a view of it.
// A nested event loop run inside data_received() could re-enter; then a private buffer is used.
struct ReadBuffer {
  std::unique_ptr<char[]> data{new char[kMaxRead]};
  bool in_use = false;
};
thread_local ReadBuffer tls_read_buffer;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

bool is_os_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const OSError&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

std::pair<std::size_t, std::size_t> compute_write_limits(std::optional<std::size_t> high,
                                                         std::optional<std::size_t> low) {
  std::size_t h = high ? *high : (low ? 4 * *low : 64 * 1024);
  std::size_t l = low ? *low : h / 4;
  if (h < l)
    throw std::invalid_argument("high (" + std::to_string(h) + ") must be >= low (" + std::to_string(l) +
                                ") must be >= 0");
  return {h, l};
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
}

StreamTransport::StreamTransport(EventLoop& loop, int fd, std::shared_ptr<BaseProtocol> protocol, FdKind kind,
                                 std::shared_ptr<Server> server)
    : loop_(loop), fd_(fd), kind_(kind), protocol_(std::move(protocol)), server_(std::move(server)) {
  stream_protocol_ = dynamic_cast<Protocol*>(protocol_.get());
  buffered_protocol_ = dynamic_cast<BufferedProtocol*>(protocol_.get());
  if (kind_ == FdKind::socket) {
    sockname_ = SocketAddress::local_of(fd_);
    peername_ = SocketAddress::peer_of(fd_);
  } else {
    ignore_sigpipe_once();
  }
  if (server_) server_->attach(this);
}

StreamTransport::~StreamTransport() { close_fd(); }

void StreamTransport::close_fd() noexcept {
  if (fd_ < 0) return;
  if (!loop_.is_closed()) {
    try {
      loop_.remove_reader(fd_);
      loop_.remove_writer(fd_);
    } catch (...) {
    }
  }
  ::close(fd_);
  fd_ = -1;
}

void StreamTransport::start(Future<> waiter) {
  self_ = shared_from_this();
  std::weak_ptr<Transport> weak = self_;
  loop_.call_soon([weak] {
    if (auto t = std::static_pointer_cast<StreamTransport>(weak.lock()); t && t->protocol_) {
      t->protocol_->connection_made(*t);
    }
  });
  if (kind_ != FdKind::write_pipe) {
    // Deferred, and skipped if connection_made() paused reading (spec item 87).
    loop_.call_soon([weak] {
      if (auto t = std::static_pointer_cast<StreamTransport>(weak.lock())) t->add_reader_if_reading();
    });
  } else {
    // A write pipe watches for readability only to learn that the reader went away.
    loop_.call_soon([weak] {
      auto t = std::static_pointer_cast<StreamTransport>(weak.lock());
      if (!t || t->fd_ < 0 || t->closing_) return;
      t->loop_.add_reader(t->fd_, [w = std::weak_ptr<Transport>(t)] {
        auto tt = std::static_pointer_cast<StreamTransport>(w.lock());
        if (!tt) return;
        if (tt->get_write_buffer_size() > 0) {
          tt->force_close(make_os_error(EPIPE));
        } else {
          tt->close();
        }
      });
    });
  }
  if (waiter) {
    loop_.call_soon([waiter] {
      if (!waiter.done()) waiter.set_result();
    });
  }
}

ExtraInfo StreamTransport::get_extra_info(std::string_view name) const {
  if (kind_ == FdKind::socket) {
    if (name == "peername") return peername_.empty() ? ExtraInfo() : ExtraInfo(peername_);
    if (name == "sockname") return sockname_.empty() ? ExtraInfo() : ExtraInfo(sockname_);
    if (name == "socket") return fd_ >= 0 ? ExtraInfo(fd_) : ExtraInfo();
  } else if (name == "pipe") {
    return fd_ >= 0 ? ExtraInfo(fd_) : ExtraInfo();
  }
  return {};
}

bool StreamTransport::is_reading() const noexcept {
  return kind_ != FdKind::write_pipe && !paused_ && !closing_;
}

void StreamTransport::add_reader_if_reading() {
  if (!is_reading() || fd_ < 0) return;
  std::weak_ptr<Transport> weak = self_;
  loop_.add_reader(fd_, [weak] {
    if (auto t = std::static_pointer_cast<StreamTransport>(weak.lock())) {
      if (t->buffered_protocol_) {
        t->read_ready_buffered();
      } else {
        t->read_ready();
      }
    }
  });
}

void StreamTransport::pause_reading() {
  if (!is_reading()) return;
  paused_ = true;
  loop_.remove_reader(fd_);
}

void StreamTransport::resume_reading() {
  if (closing_ || !paused_) return;
  paused_ = false;
  add_reader_if_reading();
}

void StreamTransport::read_ready() {
  if (conn_lost_ || fd_ < 0) return;
  ReadBuffer& shared = tls_read_buffer;
  std::unique_ptr<char[]> own;
  char* buf = shared.data.get();
  if (shared.in_use) {
    own.reset(new char[kMaxRead]);
    buf = own.get();
  }
  ssize_t n = kind_ == FdKind::socket ? ::recv(fd_, buf, kMaxRead, 0) : ::read(fd_, buf, kMaxRead);
  if (n < 0) {
    int err = errno;
    if (would_block(err)) return;
    fatal_error(make_os_error(err), "Fatal read error on socket transport");
    return;
  }
  if (n == 0) return on_eof();
  struct Guard {
    ReadBuffer& b;
    bool active;
    ~Guard() {
      if (active) b.in_use = false;
    }
  } guard{shared, !own};
  if (!own) shared.in_use = true;
  try {
    if (stream_protocol_) stream_protocol_->data_received(std::string_view(buf, static_cast<std::size_t>(n)));
  } catch (const BaseException&) {
    throw;
  } catch (...) {
    fatal_error(std::current_exception(), "Fatal error: protocol.data_received() call failed.");
  }
}

void StreamTransport::read_ready_buffered() {
  if (conn_lost_ || fd_ < 0) return;
  std::span<std::byte> buf;
  try {
    buf = buffered_protocol_->get_buffer(-1);
    if (buf.empty()) throw RuntimeError("get_buffer() returned an empty buffer");
  } catch (const BaseException&) {
    throw;
  } catch (...) {
    fatal_error(std::current_exception(), "Fatal error: protocol.get_buffer() call failed.");
    return;
  }
  ssize_t n = kind_ == FdKind::socket ? ::recv(fd_, buf.data(), buf.size(), 0) : ::read(fd_, buf.data(), buf.size());
  if (n < 0) {
    int err = errno;
    if (would_block(err)) return;
    fatal_error(make_os_error(err), "Fatal read error on socket transport");
    return;
  }
  if (n == 0) return on_eof();
  try {
    buffered_protocol_->buffer_updated(static_cast<std::size_t>(n));
  } catch (const BaseException&) {
    throw;
  } catch (...) {
    fatal_error(std::current_exception(), "Fatal error: protocol.buffer_updated() call failed.");
  }
}

void StreamTransport::on_eof() {
  if (kind_ == FdKind::read_pipe) {
    // asyncio's read pipe: EOF always ends the transport, after telling the protocol.
    loop_.remove_reader(fd_);
    closing_ = true;
    ++conn_lost_;
    std::weak_ptr<Transport> weak = self_;
    loop_.call_soon([weak] {
      auto t = std::static_pointer_cast<StreamTransport>(weak.lock());
      if (t && t->stream_protocol_) t->stream_protocol_->eof_received();
    });
    loop_.call_soon([self = self_] { std::static_pointer_cast<StreamTransport>(self)->call_connection_lost(nullptr); });
    return;
  }
  bool keep_open = false;
  try {
    keep_open = stream_protocol_ ? stream_protocol_->eof_received() : false;
  } catch (const BaseException&) {
    throw;
  } catch (...) {
    fatal_error(std::current_exception(), "Fatal error: protocol.eof_received() call failed.");
    return;
  }
  if (keep_open) {
    // Half-closed: the protocol may still write, but there is nothing more to read.
    loop_.remove_reader(fd_);
  } else {
    close();
  }
}

ssize_t StreamTransport::send_some(const char* data, std::size_t size) {
  // MSG_NOSIGNAL: a vanished peer is an EPIPE error, never a SIGPIPE (pipes: SIGPIPE is ignored).
  return kind_ == FdKind::socket ? ::send(fd_, data, size, MSG_NOSIGNAL) : ::write(fd_, data, size);
}

void StreamTransport::write(std::string_view data) {
  if (kind_ == FdKind::read_pipe) throw RuntimeError("write() is not supported on a read pipe transport");
  if (eof_) throw RuntimeError("Cannot call write() after write_eof()");
  if (data.empty()) return;
  if (conn_lost_) {
    if (conn_lost_ >= kLogThresholdForConnLostWrites) loop_.log_warning("socket.send() raised exception.");
    ++conn_lost_;
    return;
  }
  if (get_write_buffer_size() == 0) {
    ssize_t n = send_some(data.data(), data.size());
    if (n < 0) {
      int err = errno;
      if (!would_block(err)) {
        fatal_error(make_os_error(err), "Fatal write error on socket transport");
        return;
      }
      n = 0;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    if (data.empty()) return;
    std::weak_ptr<Transport> weak = self_;
    loop_.add_writer(fd_, [weak] {
      if (auto t = std::static_pointer_cast<StreamTransport>(weak.lock())) t->write_ready();
    });
    writer_registered_ = true;
    buffer_.clear();
    buffer_head_ = 0;
  }
  buffer_.append(data);
  maybe_pause_protocol();
}

void StreamTransport::write_ready() {
  if (conn_lost_ || fd_ < 0) return;
  ssize_t n = send_some(buffer_.data() + buffer_head_, buffer_.size() - buffer_head_);
  if (n < 0) {
    int err = errno;
    if (would_block(err)) return;
    loop_.remove_writer(fd_);
    writer_registered_ = false;
    buffer_.clear();
    buffer_head_ = 0;
    fatal_error(make_os_error(err), "Fatal write error on socket transport");
    return;
  }
  buffer_head_ += static_cast<std::size_t>(n);
  if (buffer_head_ == buffer_.size()) {
    buffer_.clear();
    buffer_head_ = 0;
  } else if (buffer_head_ > (1u << 20) && buffer_head_ * 2 > buffer_.size()) {
    buffer_.erase(0, buffer_head_);  // keep the string from growing without bound
    buffer_head_ = 0;
  }
  maybe_resume_protocol();  // may write more
  if (get_write_buffer_size() == 0) {
    loop_.remove_writer(fd_);
    writer_registered_ = false;
    if (closing_) {
      call_connection_lost(nullptr);
    } else if (eof_) {
      if (kind_ == FdKind::socket) {
        ::shutdown(fd_, SHUT_WR);
      } else {
        close();  // a write pipe has no half-close: EOF is closing it
      }
    }
  }
}

void StreamTransport::write_eof() {
  if (kind_ == FdKind::read_pipe) throw RuntimeError("write_eof() is not supported on a read pipe transport");
  if (closing_ || eof_) return;
  eof_ = true;
  if (get_write_buffer_size() == 0) {
    if (kind_ == FdKind::socket) {
      ::shutdown(fd_, SHUT_WR);
    } else {
      close();
    }
  }
}

void StreamTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  std::tie(high_, low_) = compute_write_limits(high, low);
  maybe_pause_protocol();
}

void StreamTransport::maybe_pause_protocol() {
  if (get_write_buffer_size() <= high_ || protocol_paused_) return;
  protocol_paused_ = true;
  call_flow_control(&BaseProtocol::pause_writing, "protocol.pause_writing() failed");
}

void StreamTransport::maybe_resume_protocol() {
  if (!protocol_paused_ || get_write_buffer_size() > low_) return;
  protocol_paused_ = false;
  call_flow_control(&BaseProtocol::resume_writing, "protocol.resume_writing() failed");
}

// A protocol's flow-control callback that throws is reported, never allowed to unwind the
// transport's write path (asyncio's _maybe_pause_protocol/_maybe_resume_protocol).
void StreamTransport::call_flow_control(void (BaseProtocol::*callback)(), const char* failure) {
  try {
    (protocol_.get()->*callback)();
  } catch (const BaseException&) {
    throw;
  } catch (...) {
    ErrorContext ctx;
    ctx.message = failure;
    ctx.exception = std::current_exception();
    ctx.transport = this;
    ctx.protocol = protocol_.get();
    loop_.call_exception_handler(ctx);
  }
}

void StreamTransport::close() {
  if (closing_) return;
  closing_ = true;
  if (!self_) return close_fd();  // never started
  if (fd_ >= 0) loop_.remove_reader(fd_);  // a write pipe's reader is its peer-gone watcher
  if (get_write_buffer_size() == 0) {
    ++conn_lost_;
    if (fd_ >= 0) loop_.remove_writer(fd_);
    writer_registered_ = false;
    loop_.call_soon([self = self_] { std::static_pointer_cast<StreamTransport>(self)->call_connection_lost(nullptr); });
  }
}

void StreamTransport::fatal_error(std::exception_ptr exc, const char* message) {
  // OSErrors (resets, broken pipes) are the peer's doing, not a bug: asyncio logs them only in
  // debug mode (spec item 88).
  if (!is_os_error(exc)) {
    ErrorContext ctx;
    ctx.message = message;
    ctx.exception = exc;
    ctx.transport = this;
    ctx.protocol = protocol_.get();
    ctx.socket = fd_;
    loop_.call_exception_handler(ctx);
  } else if (loop_.get_debug()) {
    loop_.log_warning(std::string(message) + ": " + describe_exception(exc));
  }
  force_close(std::move(exc));
}

void StreamTransport::force_close(std::exception_ptr exc) {
  if (conn_lost_) return;
  if (get_write_buffer_size() > 0 || writer_registered_) {
    buffer_.clear();
    buffer_head_ = 0;
    if (fd_ >= 0) loop_.remove_writer(fd_);
    writer_registered_ = false;
  }
  if (!closing_) {
    closing_ = true;
    if (fd_ >= 0) loop_.remove_reader(fd_);
  }
  ++conn_lost_;
  if (!self_) return;  // never started
  loop_.call_soon([self = self_, exc] { std::static_pointer_cast<StreamTransport>(self)->call_connection_lost(exc); });
}

void StreamTransport::call_connection_lost(std::exception_ptr exc) {
  if (!self_) return;  // already done
  std::shared_ptr<Transport> keep = std::move(self_);
  std::shared_ptr<BaseProtocol> protocol = std::move(protocol_);
  std::shared_ptr<Server> server = std::move(server_);
  struct Cleanup {
    StreamTransport& t;
    std::shared_ptr<Server>& server;
    ~Cleanup() {
      t.close_fd();
      if (server) server->detach(&t);
    }
  } cleanup{*this, server};
  if (protocol) protocol->connection_lost(exc);
}

}  // namespace qaio::detail
