// The policy loss: which tokens it trains, how the aggregations weigh them, that on-policy it is REINFORCE's
// gradient, and that the clip stops updates of tokens already moved far enough.
#include "training/rl/policy_loss.h"

#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include "util/error.h"

namespace muse {
namespace {

Transformer tiny_model() {
  at::set_num_threads(1);
  ModelConfig c = preset_config("tiny");
  c.vocab_size = 64;
  c.n_layers = 1;
  c.d_model = 64;  // head_dim 32: the rotary sections' 16 pairs
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.ffn_hidden = 64;
  c.max_seq_len = 32;
  c.zero_init_projections = false;  // a model whose every parameter has a gradient
  torch::manual_seed(3);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  model->lm_head->weight.normal_(0.0, 0.05);  // it starts at zero, which leaves every other gradient zero
  return model;
}

// A prompt of `prompt` tokens, then `generated` tokens of which those at `forced` (generated indices) are forced.
PolicySequence sequence(int prompt, int generated, std::vector<int> forced, double advantage, int offset = 0) {
  PolicySequence s;
  for (int i = 0; i < prompt + generated; ++i) {
    s.tokens.push_back((7 * i + offset) % 60 + 1);
    s.positions.push_back({i, i, i});
    const int g = i - prompt;
    s.trained.push_back(g >= 0 && std::find(forced.begin(), forced.end(), g) == forced.end());
  }
  s.advantage = advantage;
  return s;
}

TEST(RlPolicyBatches, TrainsSampledTokensOnlyAndWeighsByTheAggregation) {
  const std::vector<PolicySequence> seqs = {sequence(3, 4, {1}, 1.0), sequence(2, 2, {}, -1.0, 5),
                                            sequence(4, 1, {}, 0.5, 9)};
  // Trained tokens: 3, 2 and 1 (6 in all).
  auto total_weight = [](const std::vector<PolicyBatch>& batches) {
    double sum = 0;
    for (const auto& b : batches)
      if (b.weights.defined()) sum += b.weights.sum().item<double>();
    return sum;
  };
  const auto token = make_policy_batches(seqs, 2, LossAggregation::Token, 10);
  ASSERT_EQ(token.size(), 2u);
  EXPECT_NEAR(total_weight(token), 1.0, 1e-6);                  // a mean over all 6 tokens
  EXPECT_NEAR(total_weight(make_policy_batches(seqs, 2, LossAggregation::Sequence, 10)), 1.0, 1e-6);
  EXPECT_NEAR(total_weight(make_policy_batches(seqs, 2, LossAggregation::Constant, 10)), 6.0 / 30.0, 1e-6);
  // Sequence: each rollout weighs 1/3 whatever its length.
  const auto per_seq = make_policy_batches(seqs, 3, LossAggregation::Sequence, 10);
  for (const auto& b : per_seq) EXPECT_NEAR(b.weights.sum().item<double>(), 1.0 / 3.0, 1e-6);

  // Row 0 of the first micro-batch: position p predicts token p + 1; the prompt and the forced token are not
  // targets; padding neither.
  const auto& b = token[0];
  EXPECT_EQ(b.tokens.size(0), 1);
  const auto targets = b.targets[0];
  const std::vector<int64_t> expected = {-1, -1, seqs[0].tokens[3], -1, seqs[0].tokens[5], seqs[0].tokens[6], -1};
  for (size_t p = 0; p < expected.size(); ++p) EXPECT_EQ(targets[p].item<int64_t>(), expected[p]) << "position " << p;
  EXPECT_EQ(b.trained_tokens, 3);
  EXPECT_EQ(b.loss_scale, 2.0);
  EXPECT_EQ(token[1].tokens.size(0), 2);  // rows padded to the longer
  EXPECT_EQ(token[1].tokens.size(1), 5);
}

TEST(RlPolicyBatches, MoreMicroBatchesThanRolloutsLeavesSomeEmpty) {
  const auto batches = make_policy_batches({sequence(2, 2, {}, 1.0)}, 3, LossAggregation::Token, 4);
  ASSERT_EQ(batches.size(), 3u);
  int empty = 0;
  for (const auto& b : batches) empty += b.tokens.defined() ? 0 : 1;
  EXPECT_EQ(empty, 2);
  EXPECT_THROW(make_policy_batches({}, 0, LossAggregation::Token, 4), MuseError);
}

TEST(RlPolicyLoss, OnPolicyItIsTheReinforceGradient) {
  auto model = tiny_model();
  const std::vector<PolicySequence> seqs = {sequence(3, 5, {2}, 0.7), sequence(2, 4, {}, -0.4, 3)};
  auto batch = make_policy_batches(seqs, 1, LossAggregation::Token, 8)[0];
  PolicyLossParams params;
  const auto loss = policy_loss(model, batch, params);
  loss.loss.backward();
  const auto param = model->named_parameters()["layers.0.wq.weight"];
  const auto grad = param.grad().clone();
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  EXPECT_NEAR(loss.ratio_mean, 1.0, 1e-6);
  EXPECT_EQ(loss.clip_fraction, 0.0);
  EXPECT_GT(loss.entropy, 0.0);

  // -(1/N) Σ A·log π(token) by hand.
  model->zero_grad();
  const auto logits = model->forward({batch.tokens, batch.positions, {}, {}});
  const auto logp = torch::log_softmax(logits, -1).gather(-1, batch.targets.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  const auto mask = (batch.targets >= 0).to(torch::kFloat32);
  const auto reinforce = -(logp * mask * batch.advantages.unsqueeze(1)).sum() / mask.sum();
  reinforce.backward();
  EXPECT_TRUE(torch::allclose(grad, param.grad(), 1e-5, 1e-7));
  // Its value is -mean(A) over tokens (ratio 1): the "loss" of an on-policy step says nothing about learning.
  EXPECT_NEAR(loss.value, -(mask * batch.advantages.unsqueeze(1)).sum().item<double>() / mask.sum().item<double>(),
              1e-6);
}

TEST(RlPolicyLoss, TheClipStopsTokensAlreadyMovedFarEnough) {
  auto model = tiny_model();
  auto batch = make_policy_batches({sequence(3, 4, {}, 1.0)}, 1, LossAggregation::Token, 4)[0];
  const auto current = target_logprobs(model, batch, 1.0);
  PolicyLossParams params;
  // π_old far below π: ratio ≈ e > 1 + clip_high with a positive advantage — the update is clipped away.
  batch.old_logprobs = current - 1.0;
  auto loss = policy_loss(model, batch, params);
  EXPECT_NEAR(loss.clip_fraction, 1.0, 1e-9);
  loss.loss.backward();
  for (const auto& p : model->parameters())
    if (p.grad().defined()) EXPECT_EQ(p.grad().abs().sum().item<double>(), 0.0);
  // Within the clip range the gradient flows.
  model->zero_grad();
  batch.old_logprobs = current - 0.1;
  loss = policy_loss(model, batch, params);
  EXPECT_EQ(loss.clip_fraction, 0.0);
  loss.loss.backward();
  EXPECT_GT(model->named_parameters()["layers.0.wq.weight"].grad().abs().sum().item<double>(), 0.0);
}

TEST(RlPolicyLoss, KlToTheReferenceIsZeroAtTheReferenceAndPositiveAway) {
  auto model = tiny_model();
  auto batch = make_policy_batches({sequence(3, 4, {}, 0.0)}, 1, LossAggregation::Token, 4)[0];
  PolicyLossParams params;
  params.kl_beta = 0.1;
  batch.ref_logprobs = target_logprobs(model, batch, 1.0);
  EXPECT_NEAR(policy_loss(model, batch, params).kl, 0.0, 1e-7);
  batch.ref_logprobs = batch.ref_logprobs - 0.5 * (batch.targets >= 0).to(torch::kFloat32);
  const auto away = policy_loss(model, batch, params);
  EXPECT_NEAR(away.kl, std::exp(-0.5) + 0.5 - 1.0, 1e-5);
}

TEST(RlPolicyLoss, AnEmptyMicroBatchStillGivesEveryParameterAGradient) {
  auto model = tiny_model();
  const auto loss = policy_loss(model, PolicyBatch{}, PolicyLossParams{});
  EXPECT_EQ(loss.loss.item<double>(), 0.0);
  loss.loss.backward();
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.grad().defined());
}

}  // namespace
}  // namespace muse
