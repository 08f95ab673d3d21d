#include "util/log.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"

namespace muse {
namespace {

// Every test sets the level it needs; the one the process started with (MUSE_LOG) comes back afterwards.
class Log : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = log_level(); }
  void TearDown() override { set_log_level(saved_); }

 private:
  LogLevel saved_ = LogLevel::Info;
};

// What one call writes to stderr (log_message writes with write(2), which gtest's capture sees).
template <typename Action>
std::string stderr_of(Action action) {
  ::testing::internal::CaptureStderr();
  action();
  return ::testing::internal::GetCapturedStderr();
}

TEST_F(Log, ParsesEveryLevelName) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::Debug);
  EXPECT_EQ(parse_log_level("info"), LogLevel::Info);
  EXPECT_EQ(parse_log_level("warn"), LogLevel::Warn);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::Warn);
  EXPECT_EQ(parse_log_level("error"), LogLevel::Error);
  EXPECT_EQ(parse_log_level("off"), LogLevel::Off);
  EXPECT_EQ(parse_log_level("quiet"), LogLevel::Off);
}

TEST_F(Log, RefusesAnUnknownLevelNamingIt) {
  for (const char* bad : {"verbose", "", "INFO", "warn "}) {
    try {
      parse_log_level(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const MuseError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidRequest);
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("debug, info, warn, error, off"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_log_level(nullptr), MuseError);
}

TEST_F(Log, EnabledFromTheSetLevelUp) {
  set_log_level(LogLevel::Warn);
  EXPECT_EQ(log_level(), LogLevel::Warn);
  EXPECT_FALSE(log_enabled(LogLevel::Debug));
  EXPECT_FALSE(log_enabled(LogLevel::Info));
  EXPECT_TRUE(log_enabled(LogLevel::Warn));
  EXPECT_TRUE(log_enabled(LogLevel::Error));
  set_log_level(LogLevel::Debug);
  EXPECT_TRUE(log_enabled(LogLevel::Debug));
  set_log_level(LogLevel::Off);
  EXPECT_FALSE(log_enabled(LogLevel::Error));
  EXPECT_FALSE(log_enabled(LogLevel::Off));  // "off" is a threshold, never a level to write at
}

TEST_F(Log, WritesOneTaggedLineAtOrAboveTheLevel) {
  set_log_level(LogLevel::Info);
  EXPECT_EQ(stderr_of([] { log_info("pretrain", "step %d of %d", 3, 10); }), "[pretrain] step 3 of 10\n");
  EXPECT_EQ(stderr_of([] { log_warn("eval", "skipping %s", "add@9"); }), "[eval] warning: skipping add@9\n");
  EXPECT_EQ(stderr_of([] { log_error("", "no tag"); }), "error: no tag\n");
  EXPECT_EQ(stderr_of([] { log_info("t", "already ends\n"); }), "[t] already ends\n");  // no blank line
}

TEST_F(Log, FiltersBelowTheLevel) {
  set_log_level(LogLevel::Warn);
  EXPECT_EQ(stderr_of([] {
              log_debug("x", "debug");
              log_info("x", "info");
            }),
            "");
  EXPECT_EQ(stderr_of([] { log_warn("x", "kept"); }), "[x] warning: kept\n");
  set_log_level(LogLevel::Off);
  EXPECT_EQ(stderr_of([] { log_error("x", "even errors"); }), "");
}

TEST_F(Log, ArgumentsAreNotEvaluatedWhenFiltered) {
  set_log_level(LogLevel::Error);
  int calls = 0;
  auto counted = [&calls] { return ++calls; };
  stderr_of([&] { log_info("x", "%d", counted()); });
  EXPECT_EQ(calls, 0);  // a disabled log line costs nothing, so debug lines may format freely
}

}  // namespace
}  // namespace muse
