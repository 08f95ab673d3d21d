// RL rewards: the task's verifier, then the thinking-time penalty and the tool bonus, applied per group of
// rollouts of one prompt (some penalties compare a rollout with its group). Plain functions of plain structs,
// so every rule is unit-tested without a model.
//
//   reward = verified (0..1)
//          - thinking penalty (LengthPenalty: linear beyond a free allowance | group-relative (Kimi k1.5) |
//            a hard cap that tightens over training (ThinkPrune)), off during warm-up and, with gate_accuracy,
//            for groups that are still mostly wrong (GRPO-λ: a penalty there collapses accuracy early)
//          + tool bonus when the answer is right *and* the rollout used a tool (DeepEyes)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace muse {

enum class LengthPenalty {
  None,
  Linear,  // coefficient per thinking token beyond free_tokens, at most max_penalty
  Group,   // Kimi k1.5: λ = 0.5 - (len - min)/(max - min) in the group; right: +weight·λ, wrong: weight·min(0, λ)
  Cap,     // ThinkPrune: thinking beyond the cap earns 0; the cap goes from cap_start to cap_end over cap_steps
};
const char* length_penalty_name(LengthPenalty kind);        // "none" | "linear" | "group" | "cap"
LengthPenalty parse_length_penalty(const std::string& name);  // MuseError listing the kinds

struct RewardParams {
  LengthPenalty penalty = LengthPenalty::None;
  double coefficient = 0.002;  // Linear: reward per thinking token beyond free_tokens
  int free_tokens = 0;         // Linear: the allowance
  double max_penalty = 0.5;    // Linear: never takes more than this off a rollout
  double weight = 0.5;         // Group: the scale of λ
  int cap_start = 256;         // Cap: the cap at step 0 ...
  int cap_end = 64;            // ... and from cap_steps on (linear in between)
  int64_t cap_steps = 100;
  int64_t warmup_steps = 0;    // no penalty before this step
  double gate_accuracy = 0.0;  // > 0: no penalty in groups whose share of right answers is below this (GRPO-λ)
  double tool_bonus = 0.0;     // added when the answer is right and the rollout made at least one tool call
  void validate() const;       // MuseError naming the field
};

// What the reward rules read of one rollout.
struct RolloutScore {
  double verified = 0.0;     // the task's verifier (1 = right)
  int thinking_tokens = 0;   // tokens the model thought (forced tool results not counted)
  int tool_calls = 0;        // calls that returned a result (not errors)
  bool correct() const { return verified >= 1.0; }
};

// The thinking cap at `step` (Cap): cap_start, tightened linearly to cap_end at cap_steps.
int thinking_cap(const RewardParams& params, int64_t step);

// The rewards of one group of rollouts of the same prompt at training step `step`, in order.
std::vector<double> group_rewards(const std::vector<RolloutScore>& group, const RewardParams& params, int64_t step);

}  // namespace muse
