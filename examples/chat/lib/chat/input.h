// chat/input.h: what the user types in a client (/join, /part, /msg, /me, /nick, /quit, ...),
// interpreted once for both clients. Plain text goes to the current conversation.
#pragma once

#include <string>
#include <string_view>

#include "chat/client_state.h"

namespace chat {

struct InputResult {
  bool quit = false;        // /quit: the caller ends the session after the QUIT is sent
  std::string quit_reason;
  std::string open;         // a conversation the UI should open and focus (/msg, /query, /join)
  std::string error;        // shown to the user; nothing was sent
};

// Applies one input line to `state` (which sends the IRC lines). `current` is the conversation
// the input was typed in: a channel, a nick, or "" for the server tab.
InputResult apply_input(ClientState& state, std::string_view text, std::string_view current);

// The help text listing the commands.
const char* input_help() noexcept;

}  // namespace chat
