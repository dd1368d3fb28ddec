// server_state.cpp: client lifecycle, line dispatch, broadcasting, timeouts and shutdown of the
// chat server's state machine (the per-command handlers are in server_commands.cpp).
#include "server_state.h"

#include <algorithm>
#include <utility>

#include "chat/names.h"
#include "chat/numerics.h"
#include "chat/utf8.h"

namespace chat::server {

ServerState::ServerState(ServerConfig config, ServerOutput& out) : config_(std::move(config)), out_(out) {}

ClientId ServerState::add_client(std::string host, double now) {
  auto c = std::make_unique<Client>();
  c->id = next_id_++;
  c->host = std::move(host);
  c->connected_at = now;
  c->last_activity = now;
  ClientId id = c->id;
  clients_.emplace(id, std::move(c));
  return id;
}

Client* ServerState::client(ClientId id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

const Client* ServerState::find_client(ClientId id) const {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

const Client* ServerState::find_nick(std::string_view nick) const {
  auto it = nicks_.find(irc_lower(nick));
  return it == nicks_.end() ? nullptr : find_client(it->second);
}

const Channel* ServerState::find_channel(std::string_view name) const {
  auto it = channels_.find(irc_lower(name));
  return it == channels_.end() ? nullptr : &it->second;
}

void ServerState::send_raw(Client& c, const std::string& line) { out_.send(c.id, line); }

void ServerState::send_from(Client& c, std::string_view prefix, std::string_view command,
                            std::vector<std::string> params, bool text) {
  send_raw(c, text ? make_text_line(prefix, command, std::move(params)) : make_line(prefix, command, std::move(params)));
}

void ServerState::numeric(Client& c, const char* code, std::vector<std::string> params, bool text) {
  params.insert(params.begin(), c.nick.empty() ? std::string("*") : c.nick);
  send_from(c, config_.server_name, code, std::move(params), text);
}

void ServerState::broadcast_to_channel(Channel& ch, const std::string& line, ClientId except) {
  for (const ChannelMember& m : ch.members)
    if (m.id != except) out_.send(m.id, line);
}

void ServerState::broadcast_to_peers(Client& c, const std::string& line, bool include_self) {
  // A peer sharing several channels with c must see the line once.
  std::set<ClientId> seen;
  if (include_self) {
    seen.insert(c.id);
    send_raw(c, line);
  } else {
    seen.insert(c.id);
  }
  for (const std::string& key : c.channels) {
    auto it = channels_.find(key);
    if (it == channels_.end()) continue;
    for (const ChannelMember& m : it->second.members)
      if (seen.insert(m.id).second) out_.send(m.id, line);
  }
}

void ServerState::handle_overflow(ClientId id, double now) {
  Client* c = client(id);
  if (!c) return;
  c->last_activity = now;
  numeric(*c, rpl::ERR_INPUTTOOLONG, {"Input line was too long"});
}

void ServerState::handle_line(ClientId id, std::string_view line, double now) {
  Client* c = client(id);
  if (!c) return;
  c->last_activity = now;
  ParseResult r = parse_message(line);
  if (!r.ok()) {
    switch (r.error) {
      case ParseError::empty: return;  // RFC 2812 2.3.1: silently ignored
      case ParseError::too_long:
      case ParseError::tags_too_long: numeric(*c, rpl::ERR_INPUTTOOLONG, {"Input line was too long"}); return;
      default: numeric(*c, rpl::ERR_UNKNOWNERROR, {"*", "Malformed line rejected: " + r.reason}); return;
    }
  }
  // Everything we accept is relayed to other clients, who were promised UTF8ONLY in 005.
  if (!is_valid_utf8(line)) {
    send_from(*c, config_.server_name, "FAIL",
              {r.message.command, "INVALID_UTF8",
               "Message rejected, your IRC software MUST use UTF-8 encoding on this network"});
    return;
  }
  dispatch(*c, r.message, now);
}

void ServerState::dispatch(Client& c, const Message& m, double now) {
  const std::string& cmd = m.command;
  // Commands allowed before registration (RFC 2812 3.1, plus CAP which modern clients send first).
  if (cmd == "NICK") return cmd_nick(c, m);
  if (cmd == "USER") return cmd_user(c, m);
  if (cmd == "PING") return cmd_ping(c, m);
  if (cmd == "PONG") {
    c.ping_sent_at.reset();
    return;
  }
  if (cmd == "QUIT") return cmd_quit(c, m);
  if (cmd == "CAP") return cmd_cap(c, m);
  if (cmd == "PASS") return;  // no passwords on this server; accepted and ignored
  if (!c.registered) {
    numeric(c, rpl::ERR_NOTREGISTERED, {"You have not registered"});
    return;
  }
  if (cmd == "JOIN") return cmd_join(c, m);
  if (cmd == "PART") return cmd_part(c, m);
  if (cmd == "PRIVMSG") return cmd_message(c, m, false);
  if (cmd == "NOTICE") return cmd_message(c, m, true);
  if (cmd == "NAMES") return cmd_names(c, m);
  if (cmd == "TOPIC") return cmd_topic(c, m, now);
  if (cmd == "WHO") return cmd_who(c, m);
  if (cmd == "MODE") return cmd_mode(c, m);
  numeric(c, rpl::ERR_UNKNOWNCOMMAND, {cmd, "Unknown command"});
}

void ServerState::try_complete_registration(Client& c) {
  if (c.registered || c.nick.empty() || c.user.empty()) return;
  c.registered = true;
  const std::string& s = config_.server_name;
  numeric(c, rpl::WELCOME, {"Welcome to the " + config_.network + " IRC Network " + c.mask()});
  numeric(c, rpl::YOURHOST, {"Your host is " + s + ", running version " + config_.version});
  numeric(c, rpl::CREATED, {"This server was created " + config_.created});
  numeric(c, rpl::MYINFO, {s, config_.version, "i", "nt"}, false);
  numeric(c, rpl::ISUPPORT,
          {"CASEMAPPING=rfc1459", "CHANTYPES=#&", "CHANMODES=,,,nt", "PREFIX=(o)@",
           "NICKLEN=" + std::to_string(kNickLen), "CHANNELLEN=" + std::to_string(kChannelLen),
           "TOPICLEN=" + std::to_string(config_.topic_len),
           "CHANLIMIT=#&:" + std::to_string(config_.max_channels_per_client), "NETWORK=" + config_.network,
           "UTF8ONLY", "are supported by this server"});
  numeric(c, rpl::ERR_NOMOTD, {"MOTD File is missing"});
}

void ServerState::forget(ClientId id, std::string_view quit_reason) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  std::unique_ptr<Client> owned = std::move(it->second);
  clients_.erase(it);
  Client& c = *owned;
  if (c.registered) broadcast_to_peers(c, make_text_line(c.mask(), "QUIT", {std::string(quit_reason)}), false);
  for (const std::string& key : c.channels) {
    auto ch = channels_.find(key);
    if (ch == channels_.end()) continue;
    auto& mem = ch->second.members;
    mem.erase(std::remove_if(mem.begin(), mem.end(), [&](const ChannelMember& m) { return m.id == c.id; }),
              mem.end());
    if (mem.empty()) channels_.erase(ch);
  }
  if (!c.nick.empty()) {
    auto n = nicks_.find(irc_lower(c.nick));
    if (n != nicks_.end() && n->second == c.id) nicks_.erase(n);
  }
}

void ServerState::disconnect(Client& c, std::string_view error_text, std::string_view quit_reason) {
  ClientId id = c.id;
  send_from(c, "", "ERROR", {"Closing Link: " + c.host + " (" + std::string(error_text) + ")"});
  forget(id, quit_reason);
  out_.close(id);
}

void ServerState::remove_client(ClientId id, std::string_view reason) { forget(id, reason); }

void ServerState::tick(double now) {
  std::vector<ClientId> ids;
  ids.reserve(clients_.size());
  for (auto& [id, c] : clients_) ids.push_back(id);
  for (ClientId id : ids) {
    Client* c = client(id);
    if (!c) continue;
    if (!c->registered && now - c->connected_at >= config_.registration_timeout) {
      disconnect(*c, "Registration timed out", "Registration timed out");
    } else if (c->ping_sent_at && now - *c->ping_sent_at >= config_.ping_timeout) {
      std::string why = "Ping timeout: " + std::to_string(static_cast<long>(now - c->last_activity)) + " seconds";
      disconnect(*c, why, why);
    } else if (c->registered && !c->ping_sent_at && now - c->last_activity >= config_.ping_interval) {
      c->ping_sent_at = now;
      send_from(*c, "", "PING", {config_.server_name}, false);
    }
  }
}

void ServerState::shutdown(std::string_view reason) {
  std::vector<ClientId> ids;
  for (auto& [id, c] : clients_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  // Everyone is told first, so nobody sees a storm of QUITs from the others.
  for (ClientId id : ids) {
    Client* c = client(id);
    send_from(*c, config_.server_name, "NOTICE",
              {c->nick.empty() ? "*" : c->nick, "Server shutting down: " + std::string(reason)});
    send_from(*c, "", "ERROR", {"Closing Link: " + c->host + " (Server shutting down)"});
  }
  for (ClientId id : ids) out_.close(id);
  clients_.clear();
  nicks_.clear();
  channels_.clear();
}

}  // namespace chat::server
