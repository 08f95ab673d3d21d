// Task accuracy during and after training, on the tasks of a training mixture, answered by the engine (the one
// runtime decoder). Every training-time task evaluation goes through evaluate_mixture().
#pragma once
#include <cstdint>
#include <vector>

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include "eval/task_eval.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "training/pretrain_data.h"

namespace muse {

struct MixtureEvalParams {
  int problems = 100;           // held-out problems per task and difficulty; <= 0 = no evaluation
  uint64_t seed = 1;            // which held-out problems
  bool blind_baseline = false;  // also score image tasks with blank images (what the pixels are worth)
  bool heldout_surface = false; // also score every cell in the held-out wordings and picture styles
  bool beyond_training = false; // also score each task one difficulty past the mixture's (where the task has one)
  bool tools_off_baseline = true;  // also score cells whose reference traces call tools with tools off
  // 0 = greedy. Above 0: one sample per problem at this temperature (each problem its own seed), e.g. the policy
  // an RL run trains, which is also what Contemplating's agents sample from.
  double temperature = 0.0;
};

// Greedy accuracy on every task and difficulty of the mixture ("text" and "chat" entries have no verifier and
// are skipped). Leaves the model in training mode.
std::vector<TaskEvalResult> evaluate_mixture(Transformer& model, const Tokenizer& tokenizer,
                                             const std::vector<MixtureEntry>& mixture, const MixtureEvalParams& params,
                                             const c10::Device& device);

// {"add@2": 0.93, "count@1/blind": 0.2, "add@2/heldout": 0.9}: accuracy per task@difficulty, as metrics.jsonl
// logs it.
nlohmann::json task_accuracy_json(const std::vector<TaskEvalResult>& results);

}  // namespace muse
