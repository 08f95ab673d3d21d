#include "util/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>

#include "util/error.h"
#include "error_kind_of.h"

namespace muse {
namespace {

// Each test gets a directory of its own (parallel ctest runs never share files), removed afterwards.
class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = ::testing::TempDir() + "muse_atomic_file_" + test_name + "_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const MuseError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST_F(AtomicFile, RoundTripsBinaryContents) {
  const std::string path = dir_ + "/binary";
  const std::string contents("a\0b\xff\r\n\x80z", 8);
  write_file_atomic(path, contents);
  EXPECT_EQ(read_file(path), contents);
}

TEST_F(AtomicFile, RoundTripsEmptyAndLargeFiles) {
  write_file_atomic(dir_ + "/empty", "");
  EXPECT_EQ(read_file(dir_ + "/empty"), "");
  std::string large(3 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 % 251);
  write_file_atomic(dir_ + "/large", large);
  EXPECT_EQ(read_file(dir_ + "/large"), large);
}

TEST_F(AtomicFile, OverwritesAnExistingFileAndLeavesNoTemporaryFiles) {
  const std::string path = dir_ + "/config.json";
  write_file_atomic(path, std::string(1000, 'x'));
  write_file_atomic(path, "short");  // a shorter rewrite must not keep the old tail
  EXPECT_EQ(read_file(path), "short");
  EXPECT_EQ(entries(dir_), std::set<std::string>{"config.json"});
}

TEST_F(AtomicFile, WritesRelativePathsIntoTheCurrentDirectory) {
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  write_file_atomic("relative.txt", "here");
  std::filesystem::current_path(previous);
  EXPECT_EQ(read_file(dir_ + "/relative.txt"), "here");
  EXPECT_EQ(entries(dir_), std::set<std::string>{"relative.txt"});
}

TEST_F(AtomicFile, MissingDirectoryFailsNamingThePath) {
  const std::string path = dir_ + "/missing/out.txt";
  EXPECT_EQ(error_message([&] { write_file_atomic(path, "x"); }),
            path + ": cannot write (No such file or directory)");
}

TEST_F(AtomicFile, FailedRenameRemovesTheTemporaryFile) {
  const std::string path = dir_ + "/target";
  std::filesystem::create_directories(path + "/child");  // rename cannot replace a non-empty directory
  const std::string message = error_message([&] { write_file_atomic(path, "x"); });
  EXPECT_EQ(message.rfind(path + ": cannot write (", 0), 0u) << message;
  EXPECT_EQ(entries(dir_), std::set<std::string>{"target"});
}

TEST_F(AtomicFile, ReadingAMissingFileFailsNamingThePath) {
  const std::string path = dir_ + "/absent";
  EXPECT_EQ(error_message([&] { read_file(path); }), path + ": cannot open file (No such file or directory)");
  EXPECT_EQ(error_kind_of([&] { read_file(path); }), "not_found");
  EXPECT_EQ(error_kind_of([&] { read_file(path + "/below_a_missing_folder"); }), "not_found");
}

TEST_F(AtomicFile, ReadingADirectoryFails) {
  EXPECT_EQ(error_message([&] { read_file(dir_); }), dir_ + ": cannot read file (Is a directory)");
  EXPECT_EQ(error_kind_of([&] { read_file(dir_); }), "invalid_request");  // it exists: the request is wrong
}

}  // namespace
}  // namespace muse
