// utf8.cpp: UTF-8 validation and boundary-safe truncation (see chat/utf8.h).
#include "chat/utf8.h"

#include <cstdint>

namespace chat {

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07u;
    } else {
      return false;  // continuation byte without a lead, 0xC0/0xC1 (always overlong), or 0xF5+
    }
    if (static_cast<std::size_t>(end - p) < len) return false;
    for (std::size_t i = 1; i < len; ++i) {
      if ((p[i] & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    // Overlong 3- and 4-byte forms, UTF-16 surrogates, and values past Unicode's range.
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
      return false;
    p += len;
  }
  return true;
}

std::size_t utf8_prefix_length(std::string_view s, std::size_t max_bytes) noexcept {
  if (s.size() <= max_bytes) return s.size();
  std::size_t n = max_bytes;
  // Step back over continuation bytes; the cut then falls before the lead byte of that character.
  std::size_t back = 0;
  while (n > 0 && back < 3 && (static_cast<unsigned char>(s[n]) & 0xC0u) == 0x80u) {
    --n;
    ++back;
  }
  return n;
}

}  // namespace chat
