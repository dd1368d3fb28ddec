// chat/names.h: IRC nicknames, channel names, user prefixes and case-insensitive comparison.
//
// IRC compares names with the rfc1459 case mapping: A-Z and []\~ are the upper-case forms of
// a-z and {}|^ (RFC 1459 2.2, a relic of Scandinavian ASCII). Servers advertise it with
// CASEMAPPING=rfc1459 and clients must fold names the same way to find "their" nick or channel.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chat {

inline constexpr std::size_t kNickLen = 30;     // advertised as NICKLEN
inline constexpr std::size_t kChannelLen = 50;  // advertised as CHANNELLEN (RFC 2812 1.3)

// rfc1459 lower-casing of s.
std::string irc_lower(std::string_view s);
bool irc_equal(std::string_view a, std::string_view b) noexcept;

// RFC 2812 2.3.1: a letter or one of []\`_^{|} first, then letters, digits, those specials and '-'.
bool is_valid_nick(std::string_view nick, std::size_t max_len = kNickLen) noexcept;
// '#' or '&' then 1.. characters, none of NUL BEL CR LF space comma colon.
bool is_valid_channel(std::string_view name, std::size_t max_len = kChannelLen) noexcept;
// True if name starts like a channel ('#' or '&'), whatever follows.
bool is_channel_name(std::string_view name) noexcept;

// A message source: "nick!user@host", or a server name.
struct Source {
  std::string nick;  // or the server name when there is no '!' / '@'
  std::string user;
  std::string host;
  std::string full() const;  // back to "nick!user@host"
};
Source parse_source(std::string_view prefix);

}  // namespace chat
