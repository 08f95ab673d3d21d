// AdamW with decay / no-decay groups, written out so its state is plain named tensors: checkpoints store it
// in safetensors and a resumed run continues bit-for-bit.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

namespace muse {

struct AdamWParams {
  double beta1 = 0.9;
  double beta2 = 0.95;          // shorter memory than 0.999: steadier for small-batch transformer training
  double eps = 1e-8;
  double weight_decay = 0.1;    // applied to matrices only (not norms, not the embedding table)
};

class AdamW {
 public:
  // Parameters named "*norm*" or "embed.*" go to the no-decay group.
  AdamW(const torch::nn::Module& module, const AdamWParams& params);
  AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params, const AdamWParams& params);
  void step(double lr);
  void zero_grad();
  int64_t steps_taken() const { return step_; }
  // State as named tensors ("exp_avg/NAME", "exp_avg_sq/NAME", "step") for checkpoints.
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& state, const std::string& origin);

 private:
  struct Slot {
    std::string name;
    torch::Tensor param, exp_avg, exp_avg_sq;
    bool decay;
  };
  std::vector<Slot> slots_;
  AdamWParams params_;
  int64_t step_ = 0;
};

// Scales gradients so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const torch::nn::Module& module, double max_norm);

}  // namespace muse
