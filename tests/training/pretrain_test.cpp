// Pretraining: exact resume after an interruption, atomic checkpoints, and the end-to-end check that a tiny
// model trained from scratch learns 2-digit addition.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/task.h"
#include "engine/engine.h"
#include "eval/task_eval.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/checkpoint.h"
#include "training/lr_schedule.h"
#include "training/pretrain.h"
#include "training/recipe.h"
#include "training/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/test_dirs.h"
#include "training/training_fixtures.h"

using namespace muse;
namespace fs = std::filesystem;

namespace {

using test::fresh_dir;

ModelConfig micro_model() { return test::micro_config(2, 64); }

PretrainParams micro_params(const std::string& dir) {
  PretrainParams p = test::quiet_pretrain_params(dir, "add:1-2,countdown:3", 16, 4, 32, 3);
  p.grad_accum = 2;
  p.checkpoint_every = 4;
  return p;
}

void train_tokenizer_into(const std::string& dir) {
  train_tokenizer_for_mixture("add:1-2,countdown:3", {}, TokenizerTrainParams{400}, 300, 1, dir);
}

}  // namespace

// Exact resume with either optimizer: Muon's momentum and AdamW's moments both travel in the checkpoint.
class PretrainResume : public ::testing::TestWithParam<OptimizerKind> {};

TEST_P(PretrainResume, AfterInterruptionMatchesUninterruptedRun) {
  configure_threads({1, 1});
  const std::string kind = optimizer_kind_name(GetParam());
  const auto straight_dir = fresh_dir("muse_resume_straight_" + kind);
  const auto resumed_dir = fresh_dir("muse_resume_resumed_" + kind);
  train_tokenizer_into(straight_dir);
  fs::copy_file(fs::path(straight_dir) / "tokenizer.model", fs::path(resumed_dir) / "tokenizer.model");
  auto params = [&](const std::string& dir) {
    auto p = micro_params(dir);
    p.optimizer.kind = GetParam();
    return p;
  };

  const auto straight = pretrain(micro_model(), params(straight_dir));
  ASSERT_EQ(straight.losses.size(), 16u);

  auto first_half = params(resumed_dir);
  first_half.stop_after_step = 7;  // not on a checkpoint_every boundary: the stop itself checkpoints
  const auto before = pretrain(micro_model(), first_half);
  ASSERT_EQ(before.losses.size(), 7u);
  auto second_half = params(resumed_dir);
  second_half.resume = true;
  const auto after = pretrain(micro_model(), second_half);
  ASSERT_EQ(after.losses.size(), 9u);

  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(before.losses[i], straight.losses[i]) << "step " << i + 1;
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(after.losses[i], straight.losses[7 + i]) << "step " << 8 + i;
  EXPECT_EQ(after.final_eval_loss, straight.final_eval_loss);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, PretrainResume, ::testing::Values(OptimizerKind::AdamW, OptimizerKind::Muon),
                         [](const auto& info) { return std::string(optimizer_kind_name(info.param)); });

TEST(Pretrain, ResumeRefusesAnotherOptimizer) {
  const auto dir = fresh_dir("muse_resume_other_optimizer");
  train_tokenizer_into(dir);
  auto p = micro_params(dir);
  p.optimizer.kind = OptimizerKind::AdamW;
  p.stop_after_step = 2;
  pretrain(micro_model(), p);
  auto other = micro_params(dir);
  other.resume = true;
  other.optimizer.kind = OptimizerKind::Muon;
  try {
    pretrain(micro_model(), other);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer was \"adamw\", now \"muon\""), std::string::npos) << e.what();
  }
}

TEST(Pretrain, ResumeRefusesDifferentSettings) {
  const auto dir = fresh_dir("muse_resume_mismatch");
  train_tokenizer_into(dir);
  auto p = micro_params(dir);
  p.stop_after_step = 2;
  pretrain(micro_model(), p);
  auto other = micro_params(dir);
  other.resume = true;
  other.batch_size = 8;
  other.schedule = "wsd";
  try {
    pretrain(micro_model(), other);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("different settings"), std::string::npos) << message;
    EXPECT_NE(message.find("batch_size was 4, now 8"), std::string::npos) << message;
    EXPECT_NE(message.find("schedule was \"cosine\", now \"wsd\""), std::string::npos) << message;
    EXPECT_EQ(message.find("seq_len"), std::string::npos) << "an unchanged setting is named: " << message;
  }
  auto again = micro_params(dir);  // resume not asked: must not silently overwrite the run
  EXPECT_THROW(pretrain(micro_model(), again), MuseError);
}

// The fingerprint is JSON, so a text file whose path holds a space and an '=' (which broke the old "key=value"
// string) resumes like any other; the resumed metrics log keeps one line per step.
TEST(Pretrain, ResumeWithSpaceAndEqualsInTextFilePath) {
  configure_threads({1, 1});
  const auto dir = fresh_dir("muse_resume_odd_path");
  train_tokenizer_into(dir);
  const auto text_path = (fs::path(dir) / "my notes=v2.jsonl").string();
  {
    std::ofstream text(text_path);
    for (int i = 0; i < 20; ++i) text << R"({"text": ")" << i << " + " << 2 * i << " = " << 3 * i << R"("})" << "\n";
  }
  auto params = micro_params(dir);
  params.mixture = "add:1-2,text";
  params.text_files = {text_path};
  params.steps = 6;
  params.log_every = 1;
  params.checkpoint_every = 0;
  auto first = params;
  first.stop_after_step = 3;
  ASSERT_EQ(pretrain(micro_model(), first).losses.size(), 3u);
  auto rest = params;
  rest.resume = true;
  const auto after = pretrain(micro_model(), rest);
  EXPECT_EQ(after.steps, 6);
  EXPECT_EQ(after.losses.size(), 3u);

  std::ifstream metrics(fs::path(dir) / "metrics.jsonl");
  std::vector<int64_t> logged_steps;
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) logged_steps.push_back(j.at("step"));
  }
  EXPECT_EQ(logged_steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

// state.json of an older Muse holds the fingerprint as a "key=value ..." string: refused, naming the file.
TEST(Checkpoint, OldStringFingerprintIsAClearError) {
  const auto dir = fresh_dir("muse_old_fingerprint");
  train_tokenizer_into(dir);
  auto p = micro_params(dir);
  p.stop_after_step = 2;
  pretrain(micro_model(), p);
  const auto state_path = fs::path(*latest_checkpoint(dir)) / "state.json";
  auto state = nlohmann::json::parse(read_file(state_path.string()));
  state["run_fingerprint"] = "mixture=add:1-2,countdown:3 steps=16 batch_size=4";
  write_file_atomic(state_path.string(), state.dump(2));
  auto resume = micro_params(dir);
  resume.resume = true;
  try {
    pretrain(micro_model(), resume);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("state.json"), std::string::npos) << message;
    EXPECT_NE(message.find("older Muse"), std::string::npos) << message;
  }
}

TEST(Checkpoint, FingerprintDifferenceNamesEachDifferingKey) {
  const nlohmann::json saved = {{"batch_size", 4}, {"text_files", {"a b=c.jsonl"}}, {"seed", 1}, {"old", true}};
  const nlohmann::json wanted = {{"batch_size", 8}, {"text_files", {"a b=c.jsonl"}}, {"seed", 1}, {"new", 0.5}};
  EXPECT_EQ(fingerprint_difference(saved, wanted),
            "batch_size was 4, now 8, new was (unset), now 0.5, old was true, now (unset)");
  EXPECT_EQ(fingerprint_difference(saved, saved), "");
}

TEST(Pretrain, CorruptCheckpointIsAClearError) {
  const auto dir = fresh_dir("muse_corrupt_ckpt");
  train_tokenizer_into(dir);
  auto p = micro_params(dir);
  p.stop_after_step = 4;
  pretrain(micro_model(), p);
  const auto latest = latest_checkpoint(dir);
  ASSERT_TRUE(latest.has_value());
  const auto weights = fs::path(*latest) / "model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) / 2);
  auto resume = micro_params(dir);
  resume.resume = true;
  try {
    pretrain(micro_model(), resume);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}

TEST(LrSchedule, WarmupCosineAndWsd) {
  LrSchedule cosine{"cosine", 1.0, 0.1, 10, 110};
  EXPECT_NEAR(cosine.at(0), 0.1, 1e-12);
  EXPECT_NEAR(cosine.at(9), 1.0, 1e-12);
  EXPECT_NEAR(cosine.at(60), 0.55, 1e-12);
  EXPECT_NEAR(cosine.at(110), 0.1, 1e-12);
  LrSchedule wsd{"wsd", 1.0, 0.1, 10, 110};
  EXPECT_NEAR(wsd.at(50), 1.0, 1e-12);
  EXPECT_NEAR(wsd.at(110), 0.1, 1e-12);
  EXPECT_THROW((LrSchedule{"linear"}.validate()), MuseError);
}

// The end-to-end check: the `tiny` recipe from scratch (tokenizer + pretraining, fixed seed) must answer
// >= 90% of held-out 2-digit additions exactly, well within 3 minutes on one core.
TEST(EndToEnd, TinyRecipeLearnsTwoDigitAddition) {
  configure_threads({1, 0});
  const auto dir = fresh_dir("muse_e2e_tiny");
  const auto start = std::chrono::steady_clock::now();
  RecipeOverrides overrides;
  overrides.progress = false;
  run_recipe(recipe_by_name("tiny"), dir, overrides);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto loaded = load_model_dir(dir, torch::kCPU);
  Engine engine(loaded.model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  const auto result = evaluate_task(engine, loaded.tokenizer, *make_task("add"), 2, 300, /*seed=*/2024);
  std::printf("tiny recipe: %.1f s, 2-digit addition accuracy %.1f%% on %d held-out problems\n", seconds,
              100 * result.accuracy, result.problems);
  EXPECT_GE(result.accuracy, 0.90);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "report.md"));
}
