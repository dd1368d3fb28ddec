// output.h: how qaio-chat-cli prints chat events and status changes (one line each, timestamped).
#pragma once

#include <string>

#include "chat/events.h"
#include "chat/session.h"

namespace chat::cli {

std::string format_event(const ChatEvent& e);
std::string format_status(SessionStatus s, const std::string& detail);

}  // namespace chat::cli
