#include "data/task.h"

#include <functional>
#include <utility>

#include "data/tasks/arithmetic.h"
#include "data/tasks/calc.h"
#include "data/tasks/chart.h"
#include "data/tasks/count.h"
#include "data/tasks/countdown.h"
#include "data/tasks/grid.h"
#include "data/tasks/mixed.h"
#include "data/tasks/products.h"
#include "data/tasks/read.h"
#include "data/tasks/table_task.h"
#include "util/error.h"

namespace muse {

namespace {

// Enough for any task whose held-out share is ~10%; failing means the difficulty has too few distinct prompts.
constexpr int kMaxSampleAttempts = 10000;

using TaskFactory = std::function<std::unique_ptr<Task>()>;

const std::vector<std::pair<std::string, TaskFactory>>& registry() {
  static const std::vector<std::pair<std::string, TaskFactory>> tasks = {
      {"add", [] { return std::make_unique<ArithmeticTask>(ArithmeticOp::Add); }},
      {"sub", [] { return std::make_unique<ArithmeticTask>(ArithmeticOp::Sub); }},
      {"mul", [] { return std::make_unique<ArithmeticTask>(ArithmeticOp::Mul); }},
      {"arith", [] { return std::make_unique<ArithmeticTask>(ArithmeticOp::Mixed); }},
      {"calc", [] { return std::make_unique<CalcTask>(); }},  // past in-head range: the calculator tool
      {"countdown", [] { return std::make_unique<CountdownTask>(); }},
      // Multimodal tasks: rendered images and table segments.
      {"count", [] { return std::make_unique<CountTask>(); }},
      {"read", [] { return std::make_unique<ReadTask>(); }},
      {"chart", [] { return std::make_unique<ChartTask>(); }},
      {"grid", [] { return std::make_unique<GridTask>(); }},
      {"table", [] { return std::make_unique<TableTask>(); }},
      {"mixed", [] { return std::make_unique<MixedTask>(); }},
      // Problems that split into parts: solved by spawning sub-agents (agents/spawn.h).
      {"products", [] { return std::make_unique<ProductsTask>(); }},
  };
  return tasks;
}

}  // namespace

Example Task::sample(Rng& rng, int difficulty, Split split, Surface surface) const {
  for (int attempt = 0; attempt < kMaxSampleAttempts; ++attempt) {
    Example example = generate(rng, difficulty, surface);
    if (split_of(example) == split) return example;
  }
  throw MuseError("task '" + name() + "': no " + (split == Split::Train ? "train" : "held-out") +
                  " problem found at difficulty " + std::to_string(difficulty) + " after " +
                  std::to_string(kMaxSampleAttempts) + " tries");
}

std::string trim_answer(const std::string& answer) {
  const char* space = " \t\r\n";
  const size_t begin = answer.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return answer.substr(begin, answer.find_last_not_of(space) - begin + 1);
}

void check_difficulty(const Task& task, int difficulty) {
  if (difficulty < task.min_difficulty() || difficulty > task.max_difficulty())
    throw MuseError("task '" + task.name() + "': difficulty " + std::to_string(difficulty) + " is outside " +
                    std::to_string(task.min_difficulty()) + ".." + std::to_string(task.max_difficulty()));
}

Split split_of(const std::string& prompt_text) {
  // 64-bit FNV-1a over the bytes: fixed constants, no std::hash, so splits never move between builds.
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char byte : prompt_text) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  return hash % 10 == 0 ? Split::Heldout : Split::Train;
}

Split split_of(const Example& example) {
  return split_of(example.problem_key.empty() ? segments_key(example.prompt) : example.problem_key);
}

std::unique_ptr<Task> make_task(const std::string& name) {
  for (const auto& [task_name, factory] : registry())
    if (task_name == name) return factory();
  std::string known;
  for (const auto& task_name : task_names()) known += (known.empty() ? "" : ", ") + task_name;
  throw MuseError("unknown task '" + name + "' (known: " + known + ")");
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace muse
