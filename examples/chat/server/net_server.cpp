// net_server.cpp: per-connection coroutines, the SendQ bound and the tick timer (see net_server.h).
#include "net_server.h"

#include <sys/socket.h>

#include <vector>

#include "chat/line_splitter.h"
#include "log.h"

namespace chat::server {

namespace {
constexpr std::size_t kFlushThreshold = 16 * 1024;
}

NetServer::NetServer(qaio::EventLoop& loop, ServerConfig config, std::size_t max_sendq)
    : loop_(loop), state_(std::move(config), *this), max_sendq_(max_sendq) {}

void NetServer::send(ClientId id, const std::string& line) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.drop_reason) return;
  Conn& conn = it->second;
  if (conn.writer.is_closing()) return;
  conn.out += line;
  if (conn.out.size() >= kFlushThreshold) {
    // A reader coroutine can handle a whole buffered burst in one step; hand big batches over
    // at once so this buffer stays small and the SendQ check below measures the client, not us.
    flush(id, conn);
    if (conn.drop_reason) return;
  }
  if (!conn.dirty) {
    conn.dirty = true;
    dirty_.push_back(id);
  }
  if (!pending_flush_) pending_flush_ = loop_.call_soon([this] { flush_all(); });
  std::size_t pending = conn.out.size() + conn.writer.transport()->get_write_buffer_size();
  if (pending > max_sendq_) {
    // abort() only schedules connection_lost, so the reader coroutine of this client notices on
    // its next step and removes it from ServerState then; we must not re-enter ServerState here.
    conn.drop_reason = "SendQ exceeded";
    conn.out.clear();
    log(LogLevel::warning, "client " + std::to_string(id) + " (" + conn.peer + "): SendQ exceeded (" +
                               std::to_string(pending) + " bytes unsent), disconnecting");
    conn.writer.transport()->abort();
  }
}

void NetServer::flush(ClientId, Conn& conn) {
  if (conn.out.empty() || conn.drop_reason || conn.writer.is_closing()) {
    conn.out.clear();
    return;
  }
  conn.writer.write(conn.out);
  conn.out.clear();
}

NetServer::~NetServer() { pending_flush_.cancel(); }

void NetServer::flush_all() {
  pending_flush_ = qaio::Handle();
  std::vector<ClientId> ids;
  ids.swap(dirty_);
  for (ClientId id : ids) {
    if (auto it = conns_.find(id); it != conns_.end()) {
      it->second.dirty = false;
      flush(id, it->second);
    }
  }
}

void NetServer::close(ClientId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  flush(id, it->second);  // the ERROR line goes out before the close
  if (!it->second.writer.is_closing()) it->second.writer.close();  // flushes what is queued first
}

qaio::Coro<void> NetServer::serve_client(qaio::StreamReader reader, qaio::StreamWriter writer) {
  std::string peer = "unknown";
  if (auto info = writer.get_extra_info("peername"); info && info.is_address()) peer = info.address().host();
  if (auto sock = writer.get_extra_info("socket"); sock && sock.is_fd()) {
    // Bound what the kernel buffers for a client too (autotuning would let it grow to MBs), so
    // the SendQ limit, not the kernel, decides when a reader is too slow, and memory per client
    // stays predictable.
    int sndbuf = 64 * 1024;
    ::setsockopt(sock.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  const ClientId id = state_.add_client(peer, loop_.time());
  conns_.emplace(id, Conn{writer, peer, std::nullopt, {}, false});
  log(LogLevel::info, "client " + std::to_string(id) + " connected from " + peer);

  LineSplitter splitter;
  std::vector<LineSplitter::Piece> pieces;
  std::string reason = "Connection closed";
  std::exception_ptr cancelled;
  try {
    while (state_.find_client(id)) {
      std::string data = co_await reader.read(4096);
      if (data.empty()) break;
      pieces.clear();
      splitter.feed(data, pieces);
      for (const LineSplitter::Piece& p : pieces) {
        if (!state_.find_client(id)) break;  // QUIT, or dropped while handling an earlier line
        if (log_enabled(LogLevel::debug)) log(LogLevel::debug, "<- " + std::to_string(id) + " " + p.line);
        if (p.overflow) {
          state_.handle_overflow(id, loop_.time());
        } else {
          state_.handle_line(id, p.line, loop_.time());
        }
      }
    }
  } catch (const qaio::CancelledError&) {
    cancelled = std::current_exception();
    reason = "Server shutting down";
  } catch (const std::exception& e) {
    reason = e.what();
  }
  if (auto it = conns_.find(id); it != conns_.end() && it->second.drop_reason) reason = *it->second.drop_reason;
  state_.remove_client(id, reason);  // no-op after QUIT/timeouts: ServerState forgot it already
  conns_.erase(id);
  log(LogLevel::info, "client " + std::to_string(id) + " (" + peer + ") gone: " + reason);
  if (!writer.is_closing()) writer.close();
  if (cancelled) std::rethrow_exception(cancelled);
  try {
    co_await writer.wait_closed();
  } catch (const std::exception&) {
    // The peer vanished while we flushed; nothing left to tell it.
  }
}

qaio::Coro<void> NetServer::tick_forever(double interval) {
  for (;;) {
    co_await qaio::sleep(interval);
    state_.tick(loop_.time());
  }
}

void NetServer::shutdown(const std::string& reason) { state_.shutdown(reason); }

}  // namespace chat::server
