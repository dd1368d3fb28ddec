// log.h: the chat server's leveled logging to stderr (one line per event, with a timestamp).
#pragma once

#include <string_view>

namespace chat::server {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

// Parses "debug" / "info" / "warning" (or "warn") / "error"; false if unknown.
bool parse_log_level(std::string_view text, LogLevel& out);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log(LogLevel level, std::string_view text);

}  // namespace chat::server
