// Named recipes: the whole pipeline (tokenizer -> pretrain -> report) with settings that reproduce a model.
// `muse train --recipe default` reproduces the shipped models/default.
#pragma once
#include <string>
#include <vector>

#include "model/config.h"
#include "tokenizer/tokenizer.h"
#include "training/pretrain.h"

namespace muse {

// Supervised fine-tuning after pretraining: the same loop, started from the pretrained weights, on task
// examples dressed as chats (system prompts, earlier turns) and on user conversations.
struct FineTuneStage {
  int64_t steps = 0;                    // 0 = no fine-tuning stage
  double lr_scale = 0.3;                // peak learning rate = lr_scale x the pretraining peak
  int64_t warmup_steps = 20;
  double chat_share = 0.5;              // share of task examples dressed as chats; the rest stay single-turn
  double budget_cut_share = 0.0;        // share of task examples whose reasoning is cut short (thinking budgets)
  double json_answer_share = 0.0;       // share of the chat-dressed examples asked for, and answering in, JSON
  bool train_cut_think_end = false;     // the ablation of PretrainParams::train_cut_think_end
  std::string mixture;                  // empty = the pretraining mixture
  std::vector<std::string> chat_files;  // user JSONL conversations (add "chat" to the mixture to use them)
  int eval_problems = 100;
};

struct Recipe {
  std::string name;
  std::string description;
  ModelConfig model;
  TokenizerTrainParams tokenizer;
  int tokenizer_documents = 20000;  // task examples the tokenizer is trained on
  PretrainParams pretrain;           // out_dir filled in by run_recipe
  FineTuneStage sft;
};

// Training settings of a fine-tuning run from base_dir into out_dir, batch shape and seed taken from `like`.
PretrainParams fine_tune_params(const std::string& base_dir, const std::string& out_dir, const FineTuneStage& stage,
                                const PretrainParams& like);

Recipe recipe_by_name(const std::string& name);  // MuseError listing the known recipes
std::vector<std::string> recipe_names();

struct RecipeOverrides {
  std::string device = "cpu";
  bool resume = false;
  bool progress = true;
  int64_t steps = 0;       // 0 = the recipe's
  int64_t sft_steps = -1;  // -1 = the recipe's fine-tuning steps
  // A model directory (e.g. the previous shipped default) scored on the same held-out problems at the end, as
  // the report card's "previous model" column. Empty: none.
  std::string compare_with;
};

// Runs every stage into out_dir and writes out_dir/report.{md,json}; with a fine-tuning stage, pretraining goes
// into out_dir/base and the fine-tuned model into out_dir. With `resume`, finished stages are skipped (read back
// from their report.json) and an interrupted one continues from its checkpoint. Returns the last stage's result.
PretrainResult run_recipe(const Recipe& recipe, const std::string& out_dir, const RecipeOverrides& overrides);

// Trains the tokenizer for a mixture into out_dir/tokenizer.model.
void train_tokenizer_for_mixture(const std::string& mixture, const std::vector<std::string>& text_files,
                                 const TokenizerTrainParams& params, int documents, uint64_t seed,
                                 const std::string& out_dir);

}  // namespace muse
