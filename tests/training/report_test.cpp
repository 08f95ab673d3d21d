// The recipe report card: report.json round-trips through its mappings (a resumed recipe reads a finished stage
// back), a pretraining-only report carries no fine-tuning fields, and report.md is rendered from the same data.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/config.h"
#include "training/recipe.h"
#include "training/report.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/test_dirs.h"

using namespace muse;
namespace fs = std::filesystem;

namespace {

RecipeReport sample_report() {
  RecipeReport r;
  r.recipe = "tiny";
  r.description = "a test report";
  r.environment = {"Test CPU", "libtorch x", "abc1234"};
  ModelConfig config = preset_config("tiny");
  r.model = config;
  r.parameters = 1234567;
  r.train_flops_per_token = 7.5e6;
  r.mixture = "add:1-2";
  r.stages.tokenizer_seconds = 1.25;
  r.stages.pretrain_seconds = 90;
  r.stages.eval_seconds = 3;
  r.pretrain.mixture = "add:1-2";
  r.pretrain.batch_size = 32;
  r.pretrain.seq_len = 64;
  r.pretrain.schedule = "cosine";
  r.pretrain.steps = 800;
  r.pretrain.tokens = 1638400;
  r.pretrain.seconds = 90;
  r.pretrain.tokens_per_second = 18204.4;
  r.pretrain.data_wait_share = 0.0123;
  r.pretrain.final_train_loss = 0.51234;
  r.pretrain.final_eval_loss = 0.6;
  r.pretrain.eval_seconds = 3;
  r.eval = {{"add", 2, 100, 0.93, 0.93, 12.5, 2.0, "text", false, 0.5}};
  return r;
}

}  // namespace

TEST(RecipeReport, PretrainingOnlyJsonHasNoFineTuningFields) {
  const auto j = report_json(sample_report());
  EXPECT_FALSE(j.contains("sft"));
  EXPECT_FALSE(j.contains("base_eval"));
  EXPECT_FALSE(j.at("stages").contains("sft_seconds"));
  EXPECT_EQ(j.at("pretrain").at("steps"), 800);
  EXPECT_EQ(j.at("eval").at(0).at("task"), "add");
  EXPECT_EQ(j.at("environment").at("git_commit"), "abc1234");
  EXPECT_EQ(j.at("model").at("preset"), "tiny");
}

TEST(RecipeReport, WrittenReportReadsBack) {
  const auto dir = test::fresh_dir("muse_report_roundtrip");
  fs::create_directories(dir);
  RecipeReport report = sample_report();
  report.sft = report.pretrain;
  report.sft.steps = 50;
  report.sft.chat_share = 0.5;
  report.sft.init_from = "runs/x/base";
  report.stages.sft_seconds = 20;
  report.base_eval = report.eval;
  report.eval[0].accuracy = 0.97;
  // The same cell's other runs (tools off, a held-out surface) stay out of the pretrained-vs-fine-tuned table.
  for (auto* cells : {&report.base_eval, &report.eval}) {
    EvalCell tools_off = cells->front(), heldout = cells->front();
    tools_off.tools = false;
    tools_off.accuracy = 0.11;
    heldout.surface = "heldout";
    heldout.accuracy = 0.22;
    cells->push_back(tools_off);
    cells->push_back(heldout);
  }
  write_report(dir, report);
  const RecipeReport back = read_report(dir);
  EXPECT_EQ(report_json(back), report_json(report));
  const auto stage = stage_result(back.pretrain, back.base_eval);
  EXPECT_EQ(stage.steps, 800);
  EXPECT_EQ(stage.tokens, 1638400);
  ASSERT_EQ(stage.evals.size(), 3u);  // the cell, its tools-off and its held-out run
  EXPECT_EQ(stage.evals[0].accuracy, 0.93);

  const std::string md = read_file((fs::path(dir) / "report.md").string());
  EXPECT_NE(md.find("- Pretraining: `add:1-2`; 800 steps x 32 x 64 tokens = 1.64M tokens in 1.5 min (18204 tokens/s, "
                    "1.2% of it waiting for data), cosine schedule; final train loss 0.5123, held-out loss 0.6000; "
                    "evaluation 0.1 min\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("  - from the pretrained weights, 50% of task examples dressed as chats"), std::string::npos) << md;
  const std::string comparison = md.substr(md.find("### Pretrained vs fine-tuned"));
  EXPECT_NE(comparison.find("| add | 2 | 93.0% | 97.0% |\n"), std::string::npos) << md;
  EXPECT_EQ(comparison.find("| add | 2 |", comparison.find("| add | 2 |") + 1), std::string::npos)
      << "one row per task and difficulty: " << comparison;
  EXPECT_NE(md.find("- Parameters: 1.23M; training FLOPs/token: 7.5M\n"), std::string::npos) << md;
}

TEST(RecipeReport, NotAReportIsAClearError) {
  const auto dir = test::fresh_dir("muse_report_bad");
  fs::create_directories(dir);
  write_file_atomic((fs::path(dir) / "report.json").string(), R"({"recipe": "tiny"})");
  try {
    read_report(dir);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("report.json"), std::string::npos) << e.what();
  }
  write_file_atomic((fs::path(dir) / "report.json").string(), R"({"pretrain": {"steps": "many"}, "eval": []})");
  EXPECT_THROW(read_report(dir), MuseError);
}

// The shipped default model's report.md is reproduced from its report.json (sections this code writes).
TEST(RecipeReport, ShippedDefaultReportRendersTheSameMarkdown) {
  const fs::path model_dir = fs::path(MUSE_SOURCE_DIR) / "models" / "default";
  RecipeReport report = read_report(model_dir.string());
  if (report.description.empty()) report.description = recipe_by_name("default").description;
  const std::string shipped = read_file((model_dir / "report.md").string());
  const std::string rendered = report_markdown(report);
  auto before_accuracy = [](const std::string& md) { return md.substr(0, md.find("## Held-out accuracy")); };
  EXPECT_EQ(before_accuracy(rendered), before_accuracy(shipped));
  auto from_comparison = [](const std::string& md) { return md.substr(md.find("### Pretrained vs fine-tuned")); };
  EXPECT_EQ(from_comparison(rendered), from_comparison(shipped));
}
