// Reinforcement learning with verifiable rewards (the GRPO family) on the task world, on the shared Trainer.
//
// Each round: the engine samples G answers to each of `prompts` training problems with the current weights
// (rollout.h); the verifier scores them and the thinking-time penalty and tool bonus shape the rewards
// (reward.h); advantages are group-relative (advantage.h); the policy loss trains the sampled tokens only —
// prompts, tool results and budget-forced tokens are masked (policy_loss.h). One round feeds `epochs` optimizer
// steps (> 1: PPO-style reuse with clipping; the round is saved so a resumed run reuses it exactly).
//
//   RlParams p;  p.init_from = "models/default";  p.out_dir = "runs/rl";  p.rollout.tasks = "countdown:3-4";
//   RlResult r = rl(p);   // out_dir becomes a model directory; metrics.jsonl has every step's curves
//
// Exact resume: a round is a pure function of (seed, round) and the weights it starts from, which the
// checkpoint holds; a kill -9 and --resume gives the same rollouts and the same model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/task_eval.h"
#include "training/optimizer.h"
#include "training/rl/advantage.h"
#include "training/rl/policy_loss.h"
#include "training/rl/reward.h"
#include "training/rl/rollout.h"

namespace muse {

struct RlParams {
  std::string init_from;       // the model directory to start from (and the KL reference)
  std::string out_dir;         // run directory; becomes a model directory
  RolloutParams rollout;
  RewardParams reward;
  AdvantageParams advantage;
  PolicyLossParams loss;
  // Rollouts that run out of tokens get reward 0. true: and no loss (DAPO's overlong filter). Off by default: with
  // the filter, only wrong answers that *end* are pushed down, so the policy learns to run out instead
  // (docs/LOG.md, RL: truncation rose 48% -> 65% and held-out accuracy fell in 30 steps).
  bool mask_truncated = false;
  int64_t steps = 100;         // optimizer steps
  int epochs = 1;              // optimizer steps per round of rollouts
  int64_t micro_batches = 4;   // per optimizer step (the round's rollouts split into this many forwards)
  double lr = 1e-4;            // AdamW's peak (constant after warmup)
  int64_t warmup_steps = 5;
  OptimizerParams optimizer = default_optimizer();
  double grad_clip = 1.0;
  int64_t eval_every = 20;     // held-out greedy accuracy on the RL tasks every this many steps (0 = start and end)
  int eval_problems = 100;     // per task and difficulty
  int64_t checkpoint_every = 10;
  int64_t log_every = 1;
  uint64_t seed = 1;
  std::string device = "cpu";
  bool resume = false;
  bool progress = true;
  int64_t stop_after_step = -1;  // tests: checkpoint this step and return, as if killed

  static OptimizerParams default_optimizer();  // AdamW alone, no weight decay
  void validate() const;                       // MuseError naming the field
  nlohmann::json fingerprint() const;          // what must not change across a resume
};

struct RlResult {
  int64_t steps = 0;
  double seconds = 0.0;
  bool finished = false;
  std::vector<TaskEvalResult> before;  // held-out greedy accuracy of the starting model (empty after a resume)
  std::vector<TaskEvalResult> after;   // and of the trained one
  std::vector<TaskEvalResult> before_sampled, after_sampled;  // one sample per problem at the rollout temperature
};

RlResult rl(const RlParams& params);

// The statistics of a round of rollouts that metrics.jsonl logs every step (reward, accuracy, thinking tokens of
// right and wrong answers, zero-variance groups, truncation, repetition, tool use, ...).
std::map<std::string, double> round_metrics(const std::vector<Rollout>& rollouts, const std::vector<double>& rewards,
                                            const std::vector<bool>& uniform_group);

}  // namespace muse
