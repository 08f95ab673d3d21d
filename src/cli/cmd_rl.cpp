// muse rl: reinforcement learning with verifiable rewards (GRPO family) and a thinking-time penalty.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "training/rl/rl.h"

namespace muse::cli {

void add_rl_options(CLI::App& cmd, RlCliOptions& options) {
  auto* o = &options;
  auto& p = o->params;
  cmd.add_option("--model", p.init_from, "the model directory to start from (an SFT model)")->required()
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--out", p.out_dir, "run directory (becomes the RL model directory)");
  cmd.add_option("--tasks", p.rollout.tasks, "what to train on, TASK[:MIN-MAX][:WEIGHT],...")->capture_default_str();
  cmd.add_option("--steps", p.steps, "optimizer steps")->capture_default_str()->check(CLI::Range(1, 10000000));
  cmd.add_option("--prompts", p.rollout.prompts, "problems per round")->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--group", p.rollout.group_size, "samples per problem (G)")->capture_default_str()
      ->check(CLI::Range(2, 256));
  cmd.add_option("--temperature", p.rollout.temperature, "sampling temperature of the rollouts")
      ->capture_default_str()->check(CLI::Range(0.05, 5.0));
  cmd.add_option("--max-tokens", p.rollout.max_tokens, "tokens per rollout")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--tools", o->tools, "built-in tools during rollouts: on | off")->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd.add_option("--penalty", o->penalty, "thinking-time penalty: none | linear | group | cap")
      ->capture_default_str()->check(CLI::IsMember({"none", "linear", "group", "cap"}));
  cmd.add_option("--penalty-coefficient", p.reward.coefficient, "linear: reward per thinking token over the allowance")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--penalty-free", p.reward.free_tokens, "linear: thinking tokens without penalty")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--max-penalty", p.reward.max_penalty, "linear: most reward taken off one rollout")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--penalty-weight", p.reward.weight, "group (Kimi k1.5): the scale of the length reward")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--cap-start", p.reward.cap_start, "cap (ThinkPrune): thinking cap at the first step")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  cmd.add_option("--cap-end", p.reward.cap_end, "cap: the cap it tightens to")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--cap-steps", p.reward.cap_steps, "cap: steps over which it tightens")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--penalty-warmup", p.reward.warmup_steps, "steps before any penalty applies")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--penalty-gate", p.reward.gate_accuracy,
                  "GRPO-λ: no penalty in groups with fewer right answers than this share")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--tool-bonus", p.reward.tool_bonus, "reward added when the answer is right and a tool was used")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_flag("--std-advantages", p.advantage.divide_by_std, "divide advantages by the group's std (GRPO)");
  cmd.add_flag("--keep-uniform-groups", o->keep_uniform, "train on groups whose rewards are all equal too");
  cmd.add_flag("--mask-truncated", p.mask_truncated,
                "no loss on rollouts that ran out of tokens (DAPO's filter; off: they train as wrong answers)");
  cmd.add_option("--aggregation", o->aggregation, "loss over tokens: sequence (GRPO) | token (DAPO) | constant "
                                                   "(Dr. GRPO)")
      ->capture_default_str()->check(CLI::IsMember({"sequence", "token", "constant"}));
  cmd.add_option("--clip-low", p.loss.clip_low)->capture_default_str()->check(CLI::Range(0.001, 0.999));
  cmd.add_option("--clip-high", p.loss.clip_high)->capture_default_str()->check(CLI::Range(0.001, 10.0));
  cmd.add_option("--kl", p.loss.kl_beta, "weight of the KL to the starting model (0 = none)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--epochs", p.epochs, "optimizer steps per round of rollouts (> 1: clipped reuse)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--micro-batches", p.micro_batches, "forwards per optimizer step")->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--lr", p.lr, "AdamW's learning rate (constant after warmup)")->capture_default_str()
      ->check(CLI::Range(1e-8, 1.0));
  cmd.add_option("--warmup", p.warmup_steps)->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--optimizer", o->optimizer, "adamw | muon (hidden matrices; AdamW for the rest)")
      ->capture_default_str()->check(CLI::IsMember({"adamw", "muon"}));
  cmd.add_option("--muon-lr", p.optimizer.muon_lr)->capture_default_str()->check(CLI::Range(1e-6, 10.0));
  cmd.add_option("--eval-every", p.eval_every, "held-out accuracy every this many steps (0 = start and end)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--eval-problems", p.eval_problems, "held-out problems per task and difficulty (0 = none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--checkpoint-every", p.checkpoint_every)->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--log-every", p.log_every)->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd.add_option("--seed", p.seed)->capture_default_str();
  cmd.add_flag("--resume", p.resume, "continue from the run's latest checkpoint");
  add_runtime_options(cmd, o->runtime);
}

RlParams resolve_rl_options(const RlCliOptions& o) {
  apply_runtime_options(o.runtime);
  RlParams p = o.params;
  p.device = o.runtime.device;
  p.rollout.tool_use.enabled = o.tools == "on";
  p.reward.penalty = parse_length_penalty(o.penalty);
  p.loss.aggregation = parse_loss_aggregation(o.aggregation);
  p.loss.temperature = p.rollout.temperature;
  p.optimizer.kind = parse_optimizer_kind(o.optimizer);
  p.advantage.drop_uniform_groups = !o.keep_uniform;
  return p;
}

void add_rl_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "rl", "Reinforcement learning on the task world: groups of sampled answers, verified rewards, an optional "
            "thinking-time penalty (the model directory --model is not changed; --out becomes a new one)");
  auto o = std::make_shared<RlCliOptions>();
  add_rl_options(*cmd, *o);
  cmd->get_option("--out")->required();
  cmd->callback([o] {
    const auto result = muse::rl(resolve_rl_options(*o));
    std::printf("RL: %lld steps in %.1f min\n", static_cast<long long>(result.steps), result.seconds / 60.0);
    if (!result.after.empty()) std::printf("%s", eval_table_markdown(result.after, result.before, "before RL").c_str());
  });
}

}  // namespace muse::cli
