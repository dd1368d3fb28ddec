// output.cpp: the console client's line format, e.g. "[12:00:01] #qaio <alice> hello".
#include "output.h"

#include <ctime>

namespace chat::cli {

namespace {

std::string stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "[%H:%M:%S] ", &tm);
  return buf;
}

std::string where(const ChatEvent& e) { return e.target.empty() ? std::string("*") : e.target; }

}  // namespace

std::string format_event(const ChatEvent& e) {
  using K = ChatEvent::Kind;
  std::string s = stamp();
  switch (e.kind) {
    case K::registered: return s + "*** registered as " + e.nick;
    case K::message: return s + where(e) + " <" + e.nick + "> " + e.text;
    case K::action: return s + where(e) + " * " + e.nick + " " + e.text;
    case K::notice: return s + where(e) + " -" + (e.nick.empty() ? std::string("server") : e.nick) + "- " + e.text;
    case K::join: return s + where(e) + " --> " + e.nick + " joined";
    case K::part: return s + where(e) + " <-- " + e.nick + " left" + (e.text.empty() ? "" : " (" + e.text + ")");
    case K::quit: return s + where(e) + " <-- " + e.nick + " quit (" + e.text + ")";
    case K::nick: return s + where(e) + " --- " + e.nick + " is now known as " + e.text;
    case K::topic:
      return s + where(e) + " --- topic" + (e.nick.empty() ? "" : " set by " + e.nick) + ": " + e.text;
    case K::names: {
      std::string list;
      for (const std::string& n : e.names) list += (list.empty() ? "" : " ") + n;
      return s + where(e) + " --- users: " + list;
    }
    case K::error: return s + "!!! " + e.text;
    case K::server: return s + "--- " + e.text;
  }
  return s + e.text;
}

std::string format_status(SessionStatus st, const std::string& detail) {
  return stamp() + "*** " + to_string(st) + (detail.empty() ? "" : ": " + detail);
}

}  // namespace chat::cli
