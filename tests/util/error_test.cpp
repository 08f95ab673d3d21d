#include "util/error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace muse {
namespace {

const std::vector<ErrorKind> kAllKinds = {
    ErrorKind::InvalidRequest, ErrorKind::NotFound, ErrorKind::OverCapacity, ErrorKind::Busy,     ErrorKind::Cancelled,
    ErrorKind::Interrupted,    ErrorKind::Timeout,  ErrorKind::Unsupported,  ErrorKind::Internal,
};

TEST(ErrorKind, NamesAreStableAndDistinct) {
  EXPECT_STREQ(error_kind_name(ErrorKind::InvalidRequest), "invalid_request");
  EXPECT_STREQ(error_kind_name(ErrorKind::NotFound), "not_found");
  EXPECT_STREQ(error_kind_name(ErrorKind::OverCapacity), "over_capacity");
  EXPECT_STREQ(error_kind_name(ErrorKind::Busy), "busy");
  EXPECT_STREQ(error_kind_name(ErrorKind::Cancelled), "cancelled");
  EXPECT_STREQ(error_kind_name(ErrorKind::Interrupted), "interrupted");
  EXPECT_STREQ(error_kind_name(ErrorKind::Timeout), "timeout");
  EXPECT_STREQ(error_kind_name(ErrorKind::Unsupported), "unsupported");
  EXPECT_STREQ(error_kind_name(ErrorKind::Internal), "internal");
  std::set<std::string> names;
  for (ErrorKind kind : kAllKinds) names.insert(error_kind_name(kind));
  EXPECT_EQ(names.size(), kAllKinds.size());
}

TEST(ErrorKind, OutOfRangeValueIsNamedInternal) {
  EXPECT_STREQ(error_kind_name(static_cast<ErrorKind>(999)), "internal");
}

TEST(MuseError, DefaultsToInvalidRequest) {
  const MuseError error("bad --steps");
  EXPECT_EQ(error.kind(), ErrorKind::InvalidRequest);
  EXPECT_STREQ(error.what(), "bad --steps");
}

TEST(MuseError, CarriesItsKindEitherWayRound) {
  const MuseError a("no such model", ErrorKind::NotFound);
  const MuseError b(ErrorKind::NotFound, "no such model");
  EXPECT_EQ(a.kind(), ErrorKind::NotFound);
  EXPECT_EQ(b.kind(), ErrorKind::NotFound);
  EXPECT_STREQ(a.what(), b.what());
}

TEST(MuseError, IsCaughtAsRuntimeError) {
  try {
    throw MuseError("full", ErrorKind::OverCapacity);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "full");
    return;
  }
  ADD_FAILURE() << "not a std::runtime_error";
}

TEST(Interrupted, IsAMuseErrorOfKindInterrupted) {
  try {
    throw Interrupted("interrupted at step 3/60; resume with --resume");
  } catch (const MuseError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_STREQ(e.what(), "interrupted at step 3/60; resume with --resume");
    return;
  }
  ADD_FAILURE() << "Interrupted is not caught as MuseError";
}

TEST(FileError, NamesThePathFirst) {
  const MuseError error = file_error("runs/a/config.json", "invalid JSON");
  EXPECT_STREQ(error.what(), "runs/a/config.json: invalid JSON");
  EXPECT_EQ(error.kind(), ErrorKind::InvalidRequest);
  EXPECT_EQ(file_error("models/x", "model directory not found", ErrorKind::NotFound).kind(), ErrorKind::NotFound);
}

TEST(OpenErrorKind, MissingIsNotFoundAnythingElseInvalid) {
  EXPECT_EQ(open_error_kind(ENOENT), ErrorKind::NotFound);
  EXPECT_EQ(open_error_kind(ENOTDIR), ErrorKind::NotFound);
  EXPECT_EQ(open_error_kind(EACCES), ErrorKind::InvalidRequest);
  EXPECT_EQ(open_error_kind(EISDIR), ErrorKind::InvalidRequest);
  EXPECT_EQ(open_error_kind(0), ErrorKind::InvalidRequest);
}

}  // namespace
}  // namespace muse
