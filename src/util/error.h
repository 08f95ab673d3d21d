// Errors are thrown as MuseError deep inside and reported once, as one line, at the CLI/server boundary.
#pragma once
#include <stdexcept>
#include <string>

namespace muse {

class MuseError : public std::runtime_error {
 public:
  explicit MuseError(const std::string& message) : std::runtime_error(message) {}
};

// The user asked to stop (Ctrl-C / SIGTERM) and the work was saved; the CLI exits with status 130.
class Interrupted : public MuseError {
 public:
  explicit Interrupted(const std::string& message) : MuseError(message) {}
};

// Error about a file: "PATH: problem".
inline MuseError file_error(const std::string& path, const std::string& problem) {
  return MuseError(path + ": " + problem);
}

}  // namespace muse
