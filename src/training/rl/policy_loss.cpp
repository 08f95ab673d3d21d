#include "training/rl/policy_loss.h"

#include <algorithm>

#include <torch/torch.h>

#include "util/error.h"

namespace muse {

const char* loss_aggregation_name(LossAggregation kind) {
  switch (kind) {
    case LossAggregation::Sequence: return "sequence";
    case LossAggregation::Token: return "token";
    case LossAggregation::Constant: return "constant";
  }
  return "token";
}

LossAggregation parse_loss_aggregation(const std::string& name) {
  for (auto kind : {LossAggregation::Sequence, LossAggregation::Token, LossAggregation::Constant})
    if (name == loss_aggregation_name(kind)) return kind;
  throw MuseError("unknown loss aggregation '" + name + "' (expected sequence, token or constant)");
}

void PolicyLossParams::validate() const {
  if (clip_low <= 0 || clip_low >= 1) throw MuseError("clip_low must be in (0, 1), got " + std::to_string(clip_low));
  if (clip_high <= 0) throw MuseError("clip_high must be > 0, got " + std::to_string(clip_high));
  if (kl_beta < 0) throw MuseError("kl_beta must be >= 0, got " + std::to_string(kl_beta));
  if (temperature <= 0) throw MuseError("temperature must be > 0, got " + std::to_string(temperature));
}

std::vector<PolicyBatch> make_policy_batches(const std::vector<PolicySequence>& sequences, int64_t micro_batches,
                                             LossAggregation aggregation, int max_tokens) {
  if (micro_batches <= 0) throw MuseError("micro_batches must be > 0, got " + std::to_string(micro_batches));
  const auto n = static_cast<int64_t>(sequences.size());
  std::vector<int64_t> trained(sequences.size(), 0);
  int64_t total = 0;
  for (size_t i = 0; i < sequences.size(); ++i) {
    const auto& s = sequences[i];
    if (s.trained.size() != s.tokens.size() || s.positions.size() != s.tokens.size())
      throw MuseError("rollout " + std::to_string(i) + ": tokens, positions and trained flags differ in length");
    trained[i] = std::count(s.trained.begin(), s.trained.end(), true);
    total += trained[i];
  }
  auto weight_of = [&](size_t i) -> float {
    switch (aggregation) {
      case LossAggregation::Sequence: return trained[i] > 0 ? 1.0f / static_cast<float>(n * trained[i]) : 0.0f;
      case LossAggregation::Token: return total > 0 ? 1.0f / static_cast<float>(total) : 0.0f;
      case LossAggregation::Constant: return 1.0f / static_cast<float>(n * std::max(1, max_tokens));
    }
    return 0.0f;
  };

  std::vector<PolicyBatch> batches;
  for (int64_t m = 0; m < micro_batches; ++m) {
    const int64_t begin = m * n / micro_batches, end = (m + 1) * n / micro_batches;
    PolicyBatch batch;
    batch.loss_scale = static_cast<double>(micro_batches);
    if (begin == end) {
      batches.push_back(std::move(batch));
      continue;
    }
    int64_t length = 0;
    for (int64_t i = begin; i < end; ++i) length = std::max<int64_t>(length, sequences[i].tokens.size());
    const int64_t rows = end - begin;
    batch.tokens = torch::zeros({rows, length}, torch::kInt64);
    batch.positions = torch::zeros({rows, length, 3}, torch::kInt64);
    batch.targets = torch::full({rows, length}, -1, torch::kInt64);
    batch.weights = torch::zeros({rows, length}, torch::kFloat32);
    batch.advantages = torch::zeros({rows}, torch::kFloat32);
    auto tokens = batch.tokens.accessor<int64_t, 2>();
    auto positions = batch.positions.accessor<int64_t, 3>();
    auto targets = batch.targets.accessor<int64_t, 2>();
    auto weights = batch.weights.accessor<float, 2>();
    std::vector<at::Tensor> patches;
    for (int64_t r = 0; r < rows; ++r) {
      const auto i = static_cast<size_t>(begin + r);
      const auto& s = sequences[i];
      const float w = weight_of(i);
      for (size_t p = 0; p < s.tokens.size(); ++p) {
        tokens[r][p] = s.tokens[p];
        for (int k = 0; k < 3; ++k) positions[r][p][k] = s.positions[p][k];
        // Position p predicts token p + 1.
        if (p + 1 < s.tokens.size() && s.trained[p + 1]) {
          targets[r][p] = s.tokens[p + 1];
          weights[r][p] = w;
        }
      }
      batch.advantages[r] = s.advantage;
      batch.trained_tokens += trained[i];
      if (s.patches.defined() && s.patches.numel() > 0) patches.push_back(s.patches.to(torch::kCPU, torch::kFloat32));
    }
    if (!patches.empty()) batch.patches = torch::cat(patches);
    batches.push_back(std::move(batch));
  }
  return batches;
}

namespace {

torch::Device model_device(Transformer& model) {
  const auto params = model->parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

// log_softmax(logits / temperature) of the batch, [B, T, V].
at::Tensor log_policy(Transformer& model, const PolicyBatch& batch, double temperature, const torch::Device& device) {
  ModelInput input;
  input.tokens = batch.tokens.to(device);
  input.positions = batch.positions.to(device);
  if (batch.patches.defined()) input.patches = batch.patches.to(device);
  auto logits = model->forward(input).to(torch::kFloat32);
  if (temperature != 1.0) logits = logits / temperature;
  return torch::log_softmax(logits, -1);
}

at::Tensor gather_targets(const at::Tensor& log_probs, const at::Tensor& targets) {
  const auto index = targets.clamp_min(0).unsqueeze(-1);
  return log_probs.gather(-1, index).squeeze(-1) * (targets >= 0).to(log_probs.scalar_type());
}

}  // namespace

at::Tensor target_logprobs(Transformer& model, const PolicyBatch& batch, double temperature) {
  if (!batch.tokens.defined()) return {};
  torch::NoGradGuard no_grad;
  const auto device = model_device(model);
  return gather_targets(log_policy(model, batch, temperature, device), batch.targets.to(device)).to(torch::kCPU);
}

PolicyLoss policy_loss(Transformer& model, const PolicyBatch& batch, const PolicyLossParams& params) {
  PolicyLoss out;
  if (!batch.tokens.defined() || batch.trained_tokens == 0) {
    // Nothing to train in this micro-batch: a zero that still reaches every parameter, so each has a gradient.
    at::Tensor zero;
    for (const auto& p : model->parameters()) zero = zero.defined() ? zero + p.sum() * 0.0 : p.sum() * 0.0;
    out.loss = zero;
    return out;
  }
  const auto device = model_device(model);
  const auto log_probs = log_policy(model, batch, params.temperature, device);
  const auto targets = batch.targets.to(device);
  const auto mask = (targets >= 0).to(torch::kFloat32);
  const auto logp = gather_targets(log_probs, targets);
  const auto old = batch.old_logprobs.defined() ? batch.old_logprobs.to(device) : logp.detach();
  const auto ratio = torch::exp(logp - old);
  const auto advantage = batch.advantages.to(device).unsqueeze(1);
  const auto unclipped = ratio * advantage;
  const auto clipped = ratio.clamp(1.0 - params.clip_low, 1.0 + params.clip_high) * advantage;
  auto per_token = -torch::min(unclipped, clipped);
  at::Tensor kl;
  if (params.kl_beta > 0 && batch.ref_logprobs.defined()) {
    const auto delta = batch.ref_logprobs.to(device) - logp;
    kl = torch::exp(delta) - delta - 1.0;
    per_token = per_token + params.kl_beta * kl;
  }
  out.loss = (per_token * batch.weights.to(device)).sum() * batch.loss_scale;

  torch::NoGradGuard no_grad;
  const double count = std::max(1.0, mask.sum().item<double>());
  out.value = out.loss.item<double>();
  const auto lp = log_probs.detach();
  out.entropy = ((-(lp.exp() * lp).sum(-1)) * mask).sum().item<double>() / count;
  if (kl.defined()) out.kl = (kl.detach() * mask).sum().item<double>() / count;
  const auto r = ratio.detach();
  const auto stopped = ((advantage > 0) & (r > 1.0 + params.clip_high)) | ((advantage < 0) & (r < 1.0 - params.clip_low));
  out.clip_fraction = (stopped.to(torch::kFloat32) * mask).sum().item<double>() / count;
  out.ratio_mean = (r * mask).sum().item<double>() / count;
  return out;
}

}  // namespace muse
