#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util/error.h"

namespace muse {
namespace {

LogLevel initial_level() {
  const char* env = std::getenv("MUSE_LOG");
  if (env == nullptr || *env == '\0') return LogLevel::Info;
  try {
    return parse_log_level(env);
  } catch (const MuseError&) {
    return LogLevel::Info;  // a typo in an environment variable must not stop a run
  }
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{static_cast<int>(initial_level())};
  return level;
}

}  // namespace

void set_log_level(LogLevel level) { level_storage().store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(level_storage().load()); }
bool log_enabled(LogLevel level) { return level != LogLevel::Off && static_cast<int>(level) >= level_storage().load(); }

LogLevel parse_log_level(const char* text) {
  const std::string t = text ? text : "";
  if (t == "debug") return LogLevel::Debug;
  if (t == "info") return LogLevel::Info;
  if (t == "warn" || t == "warning") return LogLevel::Warn;
  if (t == "error") return LogLevel::Error;
  if (t == "off" || t == "quiet") return LogLevel::Off;
  throw MuseError("log level '" + t + "' is not one of debug, info, warn, error, off");
}

void log_message(LogLevel level, const char* tag, const char* format, ...) {
  if (!log_enabled(level)) return;
  char body[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(body, sizeof body, format, args);
  va_end(args);
  std::string line;
  if (level == LogLevel::Warn) line += "warning: ";
  if (level == LogLevel::Error) line += "error: ";
  if (tag && *tag) line = std::string("[") + tag + "] " + line;
  line += body;
  if (line.empty() || line.back() != '\n') line += '\n';
  // One write() per line keeps lines from different threads whole.
  const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace muse
