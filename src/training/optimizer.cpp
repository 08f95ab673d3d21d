#include "training/optimizer.h"

#include <utility>
#include <vector>

#include "util/error.h"

namespace muse {

const char* optimizer_kind_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::AdamW: return "adamw";
    case OptimizerKind::Muon: return "muon";
  }
  return "?";
}

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "adamw") return OptimizerKind::AdamW;
  if (name == "muon") return OptimizerKind::Muon;
  throw MuseError("unknown optimizer '" + name + "' (known: muon, adamw)", ErrorKind::InvalidRequest);
}

void OptimizerParams::validate() const {
  if (!(muon_lr > 0)) throw MuseError("muon_lr must be > 0, got " + std::to_string(muon_lr));
  muon.validate();
  if (adamw.weight_decay < 0) throw MuseError("weight decay must be >= 0, got " + std::to_string(adamw.weight_decay));
}

bool takes_muon(const std::string& name, const torch::Tensor& param) {
  return param.dim() == 2 && name.rfind("layers.", 0) == 0;
}

namespace {
using Named = std::vector<std::pair<std::string, torch::Tensor>>;

Named select(const torch::nn::Module& module, bool muon_kind, bool want_muon) {
  Named out;
  for (const auto& item : module.named_parameters()) {
    const bool muon = muon_kind && takes_muon(item.key(), item.value());
    if (muon == want_muon) out.emplace_back(item.key(), item.value());
  }
  return out;
}
}  // namespace

Optimizer::Optimizer(const torch::nn::Module& module, const OptimizerParams& params)
    : module_(module),
      params_(params),
      adamw_(select(module, params.kind == OptimizerKind::Muon, false), params.adamw) {
  params_.validate();
  if (params_.kind == OptimizerKind::Muon)
    muon_ = std::make_unique<Muon>(select(module, true, true), params_.muon);
}

void Optimizer::step(double adamw_lr, double muon_lr) {
  adamw_.step(adamw_lr);
  if (muon_) muon_->step(muon_lr);
}

void Optimizer::zero_grad() {
  for (auto& p : module_.parameters()) {
    auto& grad = p.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

std::map<std::string, torch::Tensor> Optimizer::state() const {
  auto out = adamw_.state();
  if (muon_) out.merge(muon_->state());
  return out;
}

void Optimizer::load_state(const std::map<std::string, torch::Tensor>& state, const std::string& origin) {
  adamw_.load_state(state, origin);
  if (muon_) muon_->load_state(state, origin);
}

}  // namespace muse
