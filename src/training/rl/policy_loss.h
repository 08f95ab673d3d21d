// The policy-gradient loss of GRPO and its variants, on the model's own forward over rollouts.
//
// A rollout is a prompt followed by what the model generated; only the tokens it *sampled* are trained: the
// prompt, tool results and budget-forced tokens are forced, never targets. Per trained token:
//   ratio = exp(log π(token) - log π_old(token))          (π_old: the policy that sampled the round)
//   loss  = -min(ratio·A, clip(ratio, 1 - clip_low, 1 + clip_high)·A) + β·KL(π || π_ref)   (k3 estimator)
// and the loss is a weighted sum whose weights fold in the aggregation:
//   Sequence (GRPO):     mean over each rollout's tokens, then mean over rollouts
//   Token (DAPO):        mean over every trained token of the step (long rollouts weigh by their length)
//   Constant (Dr. GRPO): sum over tokens / (rollouts x max_tokens): no length normalisation at all
// On-policy (one update per round), π_old is the current model itself: ratio = 1 and the loss value is ~0 while
// the gradient is REINFORCE's (a "loss 0" that is cosmetic). Clipping acts when a round is reused (epochs > 1).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "model/transformer.h"

namespace muse {

enum class LossAggregation { Sequence, Token, Constant };
const char* loss_aggregation_name(LossAggregation kind);          // "sequence" | "token" | "constant"
LossAggregation parse_loss_aggregation(const std::string& name);  // MuseError listing the kinds

struct PolicyLossParams {
  LossAggregation aggregation = LossAggregation::Token;
  double clip_low = 0.2;     // PPO's epsilon below 1
  double clip_high = 0.28;   // DAPO's clip-higher above 1: room for unlikely tokens to grow
  double kl_beta = 0.0;      // weight of the KL to the reference model (0: no reference is kept)
  double temperature = 1.0;  // the rollouts' sampling temperature: tokens are scored under logits / temperature
  void validate() const;     // MuseError naming the field
};

// One trainable rollout, as the loss sees it.
struct PolicySequence {
  std::vector<int> tokens;                        // prompt, then generated
  std::vector<std::array<int32_t, 3>> positions;  // one per token
  at::Tensor patches;                             // [N, patch_dim] of its <|patch|> tokens, or undefined
  std::vector<bool> trained;                      // per token: a sampled token the loss trains (never the first)
  double advantage = 0.0;
};

// A micro-batch: rows padded to the longest, patches of all rows in row-major order.
struct PolicyBatch {
  at::Tensor tokens;        // [B, T] int64
  at::Tensor positions;     // [B, T, 3] int64
  at::Tensor patches;       // [N, patch_dim] float, or undefined
  at::Tensor targets;       // [B, T] int64: the next token where it is trained, else -1
  at::Tensor weights;       // [B, T] float: the aggregation's weight of each trained target, else 0
  at::Tensor advantages;    // [B] float
  at::Tensor old_logprobs;  // [B, T] float of the targets under π_old; undefined: on-policy (the model itself)
  at::Tensor ref_logprobs;  // [B, T] float under the reference model; undefined: no KL
  int64_t trained_tokens = 0;
  double loss_scale = 1.0;  // undoes the trainer's 1/micro-batches: the step's loss is the sum over its micro-batches
};

// Splits one optimizer step's sequences into `micro_batches` micro-batches (some may be empty: no rows) with the
// aggregation's weights over the whole step. `max_tokens` is Constant's normaliser (the generation limit).
std::vector<PolicyBatch> make_policy_batches(const std::vector<PolicySequence>& sequences, int64_t micro_batches,
                                             LossAggregation aggregation, int max_tokens);

// log π(target) of every position under logits / temperature ([B, T]; 0 where the target is -1).
at::Tensor target_logprobs(Transformer& model, const PolicyBatch& batch, double temperature);

struct PolicyLoss {
  at::Tensor loss;          // backward() on this (already weighted and scaled)
  double value = 0.0;       // the loss's value
  double entropy = 0.0;     // mean entropy (nats) of the policy over trained tokens
  double kl = 0.0;          // mean k3 KL to the reference over trained tokens (0 without one)
  double clip_fraction = 0.0;  // share of trained tokens whose update the clip stopped
  double ratio_mean = 1.0;     // mean π/π_old over trained tokens
};

// The loss of one micro-batch (an empty batch gives a zero loss that still reaches every parameter).
PolicyLoss policy_loss(Transformer& model, const PolicyBatch& batch, const PolicyLossParams& params);

}  // namespace muse
