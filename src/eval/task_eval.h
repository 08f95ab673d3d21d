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
  bool blank_images = false;      // the image-blind baseline: every image replaced by a blank one
  std::string modality;           // what the prompts hold: "text", "image", "table" or "image+table"
};

// With `blank_images`, every image of the prompt is replaced by a white one of the same size: what the model
// scores then is what it can guess without seeing; the difference to the normal run is what it actually sees.
TaskEvalResult evaluate_task(Generator& generator, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             int problems, uint64_t seed, int max_tokens = 256, bool blank_images = false);

// The prompt with every image replaced by a white image of the same size.
std::vector<Segment> blank_images_of(const std::vector<Segment>& prompt);

// Whether the task's prompts at this difficulty contain images.
bool task_has_images(const Task& task, int difficulty);

// "| task | difficulty | n | accuracy | ... |" Markdown table; blank-image results become an "image-blind" column.
std::string eval_table_markdown(const std::vector<TaskEvalResult>& results);
// Mean accuracy per modality (each task and difficulty weighs the same), with the image-blind mean beside it.
std::string modality_table_markdown(const std::vector<TaskEvalResult>& results);

}  // namespace muse
