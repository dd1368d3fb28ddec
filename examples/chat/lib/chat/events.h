// chat/events.h: what a chat client shows the user. ClientState turns server lines into these;
// the console client prints them and the Qt client routes them to tabs.
#pragma once

#include <string>
#include <vector>

namespace chat {

struct ChatEvent {
  enum class Kind {
    registered,  // welcome received; nick = our nick
    message,     // PRIVMSG; target = channel, or the peer's nick for a private conversation
    action,      // CTCP ACTION (/me)
    notice,      // NOTICE (target as for message; "" when from the server)
    join,        // nick joined target (self = we did)
    part,        // nick left target; text = reason
    quit,        // nick quit; target = a channel they were on (one event per shared channel); text = reason
    nick,        // nick is now text (target = a channel where it was seen, "" for our own change)
    topic,       // target's topic is text (nick = who set it, empty when just reported)
    names,       // names = the full member list of target (after 366)
    error,       // a numeric error or ERROR line; text = human-readable
    server,      // other server text (MOTD, info numerics) for the server tab
  };
  Kind kind = Kind::server;
  std::string target;
  std::string nick;
  std::string text;
  bool self = false;  // the event is about us (our join, our message echoed locally, ...)
  std::vector<std::string> names;
};

const char* to_string(ChatEvent::Kind kind) noexcept;

}  // namespace chat
