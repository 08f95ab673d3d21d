// Countdown: reach a target by combining some of the given numbers with + - * / and parentheses, each number
// used at most as often as it is given.
//
// Difficulty = how many numbers are given (3..6). Each number is uniform in 1..25, or with probability 1/8 one
// of the game show's large numbers 50, 75, 100. The target (10..999, never one of the given numbers) is built by
// combining a random subset of at least max(2, n-2) of the numbers so that every intermediate result is a
// positive integer (division only when exact). So every problem has a solution.
//
// Prompt: worded from countdown_wordings() — the canonical "target 24 from 3 7 8 2", "Use 3, 7, 8 and 2 to make
// 24.", ... (10 trained templates, 4 held out; the numbers listed with spaces, commas, or commas and "and").
// problem_key is the canonical form. Answer: one solving expression with minimal parentheses, e.g. "(8-2)*3+7".
// meta: {"target": 24, "numbers": [3, 7, 8, 2]}.
//
// Reasoning is a guess-and-check search log: '|'-separated attempts, each a chain of space-separated steps
// "a op b=c" (larger operand first) over the numbers and earlier results, closed by " no" (dead end, never
// touching the target) or " ok" (reached it). Up to n-1 dead ends come first, then the attempt that reaches the
// target, which the answer writes as one expression. The canonical form and a '|' open the trace:
//   Use 3, 7, 8 and 2 to make 24.    target 24 from 3 7 8 2|7+8=15 15*2=30 no|8*3=24 ok
// The search (after the canonical form) fits in countdown_trace_budget(difficulty) characters: 120 at
// difficulty 3 up to 300 at 6.
#pragma once
#include <cstddef>
#include <string>

#include "data/task.h"

namespace muse {

class CountdownTask : public Task {
 public:
  std::string name() const override { return "countdown"; }
  std::string description() const override;
  int min_difficulty() const override { return 3; }
  int max_difficulty() const override { return 6; }
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  // 1.0 when the answer is an expression of integers, + - * / and parentheses (nothing else) that uses only
  // the given numbers, each at most as often as given, and equals the target exactly. Never throws on answers.
  double verify(const Example& example, const std::string& answer) const override;
};

// Most characters the search part of a reasoning trace may have at this difficulty.
size_t countdown_trace_budget(int difficulty);

// The prompt templates (slots {target} {numbers}).
const WordingPool& countdown_wordings();

}  // namespace muse
