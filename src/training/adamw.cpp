#include "training/adamw.h"

#include <cmath>

#include "util/error.h"

namespace muse {

namespace {
std::vector<std::pair<std::string, torch::Tensor>> all_parameters(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}
}  // namespace

AdamW::AdamW(const torch::nn::Module& module, const AdamWParams& params) : AdamW(all_parameters(module), params) {}

AdamW::AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params, const AdamWParams& params)
    : params_(params) {
  for (const auto& [name, param] : named_params) {
    const bool decay = name.find("norm") == std::string::npos && name.rfind("embed.", 0) != 0;
    slots_.push_back({name, param, torch::zeros_like(param), torch::zeros_like(param), decay});
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double bias1 = 1.0 - std::pow(params_.beta1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(params_.beta2, static_cast<double>(step_));
  for (auto& s : slots_) {
    const auto& grad = s.param.grad();
    if (!grad.defined()) continue;
    s.exp_avg.mul_(params_.beta1).add_(grad, 1.0 - params_.beta1);
    s.exp_avg_sq.mul_(params_.beta2).addcmul_(grad, grad, 1.0 - params_.beta2);
    if (s.decay && params_.weight_decay > 0) s.param.mul_(1.0 - lr * params_.weight_decay);
    auto denom = (s.exp_avg_sq / bias2).sqrt_().add_(params_.eps);
    s.param.addcdiv_(s.exp_avg, denom, -lr / bias1);
  }
}

void AdamW::zero_grad() {
  for (auto& s : slots_) {
    auto& grad = s.param.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

std::map<std::string, torch::Tensor> AdamW::state() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto& s : slots_) {
    out["exp_avg/" + s.name] = s.exp_avg;
    out["exp_avg_sq/" + s.name] = s.exp_avg_sq;
  }
  out["step"] = torch::tensor({step_}, torch::kInt64);
  return out;
}

void AdamW::load_state(const std::map<std::string, torch::Tensor>& state, const std::string& origin) {
  torch::NoGradGuard no_grad;
  auto fetch = [&](const std::string& key, const torch::Tensor& like) {
    auto it = state.find(key);
    if (it == state.end()) throw MuseError(origin + ": optimizer state \"" + key + "\" missing");
    if (it->second.sizes() != like.sizes())
      throw MuseError(origin + ": optimizer state \"" + key + "\" has the wrong shape for this model");
    like.copy_(it->second);
  };
  for (auto& s : slots_) {
    fetch("exp_avg/" + s.name, s.exp_avg);
    fetch("exp_avg_sq/" + s.name, s.exp_avg_sq);
  }
  auto it = state.find("step");
  if (it == state.end() || it->second.numel() != 1) throw MuseError(origin + ": optimizer \"step\" missing");
  step_ = it->second.item<int64_t>();
}

double clip_grad_norm(const torch::nn::Module& module, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : module.parameters())
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  std::vector<torch::Tensor> squares;
  for (const auto& g : grads) squares.push_back(g.pow(2).sum());
  const double norm = std::sqrt(torch::stack(squares).sum().item<double>());
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (auto& g : grads) g.mul_(scale);
  }
  return norm;
}

}  // namespace muse
