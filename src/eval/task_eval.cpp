#include "eval/task_eval.h"

#include <chrono>
#include <cstdio>

namespace muse {

TaskEvalResult evaluate_task(Generator& generator, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             int problems, uint64_t seed, int max_tokens) {
  const auto start = std::chrono::steady_clock::now();
  Rng rng(seed_mix(seed, static_cast<uint64_t>(difficulty), 0xe5a1));
  std::vector<Example> examples;
  std::vector<TokenSequence> prompts;
  for (int i = 0; i < problems; ++i) {
    examples.push_back(task.sample(rng, difficulty, Split::Heldout));
    prompts.push_back(render_prompt(tokenizer, examples.back().prompt));
  }
  const std::vector<int> stops = {tokenizer.special(Special::EndOfTurn), tokenizer.eos()};
  const auto outputs = generator.generate_greedy_batch(prompts, max_tokens, stops);

  TaskEvalResult result{task.name(), difficulty, problems};
  for (int i = 0; i < problems; ++i) {
    const auto reply = parse_reply(tokenizer, outputs[i].tokens);
    const double reward = task.verify(examples[i], reply.answer);
    result.mean_reward += reward;
    result.accuracy += reward >= 1.0 ? 1.0 : 0.0;
    result.mean_thinking_tokens += reply.thinking_tokens;
    result.mean_answer_tokens += reply.answer_tokens;
  }
  if (problems > 0) {
    result.accuracy /= problems;
    result.mean_reward /= problems;
    result.mean_thinking_tokens /= problems;
    result.mean_answer_tokens /= problems;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string eval_table_markdown(const std::vector<TaskEvalResult>& results) {
  std::string out = "| task | difficulty | problems | accuracy | mean reward | thinking tokens | answer tokens |\n"
                    "|---|---|---|---|---|---|---|\n";
  char line[256];
  for (const auto& r : results) {
    std::snprintf(line, sizeof line, "| %s | %d | %d | %.1f%% | %.3f | %.1f | %.1f |\n", r.task.c_str(), r.difficulty,
                  r.problems, 100.0 * r.accuracy, r.mean_reward, r.mean_thinking_tokens, r.mean_answer_tokens);
    out += line;
  }
  return out;
}

}  // namespace muse
