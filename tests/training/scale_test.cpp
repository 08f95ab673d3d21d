// The pretraining ladder: the fit, the rung syntax, and a two-rung ladder end to end (and read back on resume).
#include "training/scale.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "runtime/runtime.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/test_dirs.h"

namespace muse {
namespace {
namespace fs = std::filesystem;

TEST(ScaleFit, ExactLineHasR2OneAndNoiseLess) {
  const std::vector<double> x = {1e3, 1e4, 1e5, 1e6};
  const auto exact = fit_log_linear(x, {5.0, 4.5, 4.0, 3.5});
  EXPECT_NEAR(exact.slope, -0.5, 1e-12);
  EXPECT_NEAR(exact.intercept, 6.5, 1e-12);
  EXPECT_NEAR(exact.r2, 1.0, 1e-12);
  EXPECT_NEAR(exact.at(1e7), 3.0, 1e-12);
  const auto noisy = fit_log_linear(x, {5.0, 4.2, 4.3, 3.5});
  EXPECT_LT(noisy.r2, 1.0);
  EXPECT_GT(noisy.r2, 0.5);
  EXPECT_THROW(fit_log_linear({1.0}, {1.0}), MuseError);
  EXPECT_THROW(fit_log_linear({0.0, 1.0}, {1.0, 2.0}), MuseError);
}

TEST(ScaleRungs, ParseAndRefuse) {
  const auto rungs = parse_rungs("32x1,64x2");
  ASSERT_EQ(rungs.size(), 2u);
  EXPECT_EQ(rungs[1].name(), "d64-l2");
  for (const char* bad : {"32", "33x1", "32x0", "32x1,", "ax2", "32x2y"}) EXPECT_THROW(parse_rungs(bad), MuseError) << bad;
}

TEST(ScaleLadder, TwoRungsWriteTheirDataAndResumeReadsThemBack) {
  configure_threads({1, 1});
  PretrainLadderParams p;
  p.out_dir = test::fresh_dir("muse_scale_ladder");
  p.mixture = "add:1";
  p.rungs = {{16, 1}, {32, 1}};
  p.tokens_per_parameter = 0.5;
  p.batch_size = 4;
  p.seq_len = 64;  // room for a prompt in a greeting and a pleasantry (the composed wordings)
  p.tokenizer_vocab = 400;
  p.eval_problems = 2;
  p.progress = false;
  const auto first = run_pretrain_ladder(p);
  ASSERT_EQ(first.points.size(), 2u);
  EXPECT_LT(first.points[0].parameters, first.points[1].parameters);
  EXPECT_LT(first.points[0].flops, first.points[1].flops);
  for (const char* name : {"scale_pretrain.csv", "scale_pretrain.json", "scale_pretrain.svg"})
    EXPECT_TRUE(fs::exists(fs::path(p.out_dir) / name)) << name;
  EXPECT_NE(read_file((fs::path(p.out_dir) / "scale_pretrain.csv").string()).find("d32-l1"), std::string::npos);
  p.resume = true;  // finished rungs are read back, not trained again
  const auto again = run_pretrain_ladder(p);
  EXPECT_EQ(again.points[1].heldout_loss, first.points[1].heldout_loss);
  EXPECT_EQ(again.points[1].seconds, first.points[1].seconds);
  EXPECT_LE(again.loss_power_fit.r2, 1.0);
  EXPECT_EQ(again.loss_power_fit.slope, first.loss_power_fit.slope);
}

}  // namespace
}  // namespace muse
