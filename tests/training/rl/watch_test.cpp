#include "training/rl/watch.h"

#include <gtest/gtest.h>

namespace muse {
namespace {

bool mentions(const std::vector<std::string>& warnings, const std::string& what) {
  for (const auto& w : warnings)
    if (w.find(what) != std::string::npos) return true;
  return false;
}

TEST(RlWatch, EntropyIsJudgedAgainstTheRunsStart) {
  CollapseWatch watch;
  EXPECT_TRUE(watch.update({{"entropy", 0.03}}).empty());  // a confident SFT model is not a collapse
  EXPECT_TRUE(watch.update({{"entropy", 0.02}}).empty());
  EXPECT_TRUE(mentions(watch.update({{"entropy", 0.005}}), "entropy collapse"));
  EXPECT_TRUE(mentions(watch.update({{"entropy", 0.2}}), "entropy explosion"));
}

TEST(RlWatch, RewardCollapseRepetitionAndTruncation) {
  CollapseWatch watch;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(watch.update({{"accuracy", 0.6}}).empty());
  std::vector<std::string> warnings;
  for (int i = 0; i < 10 && warnings.empty(); ++i) warnings = watch.update({{"accuracy", 0.0}});
  EXPECT_TRUE(mentions(warnings, "reward collapse"));
  EXPECT_TRUE(mentions(watch.update({{"repetition_rate", 0.5}}), "repetition"));
  EXPECT_TRUE(mentions(watch.update({{"truncation_rate", 0.9}}), "truncated"));
  EXPECT_FALSE(mentions(CollapseWatch().update({{"truncation_rate", 0.1}, {"repetition_rate", 0.0}}), "truncated"));
}

}  // namespace
}  // namespace muse
