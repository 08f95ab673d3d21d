// Named recipes: the whole pipeline (tokenizer -> pretrain -> report) with settings that reproduce a model.
// `muse train --recipe default` reproduces the shipped models/default.
#pragma once
#include <string>
#include <vector>

#include "model/config.h"
#include "tokenizer/tokenizer.h"
#include "training/pretrain.h"

namespace muse {

struct Recipe {
  std::string name;
  std::string description;
  ModelConfig model;
  TokenizerTrainParams tokenizer;
  int tokenizer_documents = 20000;  // task examples the tokenizer is trained on
  PretrainParams pretrain;           // out_dir filled in by run_recipe
};

Recipe recipe_by_name(const std::string& name);  // MuseError listing the known recipes
std::vector<std::string> recipe_names();

struct RecipeOverrides {
  std::string device = "cpu";
  bool resume = false;
  bool progress = true;
  int64_t steps = 0;  // 0 = the recipe's
};

// Runs every stage into out_dir and writes out_dir/report.{md,json}. Returns the pretraining result.
PretrainResult run_recipe(const Recipe& recipe, const std::string& out_dir, const RecipeOverrides& overrides);

// Trains the tokenizer for a mixture into out_dir/tokenizer.model.
void train_tokenizer_for_mixture(const std::string& mixture, const std::vector<std::string>& text_files,
                                 const TokenizerTrainParams& params, int documents, uint64_t seed,
                                 const std::string& out_dir);

}  // namespace muse
