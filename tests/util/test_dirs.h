// Per-process scratch paths for tests. ctest runs every test case as its own process, several at once,
// so a fixed name under the temp directory is shared between concurrent cases: one removes what the
// other is using. The process id keeps them apart.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace muse::test {

// A path under the temp directory that no concurrently running test process shares.
inline std::string scratch_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / (name + "_" + std::to_string(::getpid()))).string();
}

// scratch_path(name), emptied and created as a directory.
inline std::string fresh_dir(const std::string& name) {
  const auto dir = scratch_path(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace muse::test
