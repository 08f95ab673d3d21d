// Products: a sum of independent products, "23*41+57*18" — a problem that splits into parts, which sub-agents
// can solve in parallel (agents/spawn.h).
//
// Difficulty d gives d + 1 products of two 2-digit operands (10..99). Prompt: worded from products_wordings()
// (10 trained templates, 4 held out; the bare form, with spaces around '+', with "=", in words).
// problem_key is the bare form. Answer: the sum in canonical decimal.
//
// Two traces, both opening with the bare form and a '|':
//   spawn (2 in 3 examples): one spawn call whose tasks are the products in the mul task's bare form; the
//     children's answers come back as agent results (forced, never trained); then the sum, restated with
//     its terms zero-padded to one width and added in the add task's column format:
//       23*41+57*18|<|tool_call|>spawn {"tasks":["23*41","57*18"]}<|/tool_call|><|agent_result|>943<|/agent_result|>
//       <|agent_result|>1026<|/agent_result|>0943+1026|3+6+0=09|4+2+0=06|9+0+0=09|0+1+0=01|=1969
//   solo (1 in 3): each product worked in the head in the mul task's trace, numbered (so it never reads as a
//     whole mul trace, which ends at its "="), then the same sum:
//       23*41+57*18|(1)23*41|23*1=23|23*4=92 <<1 =920|...|=943|(2)57*18|...|=1026|0943+1026|...|=1969
// A request whose tool calls are banned (spawning off) gets the solo trace: both start the same way.
// meta: {"products": [[23, 41], [57, 18]]}.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/surface.h"
#include "data/task.h"

namespace muse {

class ProductsTask : public Task {
 public:
  std::string name() const override { return "products"; }
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  // 1.0 when the trimmed answer is exactly the reference sum.
  double verify(const Example& example, const std::string& answer) const override;
  bool spawns_sub_agents() const override { return true; }
};

// Slots {bare} ("23*41+57*18") and {spaced} ("23*41 + 57*18").
const WordingPool& products_wordings();

// The solo and the spawn trace of one problem (for the task and its tests).
struct ProductsTraces {
  std::string bare;                   // "23*41+57*18"
  std::vector<std::string> tasks;     // the children's prompts: "23*41", "57*18"
  std::vector<std::string> answers;   // their answers: "943", "1026"
  std::string solo;                   // the whole in-head trace
  std::string after_spawn;            // the spawn trace's text after the call: the padded sum and its columns
  std::string answer;
};
ProductsTraces products_traces(const std::vector<std::pair<int64_t, int64_t>>& products);

}  // namespace muse
