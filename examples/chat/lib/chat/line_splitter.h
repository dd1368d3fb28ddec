// chat/line_splitter.h: turns a byte stream into IRC lines, with a hard bound on buffered bytes.
//
// A peer that sends a megabyte without a newline must not make us buffer a megabyte: once the
// unterminated tail exceeds the limit the splitter reports one overflow and throws bytes away until
// the next LF. Lines end at LF; a CR before it is removed (bare-LF senders exist and RFC-conforming
// servers accept them).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "chat/message.h"

namespace chat {

class LineSplitter {
 public:
  struct Piece {
    std::string line;       // without CR/LF
    bool overflow = false;  // a line exceeded the limit; `line` is empty and was discarded
  };

  // The default leaves room for a full tag section plus a maximal message.
  explicit LineSplitter(std::size_t max_line = kMaxTagBytes + kMaxLineBytes) : max_line_(max_line) {}

  // Appends complete lines (and overflow markers) from `data` to `out`, in stream order.
  void feed(std::string_view data, std::vector<Piece>& out);
  std::vector<Piece> feed(std::string_view data) {
    std::vector<Piece> out;
    feed(data, out);
    return out;
  }
  // Bytes of the current unterminated line held in memory.
  std::size_t buffered() const noexcept { return buf_.size(); }

 private:
  std::size_t max_line_;
  std::string buf_;
  bool discarding_ = false;
};

}  // namespace chat
