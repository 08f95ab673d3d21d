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
  const int max_tokens = static_cast<int>(std::min<int64_t>(256, model->config().max_seq_len / 2));
  for (const auto& entry : mixture) {
    if (entry.task == "text" || entry.task == "chat") continue;
    const auto task = make_task(entry.task);
    for (int d = entry.min_difficulty; d <= entry.max_difficulty; ++d) {
      results.push_back(evaluate_task(engine, tokenizer, *task, d, params.problems, params.seed, max_tokens));
      // The same prompts with blank images: the gap is what the model actually reads from the pixels.
      if (params.blind_baseline && task_has_images(*task, d))
        results.push_back(
            evaluate_task(engine, tokenizer, *task, d, params.problems, params.seed, max_tokens, true));
    }
  }
  model->train();
  return results;
}

nlohmann::json task_accuracy_json(const std::vector<TaskEvalResult>& results) {
  nlohmann::json accuracy = nlohmann::json::object();
  for (const auto& r : results)
    accuracy[r.task + "@" + std::to_string(r.difficulty) + (r.blank_images ? "/blind" : "")] = r.accuracy;
  return accuracy;
}

}  // namespace muse
