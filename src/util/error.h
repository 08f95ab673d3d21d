// Errors are thrown as MuseError deep inside and reported once, at each boundary (the CLI's exit code and
// message; the server's HTTP status and OpenAI-shaped error). The kind decides the mapping; the message says
// which file, field or parameter was wrong and what was expected.
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>

namespace muse {

enum class ErrorKind {
  InvalidRequest,  // a bad argument, parameter, field or file content (CLI exit 1, HTTP 400)
  NotFound,        // a file, model, sequence or route that does not exist (CLI exit 1, HTTP 404)
  OverCapacity,    // could never fit (KV pool, context, limits) (HTTP 413 / 400 by context)
  Busy,            // would fit, but not now: a full queue (HTTP 429 / 503)
  Cancelled,       // the caller or a limit stopped the work (CLI exit 1, HTTP 499-like / clean close)
  Interrupted,     // Ctrl-C / SIGTERM; the work was saved (CLI exit 130)
  Timeout,         // a time limit ran out (HTTP 504 / 408)
  Unsupported,     // valid but not available in this build or on this device (HTTP 400)
  Internal,        // a bug or an unexpected failure (CLI exit 2, HTTP 500)
};

// "invalid_request", "not_found", ...: stable names for logs, JSON and tests.
inline const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidRequest: return "invalid_request";
    case ErrorKind::NotFound: return "not_found";
    case ErrorKind::OverCapacity: return "over_capacity";
    case ErrorKind::Busy: return "busy";
    case ErrorKind::Cancelled: return "cancelled";
    case ErrorKind::Interrupted: return "interrupted";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Internal: return "internal";
  }
  return "internal";
}

class MuseError : public std::runtime_error {
 public:
  explicit MuseError(const std::string& message, ErrorKind kind = ErrorKind::InvalidRequest)
      : std::runtime_error(message), kind_(kind) {}
  MuseError(ErrorKind kind, const std::string& message) : MuseError(message, kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// The user asked to stop (Ctrl-C / SIGTERM) and the work was saved; the CLI exits with status 130.
class Interrupted : public MuseError {
 public:
  explicit Interrupted(const std::string& message) : MuseError(message, ErrorKind::Interrupted) {}
};

// Error about a file: "PATH: problem".
inline MuseError file_error(const std::string& path, const std::string& problem,
                            ErrorKind kind = ErrorKind::InvalidRequest) {
  return MuseError(path + ": " + problem, kind);
}

// The kind of a failure to open PATH, from errno: NotFound when the file (or a folder on its path) does not exist;
// anything else (permissions, a folder, I/O) is a problem with the request.
inline ErrorKind open_error_kind(int error_number) {
  return error_number == ENOENT || error_number == ENOTDIR ? ErrorKind::NotFound : ErrorKind::InvalidRequest;
}

}  // namespace muse
