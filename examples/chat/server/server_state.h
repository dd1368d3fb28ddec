// server_state.h: the chat server's IRC protocol state machine, with no sockets and no clock.
//
// ServerState knows clients, nicks and channels and turns each received line into replies. It
// talks to the outside only through ServerOutput (send a line to a client, close a client) and
// takes the time as an argument, so every rule (registration, numerics, relaying, idle PING and
// timeouts, shutdown) is unit-tested by feeding lines and reading what comes out. The network layer
// (server_main.cpp) owns the sockets, the per-client write buffers and the timer that calls tick().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/message.h"

namespace chat::server {

using ClientId = std::uint64_t;

class ServerOutput {
 public:
  virtual ~ServerOutput() = default;
  // Neither call may re-enter ServerState synchronously (a broadcast may be iterating): a
  // transport that must drop a client defers that to a later callback.
  // Queue one formatted line (with CRLF) for the client.
  virtual void send(ClientId id, const std::string& line) = 0;
  // Flush what was queued, then close the connection. The state has already forgotten the client.
  virtual void close(ClientId id) = 0;
};

struct ServerConfig {
  std::string server_name = "qaio.chat";
  std::string network = "qaio";
  std::string version = "qaio-chat-0.1";
  std::string created = "today";
  double ping_interval = 90;          // idle this long: we send PING
  double ping_timeout = 60;           // PING unanswered this long: disconnect
  double registration_timeout = 30;   // no NICK+USER by then: disconnect
  std::size_t max_channels_per_client = 50;
  std::size_t topic_len = 390;
};

struct ChannelMember {
  ClientId id;
  bool op;
};

struct Channel {
  std::string name;  // as first created (display case)
  std::string topic;
  std::string topic_setter;
  std::int64_t topic_time = 0;
  std::int64_t created = 0;
  std::vector<ChannelMember> members;  // in join order, so NAMES is stable
};

struct Client {
  ClientId id = 0;
  std::string host;
  std::string nick;  // empty until NICK
  std::string user;  // empty until USER
  std::string realname;
  bool registered = false;
  double connected_at = 0;
  double last_activity = 0;
  std::optional<double> ping_sent_at;
  std::set<std::string> channels;  // irc_lower'ed names
  std::string mask() const { return nick + "!" + user + "@" + host; }
};

class ServerState {
 public:
  ServerState(ServerConfig config, ServerOutput& out);

  // A connection was accepted. `host` is what other users see (the peer address).
  ClientId add_client(std::string host, double now);
  // One line as framed by LineSplitter (without CR/LF). Malformed lines get an error reply.
  void handle_line(ClientId id, std::string_view line, double now);
  // The framing layer dropped a line longer than it would buffer.
  void handle_overflow(ClientId id, double now);
  // The connection ended (EOF, error, buffer overflow). Peers see a QUIT with `reason`. No-op if
  // the client was already removed.
  void remove_client(ClientId id, std::string_view reason);
  // Idle PINGs, ping timeouts, registration timeouts. Call it every second or so.
  void tick(double now);
  // Tells every client why, closes them all.
  void shutdown(std::string_view reason);

  // Introspection (tests, logs).
  std::size_t client_count() const noexcept { return clients_.size(); }
  std::size_t channel_count() const noexcept { return channels_.size(); }
  const Client* find_client(ClientId id) const;
  const Client* find_nick(std::string_view nick) const;
  const Channel* find_channel(std::string_view name) const;
  const ServerConfig& config() const noexcept { return config_; }

 private:
  Client* client(ClientId id);
  void dispatch(Client& c, const Message& m, double now);
  // Sends ":server <numeric> <nick|*> params..." to c; `text` puts the last one in trailing form.
  void numeric(Client& c, const char* code, std::vector<std::string> params, bool text = true);
  void send_raw(Client& c, const std::string& line);
  void send_from(Client& c, std::string_view prefix, std::string_view command, std::vector<std::string> params,
                 bool text = true);
  // Sends the line to every member of every channel c is on (once each), optionally c too.
  void broadcast_to_peers(Client& c, const std::string& line, bool include_self);
  void broadcast_to_channel(Channel& ch, const std::string& line, ClientId except);
  void disconnect(Client& c, std::string_view error_text, std::string_view quit_reason);
  void forget(ClientId id, std::string_view quit_reason);
  void try_complete_registration(Client& c);
  void send_names(Client& c, Channel& ch);
  void send_topic(Client& c, Channel& ch, bool reply_when_unset);
  void join_one(Client& c, std::string_view name);
  void part_one(Client& c, std::string_view name, std::string_view reason);
  void part_all(Client& c);

  void cmd_nick(Client& c, const Message& m);
  void cmd_user(Client& c, const Message& m);
  void cmd_join(Client& c, const Message& m);
  void cmd_part(Client& c, const Message& m);
  void cmd_message(Client& c, const Message& m, bool notice);
  void cmd_quit(Client& c, const Message& m);
  void cmd_ping(Client& c, const Message& m);
  void cmd_names(Client& c, const Message& m);
  void cmd_topic(Client& c, const Message& m, double now);
  void cmd_who(Client& c, const Message& m);
  void cmd_mode(Client& c, const Message& m);
  void cmd_cap(Client& c, const Message& m);

  ServerConfig config_;
  ServerOutput& out_;
  ClientId next_id_ = 1;
  std::unordered_map<ClientId, std::unique_ptr<Client>> clients_;
  std::unordered_map<std::string, ClientId> nicks_;  // irc_lower(nick) -> id
  std::map<std::string, Channel> channels_;           // irc_lower(name) -> channel
};

}  // namespace chat::server
