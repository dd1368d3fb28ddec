// net_datagram_transport.cpp: DatagramSocketTransport, asyncio's _SelectorDatagramTransport.
//
// Datagrams are never merged or split: each recvfrom() is one datagram_received(), each sendto()
// one datagram. Errors of individual sends and receives (ECONNREFUSED from an ICMP message, ...)
// go to protocol.error_received() and leave the transport open, as in asyncio.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "net_transport_impl.h"

namespace qaio::detail {

namespace {
constexpr std::size_t kMaxDatagram = 256 * 1024;
constexpr std::size_t kHeaderOverhead = 8;  // asyncio counts 8 bytes per queued datagram
bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }
}  // namespace

DatagramSocketTransport::DatagramSocketTransport(EventLoop& loop, int fd, std::shared_ptr<DatagramProtocol> protocol,
                                                 SocketAddress remote)
    : loop_(loop), fd_(fd), protocol_(std::move(protocol)), remote_(std::move(remote)) {
  sockname_ = SocketAddress::local_of(fd_);
}

DatagramSocketTransport::~DatagramSocketTransport() {
  if (fd_ >= 0) {
    if (!loop_.is_closed()) {
      loop_.remove_reader(fd_);
      loop_.remove_writer(fd_);
    }
    ::close(fd_);
  }
}

void DatagramSocketTransport::start(Future<> waiter) {
  self_ = shared_from_this();
  std::weak_ptr<Transport> weak = self_;
  loop_.call_soon([weak] {
    if (auto t = std::static_pointer_cast<DatagramSocketTransport>(weak.lock()); t && t->protocol_)
      t->protocol_->connection_made(*t);
  });
  loop_.call_soon([weak] {
    auto t = std::static_pointer_cast<DatagramSocketTransport>(weak.lock());
    if (t && t->is_reading()) t->resume_reading_now();
  });
  if (waiter) {
    loop_.call_soon([waiter] {
      if (!waiter.done()) waiter.set_result();
    });
  }
}

void DatagramSocketTransport::resume_reading_now() {
  std::weak_ptr<Transport> weak = self_;
  loop_.add_reader(fd_, [weak] {
    if (auto t = std::static_pointer_cast<DatagramSocketTransport>(weak.lock())) t->read_ready();
  });
}

ExtraInfo DatagramSocketTransport::get_extra_info(std::string_view name) const {
  if (name == "peername") return remote_.empty() ? ExtraInfo() : ExtraInfo(remote_);
  if (name == "sockname") return sockname_.empty() ? ExtraInfo() : ExtraInfo(sockname_);
  if (name == "socket") return fd_ >= 0 ? ExtraInfo(fd_) : ExtraInfo();
  return {};
}

void DatagramSocketTransport::pause_reading() {
  if (!is_reading()) return;
  paused_ = true;
  loop_.remove_reader(fd_);
}

void DatagramSocketTransport::resume_reading() {
  if (closing_ || !paused_) return;
  paused_ = false;
  resume_reading_now();
}

void DatagramSocketTransport::write_eof() { throw RuntimeError("write_eof() is not supported on a datagram transport"); }

void DatagramSocketTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  std::tie(high_, low_) = compute_write_limits(high, low);
  maybe_pause_protocol();
}

void DatagramSocketTransport::read_ready() {
  if (conn_lost_ || fd_ < 0) return;
  thread_local std::unique_ptr<char[]> buf(new char[kMaxDatagram]);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ssize_t n = ::recvfrom(fd_, buf.get(), kMaxDatagram, 0, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) {
    int err = errno;
    if (would_block(err)) return;
    protocol_->error_received(make_os_error(err));
    return;
  }
  SocketAddress from = SocketAddress::from_native(reinterpret_cast<sockaddr*>(&ss), len);
  try {
    protocol_->datagram_received(std::string_view(buf.get(), static_cast<std::size_t>(n)), from);
  } catch (const BaseException&) {
    throw;
  } catch (...) {
    fatal_error(std::current_exception(), "Fatal error: protocol.datagram_received() call failed.");
  }
}

void DatagramSocketTransport::sendto(std::string_view data, const SocketAddress& addr) {
  const SocketAddress* target = &addr;
  if (!remote_.empty()) {
    if (!addr.empty() && !(addr == remote_))
      throw std::invalid_argument("Invalid address: must be None or " + remote_.to_string());
    target = nullptr;  // connected: plain send()
  } else if (addr.empty()) {
    throw std::invalid_argument("sendto() needs an address on an unconnected datagram transport");
  }
  if (conn_lost_) {
    if (conn_lost_ >= 5) loop_.log_warning("socket.send() raised exception.");
    ++conn_lost_;
    return;
  }
  if (buffer_.empty()) {
    ssize_t n = target ? ::sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL, target->native(), target->native_size())
                       : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return;
    int err = errno;
    if (!would_block(err)) {
      protocol_->error_received(make_os_error(err));
      return;
    }
    std::weak_ptr<Transport> weak = self_;
    loop_.add_writer(fd_, [weak] {
      if (auto t = std::static_pointer_cast<DatagramSocketTransport>(weak.lock())) t->write_ready();
    });
  }
  buffer_.emplace_back(std::string(data), target ? *target : SocketAddress());
  buffer_size_ += data.size() + kHeaderOverhead;
  maybe_pause_protocol();
}

void DatagramSocketTransport::write_ready() {
  while (!buffer_.empty()) {
    auto& [data, addr] = buffer_.front();
    ssize_t n = addr.empty() ? ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL)
                             : ::sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL, addr.native(), addr.native_size());
    if (n < 0) {
      int err = errno;
      if (would_block(err)) break;
      buffer_size_ -= data.size() + kHeaderOverhead;
      buffer_.pop_front();
      protocol_->error_received(make_os_error(err));
      return;
    }
    buffer_size_ -= data.size() + kHeaderOverhead;
    buffer_.pop_front();
  }
  maybe_resume_protocol();
  if (buffer_.empty()) {
    loop_.remove_writer(fd_);
    if (closing_) call_connection_lost(nullptr);
  }
}

void DatagramSocketTransport::maybe_pause_protocol() {
  if (buffer_size_ <= high_ || protocol_paused_) return;
  protocol_paused_ = true;
  protocol_->pause_writing();
}

void DatagramSocketTransport::maybe_resume_protocol() {
  if (!protocol_paused_ || buffer_size_ > low_) return;
  protocol_paused_ = false;
  protocol_->resume_writing();
}

void DatagramSocketTransport::close() {
  if (closing_) return;
  closing_ = true;
  if (fd_ < 0 || !self_) return;
  loop_.remove_reader(fd_);
  if (buffer_.empty()) {
    ++conn_lost_;
    loop_.remove_writer(fd_);
    loop_.call_soon([self = self_] { std::static_pointer_cast<DatagramSocketTransport>(self)->call_connection_lost(nullptr); });
  }
}

void DatagramSocketTransport::fatal_error(std::exception_ptr exc, const char* message) {
  ErrorContext ctx;
  ctx.message = message;
  ctx.exception = exc;
  ctx.transport = this;
  ctx.protocol = protocol_.get();
  ctx.socket = fd_;
  loop_.call_exception_handler(ctx);
  force_close(std::move(exc));
}

void DatagramSocketTransport::force_close(std::exception_ptr exc) {
  if (conn_lost_) return;
  if (!buffer_.empty()) {
    buffer_.clear();
    buffer_size_ = 0;
    loop_.remove_writer(fd_);
  }
  if (!closing_) {
    closing_ = true;
    loop_.remove_reader(fd_);
  }
  ++conn_lost_;
  if (!self_) return;
  loop_.call_soon([self = self_, exc] { std::static_pointer_cast<DatagramSocketTransport>(self)->call_connection_lost(exc); });
}

void DatagramSocketTransport::call_connection_lost(std::exception_ptr exc) {
  if (!self_) return;
  std::shared_ptr<Transport> keep = std::move(self_);
  std::shared_ptr<DatagramProtocol> protocol = std::move(protocol_);
  struct Cleanup {
    DatagramSocketTransport& t;
    ~Cleanup() {
      if (t.fd_ >= 0) {
        if (!t.loop_.is_closed()) {
          t.loop_.remove_reader(t.fd_);
          t.loop_.remove_writer(t.fd_);
        }
        ::close(t.fd_);
        t.fd_ = -1;
      }
    }
  } cleanup{*this};
  if (protocol) protocol->connection_lost(exc);
}

}  // namespace qaio::detail
