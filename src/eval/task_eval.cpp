#include "eval/task_eval.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace muse {

TaskEvalResult evaluate_task(Generator& generator, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             int problems, uint64_t seed, int max_tokens, bool blank_images) {
  const auto start = std::chrono::steady_clock::now();
  Rng rng(seed_mix(seed, static_cast<uint64_t>(difficulty), 0xe5a1));
  std::vector<Example> examples;
  std::vector<TokenSequence> prompts;
  for (int i = 0; i < problems; ++i) {
    examples.push_back(task.sample(rng, difficulty, Split::Heldout));
    const auto& prompt = examples.back().prompt;
    RenderOptions options;
    options.vision = vision_params(generator.model_config());
    prompts.push_back(render_prompt(tokenizer, blank_images ? blank_images_of(prompt) : prompt, options));
  }
  const std::vector<int> stops = {tokenizer.special(Special::EndOfTurn), tokenizer.eos()};
  const auto outputs = generator.generate_greedy_batch(prompts, max_tokens, stops);

  TaskEvalResult result{task.name(), difficulty, problems};
  result.blank_images = blank_images;
  bool image = false, table = false;
  for (const auto& example : examples)
    for (const auto& segment : example.prompt) {
      image |= segment.kind == SegmentKind::Image;
      table |= segment.kind == SegmentKind::Table;
    }
  result.modality = image && table ? "image+table" : image ? "image" : table ? "table" : "text";
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

std::vector<Segment> blank_images_of(const std::vector<Segment>& prompt) {
  std::vector<Segment> out = prompt;
  for (auto& segment : out)
    if (segment.kind == SegmentKind::Image)
      segment.image = std::make_shared<const Image>(make_image(segment.image->width, segment.image->height));
  return out;
}

std::string eval_table_markdown(const std::vector<TaskEvalResult>& results) {
  // Image-blind runs are not rows of their own: they fill the "blind" column of their (task, difficulty).
  auto blind_of = [&](const TaskEvalResult& r) -> const TaskEvalResult* {
    for (const auto& b : results)
      if (b.blank_images && b.task == r.task && b.difficulty == r.difficulty) return &b;
    return nullptr;
  };
  bool any_blind = false;
  for (const auto& r : results) any_blind |= r.blank_images;
  std::string out = any_blind ? "| task | difficulty | problems | accuracy | image-blind | mean reward | thinking tokens | "
                                "answer tokens |\n|---|---|---|---|---|---|---|---|\n"
                              : "| task | difficulty | problems | accuracy | mean reward | thinking tokens | answer tokens "
                                "|\n|---|---|---|---|---|---|---|\n";
  char line[320];
  for (const auto& r : results) {
    if (r.blank_images) continue;
    std::string blind;
    if (any_blind) {
      const auto* b = blind_of(r);
      char cell[32];
      std::snprintf(cell, sizeof cell, " %.1f%% |", b ? 100.0 * b->accuracy : 0.0);
      blind = b ? cell : " – |";
    }
    std::snprintf(line, sizeof line, "| %s | %d | %d | %.1f%% |%s %.3f | %.1f | %.1f |\n", r.task.c_str(),
                  r.difficulty, r.problems, 100.0 * r.accuracy, blind.c_str(), r.mean_reward, r.mean_thinking_tokens,
                  r.mean_answer_tokens);
    out += line;
  }
  return out;
}

std::string modality_table_markdown(const std::vector<TaskEvalResult>& results) {
  struct Sums {
    double accuracy = 0, blind = 0;
    int count = 0, blind_count = 0;
  };
  std::vector<std::pair<std::string, Sums>> by_modality;  // first-seen order
  for (const auto& r : results) {
    auto it = std::find_if(by_modality.begin(), by_modality.end(), [&](const auto& e) { return e.first == r.modality; });
    if (it == by_modality.end()) it = by_modality.insert(by_modality.end(), {r.modality, Sums{}});
    if (r.blank_images) it->second.blind += r.accuracy, ++it->second.blind_count;
    else it->second.accuracy += r.accuracy, ++it->second.count;
  }
  std::string out = "| modality | task x difficulty cells | mean accuracy | image-blind mean |\n|---|---|---|---|\n";
  char line[200];
  for (const auto& [modality, s] : by_modality) {
    if (s.count == 0) continue;
    char blind[32] = "–";
    if (s.blind_count > 0) std::snprintf(blind, sizeof blind, "%.1f%%", 100.0 * s.blind / s.blind_count);
    std::snprintf(line, sizeof line, "| %s | %d | %.1f%% | %s |\n", modality.c_str(), s.count,
                  100.0 * s.accuracy / s.count, blind);
    out += line;
  }
  return out;
}

// Whether any problem of the task at this difficulty shows an image (then an image-blind baseline is meaningful).
bool task_has_images(const Task& task, int difficulty) {
  Rng rng(1);
  for (int i = 0; i < 8; ++i)
    for (const auto& segment : task.generate(rng, difficulty).prompt)
      if (segment.kind == SegmentKind::Image) return true;
  return false;
}

}  // namespace muse
