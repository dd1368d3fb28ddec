// chat/utf8.h: UTF-8 checks the chat programs need (validation, safe truncation).
#pragma once

#include <cstddef>
#include <string_view>

namespace chat {

// True if s is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// The largest n <= max_bytes such that s.substr(0, n) does not end inside a multi-byte sequence.
// Works on invalid input too (it never cuts a lead byte from its continuation bytes).
std::size_t utf8_prefix_length(std::string_view s, std::size_t max_bytes) noexcept;

}  // namespace chat
