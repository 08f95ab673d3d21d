#include "training/train_eval.h"

#include <algorithm>
#include <string>

#include "engine/engine.h"

namespace muse {

std::vector<TaskEvalResult> evaluate_mixture(Transformer& model, const Tokenizer& tokenizer,
                                             const std::vector<MixtureEntry>& mixture, const MixtureEvalParams& params,
                                             const c10::Device& device) {
  std::vector<TaskEvalResult> results;
  if (params.problems <= 0) return results;
  Engine engine(model, device, EngineOptions::for_device(device));
  EvalParams eval;
  eval.problems = params.problems;
  eval.seed = params.seed;
  eval.max_tokens = static_cast<int>(std::min<int64_t>(256, model->config().max_seq_len / 2));
  eval.temperature = params.temperature;
  auto score = [&](const Task& task, int difficulty, bool beyond) {
    eval.blank_images = false;
    eval.surface = Surface::Trained;
    eval.tool_use.enabled = true;
    eval.spawn = task.spawns_sub_agents();  // the tree runs its problems one at a time
    results.push_back(evaluate_task(engine, tokenizer, task, difficulty, eval));
    results.back().beyond_training = beyond;
    // What the tools are worth: the same problems with calls banned.
    if (params.tools_off_baseline && results.back().needs_tool > 0) {
      eval.tool_use.enabled = false;
      results.push_back(evaluate_task(engine, tokenizer, task, difficulty, eval));
      results.back().beyond_training = beyond;
      eval.tool_use.enabled = true;
    }
    if (params.heldout_surface) {
      eval.surface = Surface::Heldout;
      results.push_back(evaluate_task(engine, tokenizer, task, difficulty, eval));
      results.back().beyond_training = beyond;
      eval.surface = Surface::Trained;
    }
    // The same prompts with blank images: the gap is what the model actually reads from the pixels.
    if (params.blind_baseline && task_has_images(task, difficulty)) {
      eval.blank_images = true;
      results.push_back(evaluate_task(engine, tokenizer, task, difficulty, eval));
      results.back().beyond_training = beyond;
    }
  };
  std::vector<std::pair<std::string, int>> hardest;  // per task, first-seen order: the highest trained difficulty
  for (const auto& entry : mixture) {
    if (entry.task == "text" || entry.task == "chat") continue;
    const auto task = make_task(entry.task);
    for (int d = entry.min_difficulty; d <= entry.max_difficulty; ++d) score(*task, d, false);
    auto it = std::find_if(hardest.begin(), hardest.end(), [&](const auto& h) { return h.first == entry.task; });
    if (it == hardest.end()) hardest.emplace_back(entry.task, entry.max_difficulty);
    else it->second = std::max(it->second, entry.max_difficulty);
  }
  if (params.beyond_training)
    for (const auto& [name, difficulty] : hardest) {
      const auto task = make_task(name);
      if (difficulty < task->max_difficulty()) score(*task, difficulty + 1, true);
    }
  model->train();
  return results;
}

nlohmann::json task_accuracy_json(const std::vector<TaskEvalResult>& results) {
  nlohmann::json accuracy = nlohmann::json::object();
  for (const auto& r : results)
    accuracy[r.task + "@" + std::to_string(r.difficulty) + (r.blank_images ? "/blind" : "") +
             (r.surface == "heldout" ? "/heldout" : "") + (r.tools ? "" : "/tools_off")] = r.accuracy;
  return accuracy;
}

}  // namespace muse
