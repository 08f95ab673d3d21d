// Supervised fine-tuning: exact resume after an interruption, the base model's tokenizer and config come
// along, and a missing base is a clear error.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/pretrain.h"
#include "training/recipe.h"
#include "training/sft.h"
#include "util/error.h"
#include "util/test_dirs.h"
#include "training/training_fixtures.h"

using namespace muse;
namespace fs = std::filesystem;

namespace {

using test::fresh_dir;

PretrainParams micro_params(const std::string& dir) { return test::quiet_pretrain_params(dir, "add:1-2", 4, 4, 32, 2); }

// A barely trained base model directory, made once for the whole suite.
const std::string& base_model_dir() {
  static const std::string dir = [] {
    const auto d = fresh_dir("muse_sft_base");
    train_tokenizer_for_mixture("add:1-2", {}, TokenizerTrainParams{400}, 300, 1, d);
    pretrain(test::micro_config(2, 64), micro_params(d));
    return d;
  }();
  return dir;
}

PretrainParams sft_params(const std::string& out) {
  auto p = micro_params(out);
  p.init_from = base_model_dir();
  p.steps = 10;
  p.grad_accum = 2;
  p.chat_share = 0.5;
  p.budget_cut_share = 0.3;
  p.prompt_loss = false;
  return p;
}

}  // namespace

TEST(Sft, ResumeAfterInterruptionMatchesUninterruptedRun) {
  configure_threads({1, 1});
  const auto straight = sft(sft_params(fresh_dir("muse_sft_straight")));
  ASSERT_EQ(straight.losses.size(), 10u);

  const auto resumed_dir = fresh_dir("muse_sft_resumed");
  auto first_half = sft_params(resumed_dir);
  first_half.stop_after_step = 3;
  const auto before = sft(first_half);
  ASSERT_EQ(before.losses.size(), 3u);
  auto second_half = sft_params(resumed_dir);
  second_half.resume = true;
  const auto after = sft(second_half);
  ASSERT_EQ(after.losses.size(), 7u);

  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(before.losses[i], straight.losses[i]) << "step " << i + 1;
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(after.losses[i], straight.losses[3 + i]) << "step " << 4 + i;
  EXPECT_EQ(after.final_eval_loss, straight.final_eval_loss);

  // The fine-tuned directory is a model directory with the base's tokenizer and architecture.
  auto loaded = load_model_dir(resumed_dir, torch::kCPU);
  EXPECT_EQ(loaded.model->config().d_model, 64);
  EXPECT_TRUE(fs::exists(fs::path(resumed_dir) / "tokenizer.model"));
}

TEST(Sft, OlderPretrainFormStillFineTunes) {
  // pretrain(ModelConfig{}, params) with init_from set was how fine-tuning used to be called.
  auto p = sft_params(fresh_dir("muse_sft_old_form"));
  p.steps = 2;
  EXPECT_EQ(pretrain(ModelConfig{}, p).steps, 2);
}

TEST(Sft, NeedsACompleteBaseModel) {
  auto p = sft_params(fresh_dir("muse_sft_no_base"));
  p.init_from = "";
  EXPECT_THROW(sft(p), MuseError);
  const auto empty_base = fresh_dir("muse_sft_empty_base");
  p.init_from = empty_base;
  try {
    sft(p);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}
