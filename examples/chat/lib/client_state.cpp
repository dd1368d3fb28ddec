// client_state.cpp: the client protocol state machine (see chat/client_state.h).
#include "chat/client_state.h"

#include <algorithm>
#include <stdexcept>

#include "chat/names.h"
#include "chat/utf8.h"

namespace chat {

const char* to_string(ChatEvent::Kind kind) noexcept {
  switch (kind) {
    case ChatEvent::Kind::registered: return "registered";
    case ChatEvent::Kind::message: return "message";
    case ChatEvent::Kind::action: return "action";
    case ChatEvent::Kind::notice: return "notice";
    case ChatEvent::Kind::join: return "join";
    case ChatEvent::Kind::part: return "part";
    case ChatEvent::Kind::quit: return "quit";
    case ChatEvent::Kind::nick: return "nick";
    case ChatEvent::Kind::topic: return "topic";
    case ChatEvent::Kind::names: return "names";
    case ChatEvent::Kind::error: return "error";
    case ChatEvent::Kind::server: return "server";
  }
  return "?";
}

namespace {

std::string strip_member_prefix(std::string_view n) {
  while (!n.empty() && std::string_view("@+%~&!").find(n.front()) != std::string_view::npos) n.remove_prefix(1);
  return std::string(n);
}

std::string join_params(const Message& m, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < m.params.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += m.params[i];
  }
  return out;
}

// Room for the text of "PRIVMSG <target> :<text>" once the server prefixes our full mask, which
// we cannot know exactly: servers allow up to ~100 bytes of nick!user@host, so we keep that free.
std::size_t text_room(std::string_view target) {
  constexpr std::size_t kMaskReserve = 100;
  std::size_t fixed = kMaskReserve + std::string_view(" PRIVMSG  :\r\n").size() + target.size() + 1;
  return fixed >= kMaxLineBytes ? 1 : kMaxLineBytes - fixed;
}

}  // namespace

ClientState::ClientState(Identity identity, Send send, Emit emit)
    : identity_(std::move(identity)), send_(std::move(send)), emit_(std::move(emit)) {
  for (const std::string& c : identity_.channels) add_wanted(c);
}

void ClientState::report(ChatEvent::Kind kind, std::string target, std::string nick, std::string text, bool self) {
  ChatEvent e;
  e.kind = kind;
  e.target = std::move(target);
  e.nick = std::move(nick);
  e.text = std::move(text);
  e.self = self;
  emit_(e);
}

void ClientState::send_message(const std::string& command, std::vector<std::string> params, bool text) {
  send_(text ? make_text_line("", command, std::move(params)) : make_line("", command, std::move(params)));
}

bool ClientState::is_me(std::string_view nick) const { return irc_equal(nick, nick_); }

void ClientState::add_wanted(std::string_view channel) {
  for (const std::string& w : wanted_)
    if (irc_equal(w, channel)) return;
  wanted_.emplace_back(channel);
}

void ClientState::remove_wanted(std::string_view channel) {
  wanted_.erase(std::remove_if(wanted_.begin(), wanted_.end(), [&](const std::string& w) { return irc_equal(w, channel); }),
                wanted_.end());
}

void ClientState::start_registration() {
  registered_ = false;
  nick_attempt_ = 0;
  nick_ = identity_.nick;
  channels_.clear();
  pending_names_.clear();
  send_message("NICK", {nick_}, false);
  send_message("USER", {identity_.user, "0", "*", identity_.realname}, true);
}

void ClientState::handle_line(std::string_view line) {
  ParseResult r = parse_message(line);
  if (!r.ok()) {
    if (r.error != ParseError::empty) report(ChatEvent::Kind::error, "", "", "malformed line from server: " + r.reason);
    return;
  }
  const Message& m = r.message;
  const std::string who = parse_source(m.prefix).nick;
  const std::string& cmd = m.command;
  if (cmd == "PING") return send_message("PONG", {m.param(0)}, true);
  if (cmd == "PONG") return;
  if (cmd == "001") return on_welcome(m);
  if (!registered_ && (cmd == "433" || cmd == "432" || cmd == "437")) return on_nick_rejected(m);
  if (cmd == "JOIN") return on_join(who, m);
  if (cmd == "PART") return on_part(who, m);
  if (cmd == "KICK") {
    Message as_part{m.prefix, "PART", {m.param(0), "kicked by " + who + ": " + m.param(2)}};
    return on_part(m.param(1), as_part);
  }
  if (cmd == "QUIT") return on_quit(who, m);
  if (cmd == "NICK") return on_nick(who, m);
  if (cmd == "PRIVMSG") return on_privmsg(who, m, false);
  if (cmd == "NOTICE") return on_privmsg(who, m, true);
  if (cmd == "TOPIC") {
    if (auto it = channels_.find(irc_lower(m.param(0))); it != channels_.end()) it->second.topic = m.param(1);
    return report(ChatEvent::Kind::topic, m.param(0), who, m.param(1), is_me(who));
  }
  if (cmd == "ERROR") return report(ChatEvent::Kind::error, "", "", m.param(0));
  if (cmd == "332") {
    if (auto it = channels_.find(irc_lower(m.param(1))); it != channels_.end()) it->second.topic = m.param(2);
    return report(ChatEvent::Kind::topic, m.param(1), "", m.param(2));
  }
  if (cmd == "353") {
    // ":srv 353 me = #chan :@a b +c" (some servers omit the '=' field).
    std::size_t ci = m.params.size() >= 4 ? 2 : 1;
    auto& names = pending_names_[irc_lower(m.param(ci))];
    std::string_view list = m.param(ci + 1);
    while (!list.empty()) {
      std::size_t sp = list.find(' ');
      if (sp != 0) names.push_back(strip_member_prefix(list.substr(0, sp)));
      if (sp == std::string_view::npos) break;
      list.remove_prefix(sp + 1);
    }
    return;
  }
  if (cmd == "366") {
    std::string key = irc_lower(m.param(1));
    std::vector<std::string> names = std::move(pending_names_[key]);
    pending_names_.erase(key);
    if (auto it = channels_.find(key); it != channels_.end())
      it->second.members = std::set<std::string>(names.begin(), names.end());
    ChatEvent e;
    e.kind = ChatEvent::Kind::names;
    e.target = m.param(1);
    e.names = std::move(names);
    return emit_(e);
  }
  if (cmd == "422") return report(ChatEvent::Kind::server, "", who, m.param(1));  // no MOTD is not a problem
  if (cmd.size() == 3 && (cmd[0] == '4' || cmd[0] == '5')) return report(ChatEvent::Kind::error, "", who, join_params(m, 1));
  if (cmd.size() == 3 && cmd[0] >= '0' && cmd[0] <= '9') return report(ChatEvent::Kind::server, "", who, join_params(m, 1));
  report(ChatEvent::Kind::server, "", who, cmd + " " + join_params(m, 0));
}

void ClientState::on_welcome(const Message& m) {
  registered_ = true;
  if (!m.param(0).empty()) nick_ = m.param(0);
  report(ChatEvent::Kind::registered, "", nick_, m.param(1), true);
  for (const std::string& c : wanted_) send_message("JOIN", {c}, false);
}

void ClientState::on_nick_rejected(const Message& m) {
  // RFC 2812 leaves the choice to the client; we try nick_, nick__, ..., then nick1, nick2, ...
  ++nick_attempt_;
  std::string base = identity_.nick;
  std::string next = base + std::string(static_cast<std::size_t>(std::min(nick_attempt_, 3)), '_');
  if (nick_attempt_ > 3 || next.size() > kNickLen)
    next = base.substr(0, std::min(base.size(), kNickLen - 4)) + std::to_string(nick_attempt_);
  report(ChatEvent::Kind::error, "", "",
       "nickname " + m.param(1) + " rejected (" + m.param(2) + "), trying " + next);
  nick_ = next;
  send_message("NICK", {next}, false);
}

void ClientState::on_join(const std::string& who, const Message& m) {
  const std::string& chan = m.param(0);
  std::string key = irc_lower(chan);
  if (is_me(who)) {
    channels_[key] = ChannelInfo{chan, "", {nick_}};
    add_wanted(chan);
    return report(ChatEvent::Kind::join, chan, who, "", true);
  }
  if (auto it = channels_.find(key); it != channels_.end()) it->second.members.insert(who);
  report(ChatEvent::Kind::join, chan, who, "");
}

void ClientState::on_part(const std::string& who, const Message& m) {
  const std::string& chan = m.param(0);
  std::string key = irc_lower(chan);
  if (is_me(who)) {
    channels_.erase(key);
    remove_wanted(chan);
    return report(ChatEvent::Kind::part, chan, who, m.param(1), true);
  }
  if (auto it = channels_.find(key); it != channels_.end()) it->second.members.erase(who);
  report(ChatEvent::Kind::part, chan, who, m.param(1));
}

void ClientState::on_quit(const std::string& who, const Message& m) {
  for (auto& [key, info] : channels_) {
    if (info.members.erase(who)) report(ChatEvent::Kind::quit, info.name, who, m.param(0));
  }
}

void ClientState::on_nick(const std::string& who, const Message& m) {
  const std::string& now = m.param(0);
  bool self = is_me(who);
  if (self) {
    nick_ = now;
    identity_.nick = now;  // what we ask for after a reconnect
    report(ChatEvent::Kind::nick, "", who, now, true);
  }
  for (auto& [key, info] : channels_) {
    if (info.members.erase(who)) {
      info.members.insert(now);
      report(ChatEvent::Kind::nick, info.name, who, now, self);
    }
  }
}

void ClientState::on_privmsg(const std::string& who, const Message& m, bool notice) {
  const std::string& target = m.param(0);
  std::string text = m.param(1);
  // Messages to a channel belong to that channel's conversation; private ones to the sender's.
  std::string conv = is_channel_name(target) ? target : (m.prefix.find('!') == std::string::npos ? "" : who);
  if (text.size() >= 2 && text.front() == '\x01') {
    std::string body = text.substr(1, text.back() == '\x01' ? text.size() - 2 : text.size() - 1);
    if (body.rfind("ACTION ", 0) == 0) return report(ChatEvent::Kind::action, conv, who, body.substr(7));
    if (!notice && body == "VERSION")
      send_message("NOTICE", {who, "\x01VERSION qaio-chat (C++20 coroutines on qaio)\x01"}, true);
    if (!notice && body.rfind("PING", 0) == 0) send_message("NOTICE", {who, text}, true);
    return;
  }
  report(notice ? ChatEvent::Kind::notice : ChatEvent::Kind::message, conv, who, std::move(text));
}

void ClientState::join(std::string_view channel) { send_message("JOIN", {std::string(channel)}, false); }

void ClientState::part(std::string_view channel, std::string_view reason) {
  if (reason.empty()) return send_message("PART", {std::string(channel)}, false);
  send_message("PART", {std::string(channel), std::string(reason)}, true);
}

void ClientState::privmsg(std::string_view target, std::string_view text) {
  // Long input is sent as several messages rather than cut by the server.
  std::size_t room = text_room(target);
  while (!text.empty()) {
    std::size_t n = utf8_prefix_length(text, room);
    if (n == 0) n = std::min(text.size(), room);
    std::string part(text.substr(0, n));
    text.remove_prefix(n);
    send_message("PRIVMSG", {std::string(target), part}, true);
    report(ChatEvent::Kind::message, std::string(target), nick_, std::move(part), true);
  }
}

void ClientState::action(std::string_view target, std::string_view text) {
  std::string body(text.substr(0, utf8_prefix_length(text, text_room(target) - 9)));
  send_message("PRIVMSG", {std::string(target), "\x01" "ACTION " + body + "\x01"}, true);
  report(ChatEvent::Kind::action, std::string(target), nick_, body, true);
}

void ClientState::notice(std::string_view target, std::string_view text) {
  std::string body(text.substr(0, utf8_prefix_length(text, text_room(target))));
  send_message("NOTICE", {std::string(target), body}, true);
  report(ChatEvent::Kind::notice, std::string(target), nick_, body, true);
}

void ClientState::change_nick(std::string_view nick) {
  if (!registered_) identity_.nick = std::string(nick);
  send_message("NICK", {std::string(nick)}, false);
}

void ClientState::quit(std::string_view reason) { send_message("QUIT", {std::string(reason)}, true); }

void ClientState::send_raw(std::string_view line) {
  std::string l(line);
  while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
  ParseResult r = parse_message(l);
  if (!r.ok()) throw std::invalid_argument(r.reason);
  send_(l + "\r\n");
}

}  // namespace chat
