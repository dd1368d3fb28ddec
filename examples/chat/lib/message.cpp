// message.cpp: the IRC line parser and formatter (see chat/message.h).
//
// Parsing is lenient where real software differs harmlessly (several spaces between parameters,
// a lower-case command) and strict where accepting input would be unsafe (NUL, embedded CR/LF,
// oversize lines), because a server relays what it accepts to other clients.
#include "chat/message.h"

#include <stdexcept>

#include "chat/utf8.h"

namespace chat {

namespace {

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_command(std::string_view cmd) {
  if (cmd.empty()) return false;
  if (is_digit(cmd[0])) return cmd.size() == 3 && is_digit(cmd[1]) && is_digit(cmd[2]);
  for (char c : cmd)
    if (!is_letter(c)) return false;
  return true;
}

ParseResult fail(ParseError e, std::string reason = {}) {
  ParseResult r;
  r.error = e;
  r.reason = reason.empty() ? describe(e) : std::move(reason);
  return r;
}

void skip_spaces(std::string_view& s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
}

std::string_view next_token(std::string_view& s) {
  std::size_t sp = s.find(' ');
  std::string_view tok = s.substr(0, sp);
  s.remove_prefix(sp == std::string_view::npos ? s.size() : sp);
  return tok;
}

}  // namespace

const std::string& Message::param(std::size_t i) const {
  static const std::string empty;
  return i < params.size() ? params[i] : empty;
}

const char* describe(ParseError e) noexcept {
  switch (e) {
    case ParseError::none: return "ok";
    case ParseError::empty: return "empty line";
    case ParseError::too_long: return "line too long";
    case ParseError::tags_too_long: return "message tags too long";
    case ParseError::nul_byte: return "NUL byte in line";
    case ParseError::stray_cr_lf: return "CR or LF inside line";
    case ParseError::bad_prefix: return "empty prefix";
    case ParseError::bad_command: return "invalid command";
    case ParseError::too_many_params: return "too many parameters";
  }
  return "unknown error";
}

ParseResult parse_message(std::string_view line) {
  // Remove exactly one line terminator; the framing layer may hand us the line with or without it.
  if (line.size() >= 2 && line.substr(line.size() - 2) == "\r\n") {
    line.remove_suffix(2);
  } else if (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.find('\0') != std::string_view::npos) return fail(ParseError::nul_byte);
  if (line.find_first_of("\r\n") != std::string_view::npos) return fail(ParseError::stray_cr_lf);

  std::string_view rest = line;
  if (!rest.empty() && rest.front() == '@') {
    std::size_t sp = rest.find(' ');
    std::size_t tag_bytes = sp == std::string_view::npos ? rest.size() : sp + 1;
    if (tag_bytes > kMaxTagBytes)
      return fail(ParseError::tags_too_long,
                  "message tags too long (" + std::to_string(tag_bytes) + " bytes, limit " +
                      std::to_string(kMaxTagBytes) + ")");
    rest.remove_prefix(tag_bytes);
  }
  // The limit counts the CRLF the sender needed, whether or not it was passed in.
  if (rest.size() + 2 > kMaxLineBytes)
    return fail(ParseError::too_long, "line too long (" + std::to_string(rest.size() + 2) +
                                          " bytes with CRLF, limit " + std::to_string(kMaxLineBytes) + ")");
  skip_spaces(rest);
  if (rest.empty()) return fail(ParseError::empty);

  ParseResult r;
  if (rest.front() == ':') {
    rest.remove_prefix(1);
    std::string_view prefix = next_token(rest);
    if (prefix.empty()) return fail(ParseError::bad_prefix);
    r.message.prefix = std::string(prefix);
    skip_spaces(rest);
  }
  std::string_view command = next_token(rest);
  if (command.empty()) return fail(ParseError::bad_command, "missing command");
  if (!valid_command(command))
    return fail(ParseError::bad_command, "invalid command '" + std::string(command) + "'");
  r.message.command.reserve(command.size());
  for (char c : command) r.message.command.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);

  for (;;) {
    skip_spaces(rest);
    if (rest.empty()) break;
    if (r.message.params.size() == kMaxParams) return fail(ParseError::too_many_params);
    if (rest.front() == ':') {
      r.message.params.emplace_back(rest.substr(1));
      break;
    }
    // RFC 2812: after 14 middle parameters the 15th may omit the ':' and take the rest of the line.
    if (r.message.params.size() == kMaxParams - 1) {
      r.message.params.emplace_back(rest);
      break;
    }
    r.message.params.emplace_back(next_token(rest));
  }
  return r;
}

namespace {

void check_param(std::string_view p, bool last) {
  if (p.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos)
    throw std::invalid_argument("IRC parameter contains CR, LF or NUL");
  if (!last && (p.empty() || p.front() == ':' || p.find(' ') != std::string_view::npos))
    throw std::invalid_argument("only the last IRC parameter may be empty, start with ':' or contain spaces");
}

// Everything except the final parameter's text; sets `colon` when the last one needs ':'.
std::string format_head(const Message& msg, bool& colon, bool force_colon) {
  if (!valid_command(msg.command)) throw std::invalid_argument("invalid IRC command '" + msg.command + "'");
  if (msg.params.size() > kMaxParams) throw std::invalid_argument("more than 15 IRC parameters");
  if (msg.prefix.find_first_of(std::string_view(" \0\r\n", 4)) != std::string::npos)
    throw std::invalid_argument("IRC prefix contains a space, CR, LF or NUL");
  std::string out;
  if (!msg.prefix.empty()) {
    out += ':';
    out += msg.prefix;
    out += ' ';
  }
  out += msg.command;
  colon = false;
  for (std::size_t i = 0; i < msg.params.size(); ++i) {
    const std::string& p = msg.params[i];
    bool last = i + 1 == msg.params.size();
    check_param(p, last);
    out += ' ';
    if (last) {
      colon = force_colon || p.empty() || p.front() == ':' || p.find(' ') != std::string::npos;
      if (colon) out += ':';
    } else {
      out += p;
    }
  }
  return out;
}

}  // namespace

std::string format_message(const Message& msg, bool colon_on_last) {
  bool colon = false;
  std::string out = format_head(msg, colon, colon_on_last);
  if (!msg.params.empty()) out += msg.params.back();
  if (out.size() + 2 > kMaxLineBytes)
    throw std::invalid_argument("IRC line too long (" + std::to_string(out.size() + 2) + " bytes, limit 512)");
  out += "\r\n";
  return out;
}

std::string format_message_truncated(const Message& msg, bool colon_on_last) {
  bool colon = false;
  std::string out = format_head(msg, colon, colon_on_last);
  if (out.size() + 2 > kMaxLineBytes)
    throw std::invalid_argument("IRC line too long even without its last parameter");
  if (!msg.params.empty()) {
    const std::string& last = msg.params.back();
    std::size_t room = kMaxLineBytes - 2 - out.size();
    std::size_t n = utf8_prefix_length(last, room);
    // A cut that turns a ':'-needing parameter into one that would not need it still keeps the
    // ':', which is always allowed on the final parameter.
    out.append(last, 0, n);
  }
  out += "\r\n";
  return out;
}

namespace {
std::string build(std::string_view prefix, std::string_view command, std::vector<std::string> params, bool text) {
  Message m;
  m.prefix = std::string(prefix);
  m.command = std::string(command);
  m.params = std::move(params);
  return format_message_truncated(m, text);
}
}  // namespace

std::string make_line(std::string_view prefix, std::string_view command, std::vector<std::string> params) {
  return build(prefix, command, std::move(params), false);
}

std::string make_text_line(std::string_view prefix, std::string_view command, std::vector<std::string> params) {
  return build(prefix, command, std::move(params), true);
}

}  // namespace chat
