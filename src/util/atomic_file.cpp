#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace muse {
namespace {

MuseError write_error(const std::string& path, int error_number) {
  return file_error(path, std::string("cannot write (") + std::strerror(error_number) + ")");
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes everything, retrying short writes and signal interruptions. Returns 0 or an errno.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return 0;
}

// Writes the temporary file durably. Returns 0 or an errno; the file is closed either way.
int write_temp_file(const std::string& temp_path, const std::string& contents) {
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return errno;
  int error_number = write_all(fd, contents.data(), contents.size());
  if (error_number == 0 && ::fsync(fd) != 0) error_number = errno;
  // close() can report delayed write errors (e.g. on network filesystems), so it is checked too.
  if (::close(fd) != 0 && error_number == 0) error_number = errno;
  return error_number;
}

// The rename is only durable once the directory entry itself reaches the disk.
int fsync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int error_number = ::fsync(fd) != 0 ? errno : 0;
  ::close(fd);
  return error_number;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string temp_path = path + ".tmp." + std::to_string(::getpid());
  int error_number = write_temp_file(temp_path, contents);
  if (error_number == 0 && ::rename(temp_path.c_str(), path.c_str()) != 0) error_number = errno;
  if (error_number != 0) {
    ::unlink(temp_path.c_str());
    throw write_error(path, error_number);
  }
  error_number = fsync_directory(directory_of(path));
  if (error_number != 0) throw write_error(path, error_number);
}

std::string read_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error_number = errno;
    throw file_error(path, std::string("cannot open file (") + std::strerror(error_number) + ")",
                     open_error_kind(error_number));
  }
  std::string contents;
  struct stat info;
  if (::fstat(::fileno(file), &info) == 0 && S_ISREG(info.st_mode)) {
    contents.reserve(static_cast<size_t>(info.st_size));
  }
  char buffer[1 << 16];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, count);
  // fopen succeeds on a directory; the failure only shows up when reading.
  const int error_number = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error_number != 0) {
    throw file_error(path, std::string("cannot read file (") + std::strerror(error_number) + ")");
  }
  return contents;
}

}  // namespace muse
