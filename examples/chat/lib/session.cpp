// session.cpp: the client connection coroutine with keepalive and reconnect (see chat/session.h).
#include "chat/session.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "chat/line_splitter.h"
#include "qaio/qaio.h"
#include "qaio/timeouts.h"

namespace chat {

const char* to_string(SessionStatus s) noexcept {
  switch (s) {
    case SessionStatus::connecting: return "connecting";
    case SessionStatus::registering: return "registering";
    case SessionStatus::connected: return "connected";
    case SessionStatus::waiting: return "waiting";
    case SessionStatus::disconnected: return "disconnected";
  }
  return "?";
}

ChatSession::ChatSession(SessionOptions options, EventHandler on_event, StatusHandler on_status)
    : options_(std::move(options)),
      on_event_(std::move(on_event)),
      on_status_(std::move(on_status)),
      state_(
          options_.identity, [this](std::string line) { write(std::move(line)); },
          [this](const ChatEvent& e) {
            if (on_event_) on_event_(e);
          }) {}

void ChatSession::set_status(SessionStatus s, const std::string& detail) {
  status_ = s;
  if (on_status_) on_status_(s, detail);
}

void ChatSession::write(std::string line) {
  if (quitting_ && writer_) return;  // after QUIT the write side is shut (write_eof): nothing more goes out
  if (!writer_ || writer_->is_closing()) {
    ChatEvent e;
    e.kind = ChatEvent::Kind::error;
    e.text = "not connected; not sent: " + line.substr(0, line.size() - 2);
    if (on_event_) on_event_(e);
    return;
  }
  writer_->write(line);
}

double ChatSession::backoff_delay(int failures) const noexcept {
  double d = options_.backoff_initial * std::pow(2.0, std::max(0, failures - 1));
  return std::min(d, options_.backoff_max);
}

InputResult ChatSession::input(std::string_view text, std::string_view current) {
  InputResult r = apply_input(state_, text, current);
  if (r.quit) finish_quit();
  return r;
}

void ChatSession::quit(std::string_view reason) {
  if (quitting_) return;
  if (writer_ && !writer_->is_closing()) state_.quit(reason);
  finish_quit();
}

void ChatSession::finish_quit() {
  quitting_ = true;
  wake_.set();
  if (!writer_ || writer_->is_closing()) return;
  // Half-close after the QUIT: the server answers ERROR and closes, which ends the read loop.
  // A server that does neither is cut off after 2 s.
  if (writer_->can_write_eof()) writer_->write_eof();
  std::weak_ptr<qaio::Transport> t = writer_->transport();
  writer_->get_loop().call_later(2.0, [t] {
    if (auto tr = t.lock(); tr && !tr->is_closing()) tr->abort();
  });
}

qaio::Coro<void> ChatSession::connect_once() {
  registered_this_connection_ = false;
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  set_status(SessionStatus::connecting, where);
  auto conn = co_await qaio::timeout(options_.connect_timeout, qaio::open_connection(options_.host, options_.port));
  qaio::StreamReader reader = conn.first;
  writer_ = conn.second;
  ++connections_;
  if (quitting_) co_return;  // quit() while we were connecting: do not register at all
  set_status(SessionStatus::registering, where);
  state_.start_registration();

  LineSplitter splitter;
  std::vector<LineSplitter::Piece> pieces;
  bool ping_outstanding = false;
  for (;;) {
    std::string data;
    bool timed_out = false;
    double wait = ping_outstanding ? options_.keepalive_timeout : options_.keepalive_interval;
    try {
      data = co_await qaio::timeout(wait, reader.read(4096));
    } catch (const qaio::TimeoutError&) {
      timed_out = true;
    }
    if (timed_out) {
      if (ping_outstanding)
        throw qaio::ConnectionAbortedError(ETIMEDOUT, "no reply from the server for " +
                                                          std::to_string(static_cast<int>(wait)) + " s");
      ping_outstanding = true;
      write("PING :qaio-keepalive\r\n");
      continue;
    }
    if (data.empty()) co_return;  // the server closed the connection
    ping_outstanding = false;
    pieces.clear();
    splitter.feed(data, pieces);
    for (const LineSplitter::Piece& p : pieces) {
      if (p.overflow) continue;
      state_.handle_line(p.line);
      if (state_.registered() && !registered_this_connection_) {
        registered_this_connection_ = true;
        set_status(SessionStatus::connected, where + " as " + state_.nick());
      }
    }
  }
}

qaio::Coro<void> ChatSession::run() {
  quitting_ = false;
  wake_.clear();
  int failures = 0;
  for (;;) {
    std::exception_ptr cancelled;
    std::string reason = "connection closed by the server";
    try {
      co_await connect_once();
    } catch (const qaio::CancelledError&) {
      cancelled = std::current_exception();
    } catch (const std::exception& e) {
      reason = e.what();
    }
    if (writer_) {
      if (cancelled && !writer_->is_closing()) {
        // Disconnect: say goodbye without waiting for the server; close() flushes it.
        try {
          state_.quit("Disconnected");
        } catch (const std::exception&) {
        }
        writer_->close();
      } else if (!writer_->is_closing()) {
        writer_->transport()->abort();
      }
      writer_.reset();
    }
    if (cancelled) {
      set_status(SessionStatus::disconnected, "disconnected");
      std::rethrow_exception(cancelled);
    }
    if (quitting_) {
      set_status(SessionStatus::disconnected, "quit");
      co_return;
    }
    ChatEvent lost;
    lost.kind = ChatEvent::Kind::error;
    lost.text = "connection lost: " + reason;
    if (on_event_) on_event_(lost);
    if (!options_.reconnect) {
      set_status(SessionStatus::disconnected, reason);
      co_return;
    }
    failures = registered_this_connection_ ? 1 : failures + 1;
    if (options_.max_attempts > 0 && failures > options_.max_attempts) {
      set_status(SessionStatus::disconnected, "giving up after " + std::to_string(failures - 1) + " attempts: " + reason);
      co_return;
    }
    double delay = backoff_delay(failures);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", delay);
    set_status(SessionStatus::waiting,
               std::string("reconnecting in ") + buf + " s (attempt " + std::to_string(failures) + "): " + reason);
    try {
      // quit() during the wait ends it at once (wake_), rather than after a 30 s backoff.
      co_await qaio::timeout(delay, wake_.wait());
    } catch (const qaio::TimeoutError&) {
    } catch (const qaio::CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled) {
      set_status(SessionStatus::disconnected, "disconnected");
      std::rethrow_exception(cancelled);
    }
    if (quitting_) {
      set_status(SessionStatus::disconnected, "quit");
      co_return;
    }
  }
}

}  // namespace chat
