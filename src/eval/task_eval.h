// Task accuracy: greedy answers to held-out problems (never seen in training, by construction), scored by
// the task's own verifier.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/task.h"
#include "engine/generator.h"

namespace muse {

struct TaskEvalResult {
  std::string task;
  int difficulty = 0;
  int problems = 0;
  double accuracy = 0.0;          // share with reward == 1
  double mean_reward = 0.0;
  double mean_thinking_tokens = 0.0;
  double mean_answer_tokens = 0.0;
  double seconds = 0.0;
};

TaskEvalResult evaluate_task(Generator& generator, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             int problems, uint64_t seed, int max_tokens = 256);

// "| task | difficulty | n | accuracy | ... |" Markdown table.
std::string eval_table_markdown(const std::vector<TaskEvalResult>& results);

}  // namespace muse
