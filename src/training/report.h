// The report card of a recipe run: report.json (one JSON mapping per struct below) and report.md, both
// rendered from one RecipeReport. A resumed recipe reads a finished stage back from its report.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/task_eval.h"
#include "runtime/environment.h"
#include "training/pretrain.h"

namespace muse {

// One training stage (pretraining or fine-tuning): what it ran and what it reached.
struct StageReport {
  std::string mixture;
  int64_t batch_size = 0;
  int64_t seq_len = 0;
  std::string schedule;
  double chat_share = 0.0;        // fine-tuning settings: 0 and empty for plain pretraining
  double budget_cut_share = 0.0;
  double json_answer_share = 0.0;
  std::string init_from;
  int64_t steps = 0;
  int64_t tokens = 0;
  double seconds = 0.0;           // training time, all resumed parts together
  double tokens_per_second = 0.0;
  double data_wait_share = 0.0;
  double final_train_loss = 0.0;
  double final_eval_loss = 0.0;   // held-out
  double eval_seconds = 0.0;      // the final held-out loss and task accuracy
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StageReport, mixture, batch_size, seq_len, schedule, chat_share,
                                                budget_cut_share, json_answer_share, init_from, steps, tokens, seconds, tokens_per_second,
                                                data_wait_share, final_train_loss, final_eval_loss, eval_seconds)

// One cell of held-out accuracy: a task at a difficulty, possibly image-blind (the report's subset of
// TaskEvalResult).
struct EvalCell {
  std::string task;
  int difficulty = 0;
  int problems = 0;
  double accuracy = 0.0;
  double mean_reward = 0.0;
  double mean_thinking_tokens = 0.0;
  double mean_answer_tokens = 0.0;
  std::string modality = "text";
  bool blank_images = false;
  double seconds = 0.0;
  std::string surface = "trained";  // "heldout": the wordings and picture styles training never saw
  bool beyond_training = false;     // one difficulty past the training mixture's
  bool tools = true;                // built-in tools were available (false: the tools-off baseline)
  double calls_per_problem = 0.0;
  double needs_tool = 0.0;          // share of problems whose reference trace calls a tool
  double called_when_needed = 0.0;  // -1: no problem needed one
  double called_when_not_needed = 0.0;  // -1: every problem needed one
  int tool_errors = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EvalCell, task, difficulty, problems, accuracy, mean_reward,
                                                mean_thinking_tokens, mean_answer_tokens, modality, blank_images,
                                                seconds, surface, beyond_training, tools, calls_per_problem,
                                                needs_tool, called_when_needed, called_when_not_needed, tool_errors)

struct StageSeconds {
  double tokenizer_seconds = 0.0;
  double pretrain_seconds = 0.0;
  double sft_seconds = 0.0;       // written only with a fine-tuning stage
  double eval_seconds = 0.0;      // the final model's evaluation
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StageSeconds, tokenizer_seconds, pretrain_seconds, sft_seconds,
                                                eval_seconds)

struct RecipeReport {
  std::string recipe;
  std::string description;
  Environment environment;
  nlohmann::json model = nlohmann::json::object();  // the ModelConfig, as config.json holds it
  int64_t parameters = 0;
  double train_flops_per_token = 0.0;               // at the pretraining sequence length
  std::string mixture;                              // the pretraining mixture
  StageSeconds stages;
  StageReport pretrain;
  std::vector<EvalCell> eval;       // the final model's held-out accuracy
  StageReport sft;                  // steps 0: there was no fine-tuning stage (and no "sft" in report.json)
  std::vector<EvalCell> base_eval;  // with fine-tuning: the pretrained model's accuracy
  std::string previous_model;       // --compare-with: another model scored on the same problems ("" = none)
  std::vector<EvalCell> previous_eval;

  bool fine_tuned() const { return sft.steps > 0; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RecipeReport, recipe, description, environment, model, parameters,
                                                train_flops_per_token, mixture, stages, pretrain, eval, sft, base_eval,
                                                previous_model, previous_eval)

StageReport stage_report(const PretrainResult& result, const PretrainParams& params);
std::vector<EvalCell> eval_cells(const std::vector<TaskEvalResult>& results);
std::vector<TaskEvalResult> task_eval_results(const std::vector<EvalCell>& cells);
// A finished stage's numbers as the recipe continues from them (its evals: `evals`).
PretrainResult stage_result(const StageReport& stage, const std::vector<EvalCell>& evals);

// report.json's document: the RecipeReport without the fine-tuning fields when there was no fine-tuning.
nlohmann::json report_json(const RecipeReport& report);
std::string report_markdown(const RecipeReport& report);
// DIR/report.json and DIR/report.md, each written atomically.
void write_report(const std::string& dir, const RecipeReport& report);
// DIR/report.json; MuseError naming the file when it is missing or not a report.
RecipeReport read_report(const std::string& dir);

}  // namespace muse
