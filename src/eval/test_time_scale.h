// The test-time scaling axis, measured on one task: accuracy against the thinking budget (Standard: one greedy
// agent, <|/think|> forced at the budget), against the number of agents (Contemplating), and both against the
// tokens and the wall time they cost (muse scale test-time). Every point is the same held-out problems.
#pragma once
#include <string>
#include <vector>

#include "agents/contemplate.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace muse {

struct TestTimeScaleParams {
  std::string task = "countdown";
  int difficulty = 3;
  int problems = 100;
  uint64_t seed = 7;
  std::vector<int> budgets = {0, 16, 32, 64, 128, -1};  // thinking tokens; -1 = no limit
  std::vector<int> agents = {1, 2, 4, 8, 16};
  Synthesis synthesis = Synthesis::Confidence;
  void validate() const;  // MuseError naming the field
};

struct TestTimePoint {
  std::string axis;  // "budget" (Standard) or "agents" (Contemplating)
  int value = 0;     // the budget (-1: none) or the number of agents
  double accuracy = 0.0;
  double tokens_per_problem = 0.0;   // generated, all agents together
  double seconds_per_problem = 0.0;  // each problem alone: its latency
};

std::vector<TestTimePoint> run_test_time_scale(Engine& engine, const Tokenizer& tokenizer,
                                               const TestTimeScaleParams& params);

// out_dir/scale_test_time.{csv,json}, scale_test_time_budget.svg, scale_test_time_agents.svg and
// scale_test_time_seconds.svg (accuracy against seconds per problem, both axes).
void write_test_time_scale(const std::vector<TestTimePoint>& points, const TestTimeScaleParams& params,
                           const std::string& out_dir);

}  // namespace muse
