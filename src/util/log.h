// A small leveled logger for what Muse tells a person on stderr while it works (progress notes, warnings).
// Results go to stdout; errors are thrown (util/error.h) and reported once at the boundary, not logged here.
//
//   log_info("pretrain", "resumed from %s at step %lld", path.c_str(), step);   // "[pretrain] resumed from ..."
//
// The level comes from MUSE_LOG (debug|info|warn|error|off; default info) or set_log_level(). Tests run with
// MUSE_LOG=warn (tests/CMakeLists.txt) so their output shows only what matters.
#pragma once
#include <cstdarg>

namespace muse {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
bool log_enabled(LogLevel level);
// Parses "debug", "info", "warn", "error", "off"; MuseError naming the value otherwise.
LogLevel parse_log_level(const char* text);

// One line "[tag] message\n" on stderr (tag may be empty), printf-style. Thread-safe (one write per line).
void log_message(LogLevel level, const char* tag, const char* format, ...) __attribute__((format(printf, 3, 4)));

#define MUSE_LOG_AT(level, tag, ...) \
  do { if (::muse::log_enabled(level)) ::muse::log_message(level, tag, __VA_ARGS__); } while (0)
#define log_debug(tag, ...) MUSE_LOG_AT(::muse::LogLevel::Debug, tag, __VA_ARGS__)
#define log_info(tag, ...) MUSE_LOG_AT(::muse::LogLevel::Info, tag, __VA_ARGS__)
#define log_warn(tag, ...) MUSE_LOG_AT(::muse::LogLevel::Warn, tag, __VA_ARGS__)
#define log_error(tag, ...) MUSE_LOG_AT(::muse::LogLevel::Error, tag, __VA_ARGS__)

}  // namespace muse
