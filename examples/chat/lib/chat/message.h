// chat/message.h: one IRC message (RFC 1459/2812 framing) and its parser and formatter.
//
// A line is `[@tags ][:prefix ]COMMAND[ params...][ :trailing]` followed by CRLF. IRCv3 tags are
// accepted and dropped (they have their own size budget, so they do not count against the 512
// bytes). The parser never throws on network input: a malformed line comes back with a reason, so a
// server can answer it and a client can log it instead of crashing or guessing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

// RFC 1459 2.3: a message is at most 512 bytes, counting the trailing CRLF.
inline constexpr std::size_t kMaxLineBytes = 512;
// IRCv3 message-tags: the tag section (with '@' and the space after it) has its own 8191-byte budget.
inline constexpr std::size_t kMaxTagBytes = 8191;
// RFC 2812 2.3: at most 15 parameters (14 middle plus a trailing one).
inline constexpr std::size_t kMaxParams = 15;

struct Message {
  std::string prefix;               // without the ':'; empty when absent
  std::string command;              // upper case letters, or three digits
  std::vector<std::string> params;  // the trailing parameter, if any, is the last one

  // params[i] or "" when there are fewer parameters, so handlers can read optional ones simply.
  const std::string& param(std::size_t i) const;
  friend bool operator==(const Message&, const Message&) = default;
};

enum class ParseError {
  none,
  empty,            // nothing but whitespace: RFC 2812 says to ignore it silently
  too_long,         // over 512 bytes with CRLF (tags excluded)
  tags_too_long,    // tag section over 8191 bytes
  nul_byte,         // NUL is never allowed in a message
  stray_cr_lf,      // CR or LF inside the line (the framing must already have split lines)
  bad_prefix,       // ':' with nothing after it
  bad_command,      // missing, or neither letters nor three digits
  too_many_params,  // more than 15 parameters
};

// Human-readable reason for a ParseError ("line too long (600 bytes, limit 512)" style text lives
// in ParseResult::reason; this is the short fixed text).
const char* describe(ParseError e) noexcept;

struct ParseResult {
  ParseError error = ParseError::none;
  std::string reason;  // empty when ok()
  Message message;     // valid only when ok()
  bool ok() const noexcept { return error == ParseError::none; }
};

// Parses one line. A single trailing "\r\n", "\n" or "\r" is removed first. The command is
// upper-cased so handlers can compare it directly.
ParseResult parse_message(std::string_view line);

// Formats msg as a wire line ending in CRLF. Throws std::invalid_argument if a parameter cannot be
// represented (CR, LF or NUL anywhere; a space, a leading ':' or emptiness in a non-final
// parameter; an invalid command) or if the line would exceed 512 bytes. colon_on_last writes the
// final parameter in trailing form (" :text") even when it does not need it.
std::string format_message(const Message& msg, bool colon_on_last = false);

// Like format_message, but a line that would be too long has its last parameter cut (at a UTF-8
// character boundary) until it fits. This is what a server does when relaying a message whose
// added prefix pushes it past the limit. Throws only for unrepresentable parameters.
std::string format_message_truncated(const Message& msg, bool colon_on_last = false);

// Convenience: builds and formats (truncating) in one call. The last parameter gets a ':' only
// when it needs one.
std::string make_line(std::string_view prefix, std::string_view command, std::vector<std::string> params);
// The same, but the last parameter always gets its ':'. Use it for free text (message bodies,
// reasons, numerics' human text): that is how servers send it and what naive clients expect.
std::string make_text_line(std::string_view prefix, std::string_view command, std::vector<std::string> params);

}  // namespace chat
