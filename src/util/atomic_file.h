// Atomic writes: write a temporary file beside the target, flush + fsync, then rename over it.
// Readers see either the old file or the new one, never a torn write (checkpoints, reports, configs).
#pragma once
#include <string>

namespace muse {

// Throws MuseError naming `path` on failure.
void write_file_atomic(const std::string& path, const std::string& contents);
// Whole file as a string; throws MuseError "PATH: cannot open ..." if missing/unreadable.
std::string read_file(const std::string& path);

}  // namespace muse
