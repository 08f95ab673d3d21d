// The reward rules: the thinking-time penalties, their warm-up and gate, and the tool bonus.
#include "training/rl/reward.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace muse {
namespace {

RolloutScore score(double verified, int thinking, int tools = 0) {
  RolloutScore s;
  s.verified = verified;
  s.thinking_tokens = thinking;
  s.tool_calls = tools;
  return s;
}

TEST(RlReward, NoPenaltyIsTheVerifiersReward) {
  RewardParams p;
  const auto r = group_rewards({score(1, 100), score(0, 10), score(0.5, 50)}, p, 0);
  EXPECT_EQ(r, (std::vector<double>{1.0, 0.0, 0.5}));
}

TEST(RlReward, LinearPenaltyBeyondTheAllowanceAndNoMoreThanItsMaximum) {
  RewardParams p;
  p.penalty = LengthPenalty::Linear;
  p.coefficient = 0.01;
  p.free_tokens = 20;
  p.max_penalty = 0.5;
  const auto r = group_rewards({score(1, 10), score(1, 50), score(0, 1000)}, p, 0);
  EXPECT_DOUBLE_EQ(r[0], 1.0);         // within the allowance
  EXPECT_DOUBLE_EQ(r[1], 1.0 - 0.3);   // 30 tokens over
  EXPECT_DOUBLE_EQ(r[2], -0.5);        // capped
}

TEST(RlReward, GroupPenaltyFollowsKimi) {
  RewardParams p;
  p.penalty = LengthPenalty::Group;
  p.weight = 1.0;
  // Lengths 10, 30, 50: λ = 0.5, 0, -0.5. Right answers get λ, wrong ones min(0, λ).
  const auto r = group_rewards({score(1, 10), score(1, 30), score(0, 10), score(0, 50)}, p, 0);
  EXPECT_DOUBLE_EQ(r[0], 1.5);
  EXPECT_DOUBLE_EQ(r[1], 1.0 + 0.5 - 20.0 / 40.0);
  EXPECT_DOUBLE_EQ(r[2], 0.0);
  EXPECT_DOUBLE_EQ(r[3], -0.5);
  // All equally long: nothing to prefer.
  EXPECT_EQ(group_rewards({score(1, 7), score(0, 7)}, p, 0), (std::vector<double>{1.0, 0.0}));
}

TEST(RlReward, CapTightensOverStepsAndZeroesWhatIsOver) {
  RewardParams p;
  p.penalty = LengthPenalty::Cap;
  p.cap_start = 200;
  p.cap_end = 100;
  p.cap_steps = 10;
  EXPECT_EQ(thinking_cap(p, 0), 200);
  EXPECT_EQ(thinking_cap(p, 5), 150);
  EXPECT_EQ(thinking_cap(p, 10), 100);
  EXPECT_EQ(thinking_cap(p, 99), 100);
  EXPECT_EQ(group_rewards({score(1, 120), score(1, 90)}, p, 0), (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(group_rewards({score(1, 120), score(1, 90)}, p, 10), (std::vector<double>{0.0, 1.0}));
}

TEST(RlReward, WarmupAndGateSwitchThePenaltyOff) {
  RewardParams p;
  p.penalty = LengthPenalty::Linear;
  p.coefficient = 0.01;
  p.warmup_steps = 5;
  EXPECT_EQ(group_rewards({score(1, 50)}, p, 4), (std::vector<double>{1.0}));
  EXPECT_DOUBLE_EQ(group_rewards({score(1, 50)}, p, 5)[0], 0.5);
  p.warmup_steps = 0;
  p.gate_accuracy = 0.5;  // GRPO-λ: a group mostly wrong is left unpenalised
  EXPECT_EQ(group_rewards({score(1, 50), score(0, 50), score(0, 50)}, p, 0), (std::vector<double>{1.0, 0.0, 0.0}));
  EXPECT_DOUBLE_EQ(group_rewards({score(1, 50), score(1, 50), score(0, 50)}, p, 0)[0], 0.5);
}

TEST(RlReward, ToolBonusOnlyWhenRightAndAToolWasUsed) {
  RewardParams p;
  p.tool_bonus = 0.2;
  EXPECT_EQ(group_rewards({score(1, 5, 1), score(1, 5, 0), score(0, 5, 2)}, p, 0),
            (std::vector<double>{1.2, 1.0, 0.0}));
}

TEST(RlReward, BadParametersAndNamesAreNamed) {
  RewardParams p;
  p.gate_accuracy = 2;
  EXPECT_THROW(p.validate(), MuseError);
  p = RewardParams{};
  p.cap_end = 0;
  EXPECT_THROW(p.validate(), MuseError);
  EXPECT_EQ(parse_length_penalty("cap"), LengthPenalty::Cap);
  try {
    parse_length_penalty("short");
    FAIL();
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("linear"), std::string::npos);
  }
}

}  // namespace
}  // namespace muse
