// input.cpp: slash commands of the chat clients (see chat/input.h).
#include "chat/input.h"

#include <stdexcept>

#include "chat/names.h"

namespace chat {

namespace {

// Splits off the first space-separated word.
std::string_view word(std::string_view& s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  std::size_t sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s.remove_prefix(sp == std::string_view::npos ? s.size() : sp + 1);
  return w;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

const char* input_help() noexcept {
  return "commands: /join #chan  /part [#chan] [reason]  /msg nick|#chan text  /query nick  /me action  "
         "/notice target text  /nick newnick  /topic [text]  /names [#chan]  /raw LINE  /quit [reason]  "
         "(text without '/' goes to the current conversation; '//' sends a leading '/')";
}

InputResult apply_input(ClientState& st, std::string_view text, std::string_view current) {
  InputResult res;
  text = trim(text);
  if (text.empty()) return res;
  try {
    if (text.front() != '/' || text.rfind("//", 0) == 0) {
      if (text.front() == '/') text.remove_prefix(1);
      if (current.empty()) {
        res.error = "not in a conversation: use /join #channel or /msg nick text";
      } else {
        st.privmsg(current, text);
      }
      return res;
    }
    text.remove_prefix(1);
    std::string cmd = irc_lower(word(text));
    std::string_view rest = trim(text);
    if (cmd == "join" || cmd == "j") {
      std::string_view chan = word(rest);
      if (chan.empty()) return res.error = "usage: /join #channel", res;
      std::string name(chan);
      if (!is_channel_name(name)) name = "#" + name;
      if (!is_valid_channel(name)) return res.error = "invalid channel name: " + name, res;
      st.join(name);
      res.open = name;
    } else if (cmd == "part" || cmd == "leave") {
      std::string chan(current);
      if (!rest.empty() && is_channel_name(rest)) chan = std::string(word(rest));
      if (!is_channel_name(chan)) return res.error = "usage: /part [#channel] [reason]", res;
      st.part(chan, trim(rest));
    } else if (cmd == "msg" || cmd == "query" || cmd == "notice") {
      std::string_view target = word(rest);
      if (target.empty() || (cmd != "query" && rest.empty()))
        return res.error = "usage: /" + cmd + (cmd == "query" ? " nick" : " target text"), res;
      if (cmd == "notice") {
        st.notice(target, rest);
      } else {
        if (!rest.empty()) st.privmsg(target, rest);
        res.open = std::string(target);
      }
    } else if (cmd == "me") {
      if (current.empty()) return res.error = "not in a conversation", res;
      if (rest.empty()) return res.error = "usage: /me action", res;
      st.action(current, rest);
    } else if (cmd == "nick") {
      std::string_view nick = word(rest);
      if (!is_valid_nick(nick)) return res.error = "invalid nickname: " + std::string(nick), res;
      st.change_nick(nick);
    } else if (cmd == "topic") {
      if (!is_channel_name(current)) return res.error = "/topic works in a channel", res;
      if (rest.empty()) {
        st.send_raw("TOPIC " + std::string(current));
      } else {
        st.send_raw("TOPIC " + std::string(current) + " :" + std::string(rest));
      }
    } else if (cmd == "names") {
      std::string chan = rest.empty() ? std::string(current) : std::string(word(rest));
      st.send_raw("NAMES " + chan);
    } else if (cmd == "raw" || cmd == "quote") {
      st.send_raw(rest);
    } else if (cmd == "quit" || cmd == "exit") {
      res.quit = true;
      res.quit_reason = rest.empty() ? "qaio-chat" : std::string(rest);
      st.quit(res.quit_reason);
    } else if (cmd == "help") {
      res.error = input_help();
    } else {
      res.error = "unknown command /" + cmd + "; " + input_help();
    }
  } catch (const std::invalid_argument& e) {
    res.error = std::string("not sent: ") + e.what();
  }
  return res;
}

}  // namespace chat
