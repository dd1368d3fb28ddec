// chat/session.h: ChatSession, the client connection coroutine both chat clients run.
//
// run() connects with qaio::open_connection, registers (ClientState), then reads lines until the
// connection ends; a silent server gets a PING after keepalive_interval and is dropped if nothing
// arrives within keepalive_timeout. A lost connection is retried with exponential backoff
// (backoff_initial * 2^n, capped at backoff_max), rejoining the channels we were on. quit() ends
// it politely; cancelling the task running run() (the GUI's Disconnect) sends a QUIT, closes the
// socket and lets the CancelledError through. Everything runs on the loop that runs run(), so the
// same code serves the console client (SelectorEventLoop) and the Qt client (QtEventLoop).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "chat/client_state.h"
#include "chat/events.h"
#include "chat/input.h"
#include "qaio/coro.h"
#include "qaio/streams.h"
#include "qaio/sync.h"

namespace chat {

struct SessionOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6667;
  Identity identity;
  bool reconnect = true;
  int max_attempts = 0;  // consecutive failed attempts before giving up; 0 = never give up
  double backoff_initial = 0.5;
  double backoff_max = 30;
  double connect_timeout = 10;
  double keepalive_interval = 60;
  double keepalive_timeout = 30;
};

enum class SessionStatus { connecting, registering, connected, waiting, disconnected };
const char* to_string(SessionStatus s) noexcept;

class ChatSession {
 public:
  using EventHandler = std::function<void(const ChatEvent&)>;
  // detail: "127.0.0.1:6667", "reconnecting in 2.0 s (attempt 3): Connection refused", ...
  using StatusHandler = std::function<void(SessionStatus, const std::string& detail)>;

  ChatSession(SessionOptions options, EventHandler on_event, StatusHandler on_status);
  ChatSession(const ChatSession&) = delete;
  ChatSession& operator=(const ChatSession&) = delete;

  // Runs until quit(), until giving up (reconnect off, or max_attempts), or until cancelled.
  qaio::Coro<void> run();

  // Typed input (/join, /msg, text...). /quit also ends run() like quit().
  InputResult input(std::string_view text, std::string_view current);
  // Sends QUIT and ends run() once the server closes (or after 2 s).
  void quit(std::string_view reason);

  // Drops the callbacks (an owner being destroyed while run() still unwinds calls this first).
  void detach_handlers() {
    on_event_ = nullptr;
    on_status_ = nullptr;
  }
  ClientState& state() noexcept { return state_; }
  SessionStatus status() const noexcept { return status_; }
  bool connected() const noexcept { return writer_.has_value(); }
  // Connections made so far (1 after the first, 2 after the first reconnect, ...).
  int connections() const noexcept { return connections_; }
  // The delay before retry number `failures` (1-based).
  double backoff_delay(int failures) const noexcept;

 private:
  qaio::Coro<void> connect_once();
  void write(std::string line);
  void set_status(SessionStatus s, const std::string& detail);
  void finish_quit();

  SessionOptions options_;
  EventHandler on_event_;
  StatusHandler on_status_;
  ClientState state_;
  std::optional<qaio::StreamWriter> writer_;
  qaio::Event wake_;  // set by quit(): ends a reconnect wait early
  SessionStatus status_ = SessionStatus::disconnected;
  bool quitting_ = false;
  bool registered_this_connection_ = false;
  int connections_ = 0;
};

}  // namespace chat
