// Calc: arithmetic beyond what the model computes in its head, solved by calling the calculator tool.
//
// The prompt is worded exactly like the arithmetic tasks' (arithmetic_wordings: same trained and held-out
// pools), so what tells the model to reach for the tool is the size of the numbers, not the wording. The in-head
// tasks stop at add/sub 4 digits and mul 3; calc starts past them:
//   difficulty 1  add/sub, longer operand 5-8 digits     mul, longer operand 4-5 digits (other >= 2)
//   difficulty 2  add/sub 9-12 digits                     mul 6-7 digits
//   difficulty 3  add/sub 13-18 digits                    mul 8-9 digits
// (the other operand of add/sub has any length up to the longer; the operator is one of + - * at random).
// Trace: a calculator call on the bare expression, its result forced in by the harness, then "=<answer>":
//   <|tool_call|>calculator {"expression":"1234567+89"}<|/tool_call|><|tool_result|>1234656<|/tool_result|>=1234656
// The answer is the exact result in canonical decimal. problem_key: "calc " + the bare form.
#pragma once
#include "data/task.h"

namespace muse {

class CalcTask : public Task {
 public:
  std::string name() const override { return "calc"; }
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

}  // namespace muse
