// line_splitter.cpp: bounded LF framing (see chat/line_splitter.h).
#include "chat/line_splitter.h"

namespace chat {

void LineSplitter::feed(std::string_view data, std::vector<Piece>& out) {
  while (!data.empty()) {
    std::size_t lf = data.find('\n');
    std::string_view chunk = data.substr(0, lf);
    if (discarding_) {
      if (lf == std::string_view::npos) return;  // still inside the oversize line
      discarding_ = false;
      data.remove_prefix(lf + 1);
      continue;
    }
    if (buf_.size() + chunk.size() > max_line_) {
      buf_.clear();
      out.push_back(Piece{{}, true});
      if (lf == std::string_view::npos) {
        discarding_ = true;
        return;
      }
      data.remove_prefix(lf + 1);
      continue;
    }
    buf_.append(chunk);
    if (lf == std::string_view::npos) return;
    data.remove_prefix(lf + 1);
    if (!buf_.empty() && buf_.back() == '\r') buf_.pop_back();
    out.push_back(Piece{std::move(buf_), false});
    buf_.clear();
  }
}

}  // namespace chat
