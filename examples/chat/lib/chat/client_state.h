// chat/client_state.h: the client side of the IRC protocol, without sockets: registration with
// nick-in-use retry, PING replies, channel and member tracking, and the rejoin list used after a
// reconnect. It consumes server lines and produces lines to send plus ChatEvents for the UI, so
// both clients (console and Qt) and the tests share one implementation.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chat/events.h"
#include "chat/message.h"

namespace chat {

struct Identity {
  std::string nick = "qaio";
  std::string user = "qaio";
  std::string realname = "qaio chat";
  std::vector<std::string> channels;  // joined after registration
};

class ClientState {
 public:
  using Send = std::function<void(std::string line)>;  // a formatted line with CRLF
  using Emit = std::function<void(const ChatEvent&)>;

  ClientState(Identity identity, Send send, Emit emit);

  // A new connection: forget per-connection state, send NICK/USER. Channels joined before (and
  // not parted) are rejoined after the welcome.
  void start_registration();
  // One line from the server (CRLF optional).
  void handle_line(std::string_view line);

  bool registered() const noexcept { return registered_; }
  const std::string& nick() const noexcept { return nick_; }
  // Channels we are on now, by irc_lower name, with their display name and members.
  struct ChannelInfo {
    std::string name;
    std::string topic;
    std::set<std::string> members;  // nicks without prefixes
  };
  const std::map<std::string, ChannelInfo>& channels() const noexcept { return channels_; }
  // Channels to (re)join on the next registration.
  const std::vector<std::string>& wanted_channels() const noexcept { return wanted_; }

  // Outgoing actions (they also emit the local echo the server will not send back to us).
  void join(std::string_view channel);
  void part(std::string_view channel, std::string_view reason = {});
  void privmsg(std::string_view target, std::string_view text);
  void action(std::string_view target, std::string_view text);
  void notice(std::string_view target, std::string_view text);
  void change_nick(std::string_view nick);
  void quit(std::string_view reason);
  // A raw IRC line; std::invalid_argument (nothing sent) if it does not parse.
  void send_raw(std::string_view line);

 private:
  void report(ChatEvent::Kind kind, std::string target, std::string nick, std::string text, bool self = false);
  void on_welcome(const Message& m);
  void on_nick_rejected(const Message& m);
  void on_join(const std::string& who, const Message& m);
  void on_part(const std::string& who, const Message& m);
  void on_quit(const std::string& who, const Message& m);
  void on_nick(const std::string& who, const Message& m);
  void on_privmsg(const std::string& who, const Message& m, bool notice);
  void add_wanted(std::string_view channel);
  void remove_wanted(std::string_view channel);
  bool is_me(std::string_view nick) const;
  void send_message(const std::string& command, std::vector<std::string> params, bool text);

  Identity identity_;
  Send send_;
  Emit emit_;
  std::string nick_;
  bool registered_ = false;
  int nick_attempt_ = 0;
  std::vector<std::string> wanted_;
  std::map<std::string, ChannelInfo> channels_;
  std::map<std::string, std::vector<std::string>> pending_names_;  // 353s until 366
};

}  // namespace chat
