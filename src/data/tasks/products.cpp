#include "data/tasks/products.h"

#include <algorithm>

#include "data/tasks/arithmetic.h"
#include "util/error.h"

namespace muse {

std::string ProductsTask::description() const {
  return "sums of 2-4 products of 2-digit numbers, split among sub-agents (difficulty = products - 1)";
}

const WordingPool& products_wordings() {
  static const WordingPool pool = [] {
    WordingPool p;
    p.trained = {"{bare}",           "{bare}=",          "{spaced}",          "{spaced} =",
                 "What is {bare}?",  "What is {spaced}?", "Compute {spaced}.", "Calculate {bare}.",
                 "Work out {spaced}.", "Evaluate {bare}."};
    p.heldout = {"What does {spaced} equal?", "Find the value of {bare}.", "{spaced} = ?", "Please compute {bare}"};
    validate_wordings("products", p);
    return p;
  }();
  return pool;
}

ProductsTraces products_traces(const std::vector<std::pair<int64_t, int64_t>>& products) {
  if (products.empty()) throw MuseError("products: no products", ErrorKind::Internal);
  ProductsTraces t;
  std::vector<int64_t> values;
  for (const auto& [a, b] : products) {
    const auto solved = solve_arithmetic(a, '*', b);
    const std::string bare = std::to_string(a) + "*" + std::to_string(b);
    t.bare += (t.bare.empty() ? "" : "+") + bare;
    t.tasks.push_back(bare);
    t.answers.push_back(solved.answer);
    // "(1)23*41|...|=943|": numbered, so a product worked inside the sum never reads like the mul task's own
    // trace, whose "=943" ends the thinking (a child asked "23*41" must stop there, not go on to a next product).
    t.solo += "(" + std::to_string(t.tasks.size()) + ")" + solved.reasoning + "|";
    values.push_back(a * b);
  }
  size_t width = 0;
  int64_t total = 0;
  for (int64_t v : values) {
    width = std::max(width, std::to_string(v).size());
    total += v;
  }
  std::string restated;
  for (int64_t v : values) {
    std::string digits = std::to_string(v);
    restated += (restated.empty() ? "" : "+") + std::string(width - digits.size(), '0') + digits;
  }
  t.after_spawn = restated + "|" + column_sum_trace(values);
  t.solo = t.bare + "|" + t.solo + t.after_spawn;
  t.answer = std::to_string(total);
  return t;
}

Example ProductsTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  std::vector<std::pair<int64_t, int64_t>> products;
  nlohmann::json meta_products = nlohmann::json::array();
  for (int i = 0; i < difficulty + 1; ++i) {
    const int64_t a = rng.uniform_int(10, 99), b = rng.uniform_int(10, 99);
    products.emplace_back(a, b);
    meta_products.push_back({a, b});
  }
  const ProductsTraces traces = products_traces(products);
  std::string spaced = traces.bare;
  for (size_t at = spaced.find('+'); at != std::string::npos; at = spaced.find('+', at + 3)) spaced.replace(at, 1, " + ");

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {text_segment(word(products_wordings(), surface, rng, {{"bare", traces.bare}, {"spaced", spaced}}))};
  example.problem_key = "products " + traces.bare;
  example.answer = traces.answer;
  example.meta = {{"products", meta_products}};
  if (rng.uniform_int(0, 2) == 0) {
    example.reasoning = traces.solo;
    return example;
  }
  const std::string head = traces.bare + "|";
  example.reasoning = head + traces.after_spawn;
  TraceToolCall call;
  call.at = head.size();
  call.name = kSpawnTool;
  call.arguments = {{"tasks", traces.tasks}};
  for (const auto& answer : traces.answers) call.result.push_back(text_segment(answer));
  call.filled = true;  // the children's answers are known: nothing for the trace filler to run
  example.tool_calls.push_back(std::move(call));
  return example;
}

double ProductsTask::verify(const Example& example, const std::string& answer) const {
  return trim_answer(answer) == example.answer ? 1.0 : 0.0;
}

}  // namespace muse
