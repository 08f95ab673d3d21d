#include "training/rl/advantage.h"

#include <gtest/gtest.h>

#include <cmath>

namespace muse {
namespace {

TEST(RlAdvantage, RewardMinusTheGroupMean) {
  const auto a = group_advantages({1, 0, 0, 1}, AdvantageParams{});
  EXPECT_FALSE(a.uniform);
  EXPECT_EQ(a.advantages, (std::vector<double>{0.5, -0.5, -0.5, 0.5}));
}

TEST(RlAdvantage, StdDivisionScalesToUnitSpread) {
  AdvantageParams p;
  p.divide_by_std = true;
  p.eps = 0;
  const auto a = group_advantages({1, 0, 0, 0}, p);  // mean 0.25, std sqrt(3)/4
  EXPECT_NEAR(a.advantages[0], 0.75 / (std::sqrt(3.0) / 4), 1e-12);
  EXPECT_NEAR(a.advantages[1], -0.25 / (std::sqrt(3.0) / 4), 1e-12);
}

TEST(RlAdvantage, EqualRewardsTeachNothing) {
  for (double r : {0.0, 1.0, 0.3}) {
    const auto a = group_advantages({r, r, r}, AdvantageParams{});
    EXPECT_TRUE(a.uniform);
    EXPECT_EQ(a.advantages, (std::vector<double>{0, 0, 0}));
  }
}

}  // namespace
}  // namespace muse
