// The test-time scaling axis on the shipped model: every budget and agent count is one point on the same
// problems, the data and plots are written, and bad sweeps are refused.
#include "eval/test_time_scale.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "model/weights.h"
#include "util/error.h"
#include "util/test_dirs.h"

namespace muse {
namespace {
namespace fs = std::filesystem;

TEST(TestTimeScale, OnePointPerBudgetAndAgentCountAndItsPlots) {
  const std::string dir = std::string(MUSE_SOURCE_DIR) + "/models/default";
  if (!fs::exists(fs::path(dir) / "model.safetensors")) GTEST_SKIP() << "no models/default";
  auto loaded = load_model_dir(dir, torch::kCPU);
  Engine engine(loaded.model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  TestTimeScaleParams p;
  p.task = "add";
  p.difficulty = 1;
  p.problems = 4;
  p.budgets = {0, -1};
  p.agents = {1, 2};
  const auto points = run_test_time_scale(engine, loaded.tokenizer, p);
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].axis, "budget");
  EXPECT_EQ(points[1].value, -1);
  EXPECT_EQ(points[3].axis, "agents");
  EXPECT_EQ(points[1].accuracy, 1.0);  // 1-digit sums with room to think
  EXPECT_LT(points[0].tokens_per_problem, points[1].tokens_per_problem);  // budget 0: no thinking at all
  EXPECT_GT(points[3].tokens_per_problem, points[2].tokens_per_problem);  // two agents generate more than one
  const auto out = test::fresh_dir("muse_test_time_scale");
  write_test_time_scale(points, p, out);
  for (const char* name : {"scale_test_time.csv", "scale_test_time.json", "scale_test_time_budget.svg",
                           "scale_test_time_agents.svg", "scale_test_time_seconds.svg"})
    EXPECT_TRUE(fs::exists(fs::path(out) / name)) << name;
}

TEST(TestTimeScale, BadSweepsAreNamed) {
  TestTimeScaleParams p;
  p.budgets = {-2};
  EXPECT_THROW(p.validate(), MuseError);
  p = TestTimeScaleParams{};
  p.agents = {0};
  EXPECT_THROW(p.validate(), MuseError);
  p = TestTimeScaleParams{};
  p.budgets.clear();
  p.agents.clear();
  EXPECT_THROW(p.validate(), MuseError);
}

}  // namespace
}  // namespace muse
