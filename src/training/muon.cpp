#include "training/muon.h"

#include <algorithm>
#include <cmath>

#include <ATen/core/grad_mode.h>

#include "util/error.h"

namespace muse {

at::Tensor orthogonalize(const at::Tensor& G, int steps) {
  // Quintic iteration X <- aX + (bA + cA^2)X with A = X X^T: its coefficients maximise the slope at zero, so
  // small singular values grow fast; the iteration does not converge to exactly 1, which Muon does not need.
  constexpr double a = 3.4445, b = -4.7750, c = 2.0315;
  const bool tall = G.size(1) > G.size(2);
  at::Tensor X = tall ? G.transpose(1, 2) : G;  // iterate on the wide side: A is the smaller Gram matrix
  X = X / (X.flatten(1).norm(2, {1}).view({-1, 1, 1}) + 1e-7);  // spectral norm <= Frobenius norm <= 1
  for (int i = 0; i < steps; ++i) {
    const at::Tensor A = at::bmm(X, X.transpose(1, 2));
    const at::Tensor B = at::baddbmm(A, A, A, /*beta=*/b, /*alpha=*/c);
    X = at::baddbmm(X, B, X, /*beta=*/a, /*alpha=*/1.0);
  }
  return tall ? X.transpose(1, 2) : X;
}

void MuonParams::validate() const {
  if (momentum < 0 || momentum >= 1) throw MuseError("muon momentum must be in [0, 1), got " + std::to_string(momentum));
  if (ns_steps < 1 || ns_steps > 20)
    throw MuseError("muon Newton-Schulz steps must be in 1..20, got " + std::to_string(ns_steps));
  if (weight_decay < 0) throw MuseError("muon weight decay must be >= 0, got " + std::to_string(weight_decay));
}

Muon::Muon(const std::vector<NamedTensor>& matrices, const MuonParams& params) : params_(params) {
  params_.validate();
  for (const auto& [name, param] : matrices) {
    if (param.dim() != 2)
      throw MuseError("Muon is for matrices, but \"" + name + "\" has " + std::to_string(param.dim()) + " dimensions",
                      ErrorKind::Internal);
    slots_.push_back({name, param, at::zeros_like(param)});
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    auto same = std::find_if(same_shape_.begin(), same_shape_.end(), [&](const std::vector<size_t>& group) {
      return slots_[group[0]].param.sizes() == slots_[i].param.sizes();
    });
    if (same == same_shape_.end()) same_shape_.push_back({i});
    else same->push_back(i);
  }
}

void Muon::step(double lr) {
  at::NoGradGuard no_grad;
  for (const auto& group : same_shape_) {
    std::vector<at::Tensor> updates;
    std::vector<size_t> live;
    for (size_t i : group) {
      auto& s = slots_[i];
      const auto& grad = s.param.grad();
      if (!grad.defined()) continue;
      s.momentum.mul_(params_.momentum).add_(grad);
      updates.push_back(params_.nesterov ? grad.add(s.momentum, params_.momentum) : s.momentum);
      live.push_back(i);
    }
    if (live.empty()) continue;
    const auto orthogonal = orthogonalize(at::stack(updates).to(at::kFloat), params_.ns_steps);
    const auto& shape = slots_[live[0]].param.sizes();
    // Orthogonal updates have RMS ~ 1/sqrt(max side); the factor keeps tall and wide matrices on one scale.
    const double scale = std::sqrt(std::max(1.0, static_cast<double>(shape[0]) / static_cast<double>(shape[1])));
    for (size_t k = 0; k < live.size(); ++k) {
      auto& p = slots_[live[k]].param;
      if (params_.weight_decay > 0) p.mul_(1.0 - lr * params_.weight_decay);
      p.add_(orthogonal[static_cast<int64_t>(k)].to(p.scalar_type()), -lr * scale);
    }
  }
}

std::map<std::string, at::Tensor> Muon::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& s : slots_) out["muon_momentum/" + s.name] = s.momentum;
  return out;
}

void Muon::load_state(const std::map<std::string, at::Tensor>& state, const std::string& origin) {
  at::NoGradGuard no_grad;
  for (auto& s : slots_) {
    const std::string key = "muon_momentum/" + s.name;
    auto it = state.find(key);
    if (it == state.end())
      throw MuseError(origin + ": optimizer state \"" + key +
                      "\" missing (was this checkpoint trained with --optimizer adamw?)");
    if (it->second.sizes() != s.momentum.sizes())
      throw MuseError(origin + ": optimizer state \"" + key + "\" has the wrong shape for this model");
    s.momentum.copy_(it->second);
  }
}

}  // namespace muse
