// names.cpp: rfc1459 case folding and name validation (see chat/names.h).
#include "chat/names.h"

namespace chat {

namespace {

char lower_char(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c + 32);
  switch (c) {
    case '[': return '{';
    case ']': return '}';
    case '\\': return '|';
    case '~': return '^';
    default: return c;
  }
}

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_special(char c) {
  return c == '[' || c == ']' || c == '\\' || c == '`' || c == '_' || c == '^' || c == '{' || c == '|' ||
         c == '}';
}

}  // namespace

std::string irc_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_char(c);
  return out;
}

bool irc_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_char(a[i]) != lower_char(b[i])) return false;
  return true;
}

bool is_valid_nick(std::string_view nick, std::size_t max_len) noexcept {
  if (nick.empty() || nick.size() > max_len) return false;
  if (!is_letter(nick[0]) && !is_special(nick[0])) return false;
  for (char c : nick.substr(1))
    if (!is_letter(c) && !is_digit(c) && !is_special(c) && c != '-') return false;
  return true;
}

bool is_channel_name(std::string_view name) noexcept {
  return !name.empty() && (name[0] == '#' || name[0] == '&');
}

bool is_valid_channel(std::string_view name, std::size_t max_len) noexcept {
  if (name.size() < 2 || name.size() > max_len || !is_channel_name(name)) return false;
  for (char c : name.substr(1))
    if (c == '\0' || c == '\a' || c == '\r' || c == '\n' || c == ' ' || c == ',' || c == ':') return false;
  return true;
}

std::string Source::full() const {
  std::string out = nick;
  if (!user.empty()) out += "!" + user;
  if (!host.empty()) out += "@" + host;
  return out;
}

Source parse_source(std::string_view prefix) {
  Source s;
  std::size_t at = prefix.find('@');
  std::string_view left = prefix.substr(0, at);
  if (at != std::string_view::npos) s.host = std::string(prefix.substr(at + 1));
  std::size_t bang = left.find('!');
  s.nick = std::string(left.substr(0, bang));
  if (bang != std::string_view::npos) s.user = std::string(left.substr(bang + 1));
  return s;
}

}  // namespace chat
