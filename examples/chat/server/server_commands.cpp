// server_commands.cpp: one handler per IRC command the chat server understands (RFC 2812 section
// 3), with the numeric replies clients rely on. Channels behave as mode +nt would suggest for
// messages (no outside messages) but anyone on a channel may set its topic: a small friendly server.
#include <algorithm>
#include <ctime>

#include "chat/names.h"
#include "chat/numerics.h"
#include "chat/utf8.h"
#include "server_state.h"

namespace chat::server {

namespace {

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// RFC 2812 user names are mostly free-form; we keep a conservative subset so the mask shown to
// others never carries surprises, and mark it with '~' as servers do for unverified idents.
std::string sanitize_user(std::string_view raw) {
  std::string out = "~";
  for (char c : raw) {
    if (out.size() > 10) break;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
        c == '.')
      out.push_back(c);
  }
  if (out.size() == 1) out += "user";
  return out;
}

std::int64_t wall_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

void ServerState::cmd_nick(Client& c, const Message& m) {
  const std::string& nick = m.param(0);
  if (nick.empty()) return numeric(c, rpl::ERR_NONICKNAMEGIVEN, {"No nickname given"});
  if (!is_valid_nick(nick)) return numeric(c, rpl::ERR_ERRONEUSNICKNAME, {nick, "Erroneous nickname"});
  std::string key = irc_lower(nick);
  auto it = nicks_.find(key);
  if (it != nicks_.end() && it->second != c.id)
    return numeric(c, rpl::ERR_NICKNAMEINUSE, {nick, "Nickname is already in use"});
  if (nick == c.nick) return;
  if (!c.nick.empty()) nicks_.erase(irc_lower(c.nick));
  nicks_[key] = c.id;
  if (c.registered) {
    // Everyone who can see c (and c itself) learns the change, from the old mask.
    broadcast_to_peers(c, make_line(c.mask(), "NICK", {nick}), true);
    c.nick = nick;
    return;
  }
  c.nick = nick;
  try_complete_registration(c);
}

void ServerState::cmd_user(Client& c, const Message& m) {
  if (c.registered) return numeric(c, rpl::ERR_ALREADYREGISTRED, {"You may not reregister"});
  if (m.params.size() < 4 || m.params[0].empty())
    return numeric(c, rpl::ERR_NEEDMOREPARAMS, {"USER", "Not enough parameters"});
  c.user = sanitize_user(m.params[0]);
  c.realname = m.params[3];
  try_complete_registration(c);
}

void ServerState::cmd_join(Client& c, const Message& m) {
  if (m.param(0).empty()) return numeric(c, rpl::ERR_NEEDMOREPARAMS, {"JOIN", "Not enough parameters"});
  if (m.param(0) == "0") return part_all(c);  // RFC 2812 3.2.1: JOIN 0 leaves every channel
  for (const std::string& name : split_commas(m.param(0))) join_one(c, name);
}

void ServerState::join_one(Client& c, std::string_view name) {
  if (!is_valid_channel(name)) return numeric(c, rpl::ERR_NOSUCHCHANNEL, {std::string(name), "No such channel"});
  std::string key = irc_lower(name);
  if (c.channels.count(key)) return;
  if (c.channels.size() >= config_.max_channels_per_client)
    return numeric(c, rpl::ERR_TOOMANYCHANNELS, {std::string(name), "You have joined too many channels"});
  auto [it, created] = channels_.try_emplace(key);
  Channel& ch = it->second;
  if (created) {
    ch.name = std::string(name);
    ch.created = wall_now();
  }
  ch.members.push_back(ChannelMember{c.id, created});  // the creator is the channel operator
  c.channels.insert(key);
  broadcast_to_channel(ch, make_line(c.mask(), "JOIN", {ch.name}), 0);
  send_topic(c, ch, false);
  send_names(c, ch);
}

void ServerState::cmd_part(Client& c, const Message& m) {
  if (m.param(0).empty()) return numeric(c, rpl::ERR_NEEDMOREPARAMS, {"PART", "Not enough parameters"});
  for (const std::string& name : split_commas(m.param(0))) part_one(c, name, m.param(1));
}

void ServerState::part_one(Client& c, std::string_view name, std::string_view reason) {
  std::string key = irc_lower(name);
  auto it = channels_.find(key);
  if (it == channels_.end()) return numeric(c, rpl::ERR_NOSUCHCHANNEL, {std::string(name), "No such channel"});
  Channel& ch = it->second;
  if (!c.channels.count(key)) return numeric(c, rpl::ERR_NOTONCHANNEL, {ch.name, "You're not on that channel"});
  broadcast_to_channel(ch,
                       reason.empty() ? make_line(c.mask(), "PART", {ch.name})
                                      : make_text_line(c.mask(), "PART", {ch.name, std::string(reason)}),
                       0);
  c.channels.erase(key);
  auto& mem = ch.members;
  mem.erase(std::remove_if(mem.begin(), mem.end(), [&](const ChannelMember& x) { return x.id == c.id; }), mem.end());
  if (mem.empty()) channels_.erase(it);
}

void ServerState::part_all(Client& c) {
  std::vector<std::string> names;
  for (const std::string& key : c.channels) names.push_back(channels_.at(key).name);
  for (const std::string& name : names) part_one(c, name, "");
}

void ServerState::cmd_message(Client& c, const Message& m, bool notice) {
  // RFC 2812 3.3.2: NOTICE never triggers an error reply, so two bots cannot loop on errors.
  const char* verb = notice ? "NOTICE" : "PRIVMSG";
  if (m.param(0).empty()) {
    if (!notice) numeric(c, rpl::ERR_NORECIPIENT, {std::string("No recipient given (") + verb + ")"});
    return;
  }
  if (m.params.size() < 2 || m.params[1].empty()) {
    if (!notice) numeric(c, rpl::ERR_NOTEXTTOSEND, {"No text to send"});
    return;
  }
  const std::string& text = m.params[1];
  for (const std::string& target : split_commas(m.param(0))) {
    if (is_channel_name(target)) {
      auto it = channels_.find(irc_lower(target));
      if (it == channels_.end()) {
        if (!notice) numeric(c, rpl::ERR_NOSUCHNICK, {target, "No such nick/channel"});
        continue;
      }
      if (!c.channels.count(it->first)) {
        if (!notice) numeric(c, rpl::ERR_CANNOTSENDTOCHAN, {it->second.name, "Cannot send to channel"});
        continue;
      }
      broadcast_to_channel(it->second, make_text_line(c.mask(), verb, {it->second.name, text}), c.id);
    } else {
      auto it = nicks_.find(irc_lower(target));
      Client* to = it == nicks_.end() ? nullptr : client(it->second);
      if (!to || !to->registered) {
        if (!notice) numeric(c, rpl::ERR_NOSUCHNICK, {target, "No such nick/channel"});
        continue;
      }
      send_raw(*to, make_text_line(c.mask(), verb, {to->nick, text}));
    }
  }
}

void ServerState::cmd_quit(Client& c, const Message& m) {
  std::string reason = m.param(0).empty() ? std::string("Client Quit") : "Quit: " + m.param(0);
  disconnect(c, reason, reason);
}

void ServerState::cmd_ping(Client& c, const Message& m) {
  if (m.param(0).empty()) return numeric(c, rpl::ERR_NOORIGIN, {"No origin specified"});
  send_from(c, config_.server_name, "PONG", {config_.server_name, m.param(0)}, false);
}

void ServerState::send_topic(Client& c, Channel& ch, bool reply_when_unset) {
  if (ch.topic.empty()) {
    if (reply_when_unset) numeric(c, rpl::NOTOPIC, {ch.name, "No topic is set"});
    return;
  }
  numeric(c, rpl::TOPIC, {ch.name, ch.topic});
  numeric(c, rpl::TOPICWHOTIME, {ch.name, ch.topic_setter, std::to_string(ch.topic_time)}, false);
}

void ServerState::send_names(Client& c, Channel& ch) {
  // 353 replies are split so each line stays within 512 bytes, whatever the channel's size.
  const std::string me = c.nick.empty() ? "*" : c.nick;
  const std::size_t head = 1 + config_.server_name.size() + 5 + me.size() + 3 + ch.name.size() + 2 + 2;
  std::string names;
  auto flush = [&] {
    if (!names.empty()) numeric(c, rpl::NAMREPLY, {"=", ch.name, names});
    names.clear();
  };
  for (const ChannelMember& mem : ch.members) {
    const Client* who = find_client(mem.id);
    if (!who) continue;
    std::string entry = (mem.op ? "@" : "") + who->nick;
    if (head + names.size() + 1 + entry.size() > kMaxLineBytes - 8) flush();
    if (!names.empty()) names += ' ';
    names += entry;
  }
  flush();
  numeric(c, rpl::ENDOFNAMES, {ch.name, "End of /NAMES list"});
}

void ServerState::cmd_names(Client& c, const Message& m) {
  if (m.param(0).empty()) {
    for (auto& [key, ch] : channels_) send_names(c, ch);
    return numeric(c, rpl::ENDOFNAMES, {"*", "End of /NAMES list"});
  }
  for (const std::string& name : split_commas(m.param(0))) {
    auto it = channels_.find(irc_lower(name));
    if (it != channels_.end()) {
      send_names(c, it->second);
    } else {
      numeric(c, rpl::ENDOFNAMES, {name, "End of /NAMES list"});
    }
  }
}

void ServerState::cmd_topic(Client& c, const Message& m, double /*now*/) {
  if (m.param(0).empty()) return numeric(c, rpl::ERR_NEEDMOREPARAMS, {"TOPIC", "Not enough parameters"});
  auto it = channels_.find(irc_lower(m.param(0)));
  if (it == channels_.end()) return numeric(c, rpl::ERR_NOSUCHCHANNEL, {m.param(0), "No such channel"});
  Channel& ch = it->second;
  if (m.params.size() < 2) return send_topic(c, ch, true);
  if (!c.channels.count(it->first)) return numeric(c, rpl::ERR_NOTONCHANNEL, {ch.name, "You're not on that channel"});
  const std::string& text = m.params[1];
  ch.topic = text.substr(0, utf8_prefix_length(text, config_.topic_len));
  ch.topic_setter = c.mask();
  ch.topic_time = wall_now();
  broadcast_to_channel(ch, make_text_line(c.mask(), "TOPIC", {ch.name, ch.topic}), 0);
}

void ServerState::cmd_who(Client& c, const Message& m) {
  const std::string mask = m.param(0).empty() ? std::string("*") : m.param(0);
  auto reply = [&](const std::string& chan, const Client& who, bool op) {
    numeric(c, rpl::WHOREPLY,
            {chan, who.user, who.host, config_.server_name, who.nick, op ? "H@" : "H", "0 " + who.realname});
  };
  if (is_channel_name(mask)) {
    if (auto it = channels_.find(irc_lower(mask)); it != channels_.end()) {
      for (const ChannelMember& mem : it->second.members)
        if (const Client* who = find_client(mem.id)) reply(it->second.name, *who, mem.op);
    }
  } else if (const Client* who = find_nick(mask); who && who->registered) {
    reply("*", *who, false);
  }
  numeric(c, rpl::ENDOFWHO, {mask, "End of WHO list"});
}

void ServerState::cmd_mode(Client& c, const Message& m) {
  const std::string& target = m.param(0);
  if (target.empty()) return numeric(c, rpl::ERR_NEEDMOREPARAMS, {"MODE", "Not enough parameters"});
  if (is_channel_name(target)) {
    auto it = channels_.find(irc_lower(target));
    if (it == channels_.end()) return numeric(c, rpl::ERR_NOSUCHCHANNEL, {target, "No such channel"});
    Channel& ch = it->second;
    if (m.params.size() < 2) {
      numeric(c, rpl::CHANNELMODEIS, {ch.name, "+nt"}, false);
      return numeric(c, rpl::CREATIONTIME, {ch.name, std::to_string(ch.created)}, false);
    }
    bool op = std::any_of(ch.members.begin(), ch.members.end(),
                          [&](const ChannelMember& x) { return x.id == c.id && x.op; });
    if (!op) return numeric(c, rpl::ERR_CHANOPRIVSNEEDED, {ch.name, "You're not channel operator"});
    for (char mc : m.params[1])
      if (mc != '+' && mc != '-' && mc != 'n' && mc != 't')
        numeric(c, rpl::ERR_UNKNOWNMODE, {std::string(1, mc), "is unknown mode char to me"});
    return;
  }
  if (!irc_equal(target, c.nick)) return numeric(c, rpl::ERR_USERSDONTMATCH, {"Cant change mode for other users"});
  numeric(c, rpl::UMODEIS, {"+"}, false);
}

void ServerState::cmd_cap(Client& c, const Message& m) {
  // We offer no capabilities; answering keeps IRCv3 clients from waiting for a CAP reply.
  const std::string sub = m.param(0);
  const std::string who = c.nick.empty() ? "*" : c.nick;
  if (sub == "LS" || sub == "LIST") return send_from(c, config_.server_name, "CAP", {who, sub, ""});
  if (sub == "REQ") return send_from(c, config_.server_name, "CAP", {who, "NAK", m.param(1)});
}

}  // namespace chat::server
