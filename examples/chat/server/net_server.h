// net_server.h: NetServer, the chat server's network layer: qaio streams in, ServerState out.
//
// One coroutine per connection reads bytes, frames them with LineSplitter and hands lines to the
// shared ServerState; ServerState's replies come back through ServerOutput and are written to the
// clients' transports without waiting (never drain()): one slow reader must not stall a broadcast.
// Instead each client's unsent bytes are bounded (the "SendQ"); past the bound the connection is
// aborted and its peers see "QUIT :SendQ exceeded".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "qaio/qaio.h"
#include "qaio/streams.h"
#include "server_state.h"

namespace chat::server {

class NetServer final : public ServerOutput {
 public:
  NetServer(qaio::EventLoop& loop, ServerConfig config, std::size_t max_sendq);
  ~NetServer() override;
  NetServer(const NetServer&) = delete;
  NetServer& operator=(const NetServer&) = delete;

  // The start_server() callback: serves one connection until it ends.
  qaio::Coro<void> serve_client(qaio::StreamReader reader, qaio::StreamWriter writer);
  // Calls ServerState::tick every `interval` seconds until cancelled.
  qaio::Coro<void> tick_forever(double interval);
  // Graceful stop: every client gets a NOTICE and an ERROR, then its socket is flushed and closed.
  void shutdown(const std::string& reason);

  ServerState& state() noexcept { return state_; }
  std::size_t connection_count() const noexcept { return conns_.size(); }

  void send(ClientId id, const std::string& line) override;
  void close(ClientId id) override;

 private:
  struct Conn {
    qaio::StreamWriter writer;
    std::string peer;
    std::optional<std::string> drop_reason;  // set when we aborted the connection ourselves
    std::string out;                          // lines not yet handed to the transport
    bool dirty = false;
  };
  // Hands every client's pending lines to its transport: one write (one send()) per client per
  // loop iteration instead of one per line; a broadcast burst costs O(clients) syscalls.
  void flush_all();
  void flush(ClientId id, Conn& conn);

  qaio::EventLoop& loop_;
  ServerState state_;
  std::size_t max_sendq_;
  std::unordered_map<ClientId, Conn> conns_;
  std::vector<ClientId> dirty_;
  // The queued flush_all, if any: cancelled by the destructor, since it points at this object.
  qaio::Handle pending_flush_;
};

}  // namespace chat::server
