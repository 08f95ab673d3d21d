// The training optimizer: which parameters get which update rule. With Muon (the default's choice, see
// docs/LOG.md), the hidden weight matrices of the layers ("layers.*", 2-D) take Muon and everything else —
// token embeddings, the LM head, norms, the patch projection — takes AdamW, each with its own learning rate
// on one schedule shape. With AdamW alone, every parameter takes AdamW (the recipe before Muon).
#pragma once
#include <map>
#include <memory>
#include <string>

#include <torch/nn/module.h>

#include "training/adamw.h"
#include "training/muon.h"

namespace muse {

enum class OptimizerKind { AdamW, Muon };
const char* optimizer_kind_name(OptimizerKind kind);           // "adamw" | "muon"
OptimizerKind parse_optimizer_kind(const std::string& name);   // MuseError listing the known kinds

struct OptimizerParams {
  OptimizerKind kind = OptimizerKind::Muon;  // learns far more per CPU-minute here (docs/LOG.md)
  AdamWParams adamw;
  MuonParams muon;
  // Muon's peak learning rate. The schedule's warmup and decay apply to it as a multiple of its peak, like AdamW's.
  double muon_lr = 0.02;

  void validate() const;  // MuseError naming the field
};

// True for the parameters Muon takes: 2-D weights inside the transformer's layers.
bool takes_muon(const std::string& name, const torch::Tensor& param);

class Optimizer {
 public:
  Optimizer(const torch::nn::Module& module, const OptimizerParams& params);
  // One update: AdamW's parameters at `adamw_lr`, Muon's at `muon_lr`.
  void step(double adamw_lr, double muon_lr);
  void zero_grad();
  int64_t steps_taken() const { return adamw_.steps_taken(); }
  const OptimizerParams& params() const { return params_; }
  // State as named tensors for checkpoints: AdamW's ("exp_avg/NAME", "exp_avg_sq/NAME", "step") and Muon's
  // ("muon_momentum/NAME").
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& state, const std::string& origin);

 private:
  const torch::nn::Module& module_;
  OptimizerParams params_;
  AdamW adamw_;
  std::unique_ptr<Muon> muon_;  // null with OptimizerKind::AdamW
};

}  // namespace muse
