// log.cpp: leveled stderr logging for qaio-chat-server (see log.h).
#include "log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace chat::server {

namespace {
LogLevel g_level = LogLevel::info;
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug") return out = LogLevel::debug, true;
  if (text == "info") return out = LogLevel::info, true;
  if (text == "warning" || text == "warn") return out = LogLevel::warning, true;
  if (text == "error") return out = LogLevel::error, true;
  return false;
}

void set_log_level(LogLevel level) { g_level = level; }
bool log_enabled(LogLevel level) { return level >= g_level; }

void log(LogLevel level, std::string_view text) {
  if (!log_enabled(level)) return;
  static const char* const names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  std::fprintf(stderr, "%s.%03d %-7s %.*s\n", stamp, static_cast<int>(ms), names[static_cast<int>(level)],
               static_cast<int>(text.size()), text.data());
}

}  // namespace chat::server
