#include "training/loss.h"

#include <torch/nn/functional/loss.h>

namespace muse {

LossParts language_model_loss(const at::Tensor& logits, const at::Tensor& targets, double z_loss) {
  const auto flat_logits = logits.reshape({-1, logits.size(-1)});
  const auto flat_targets = targets.reshape({-1});
  namespace F = torch::nn::functional;
  LossParts parts;
  // A micro-batch with no target token (every position masked, e.g. short rows of prompt-only text) would be a
  // mean over nothing, NaN, which stops training as "diverged": it contributes zero loss and zero gradient.
  if (!flat_targets.ge(0).any().item<bool>()) {
    parts.cross_entropy = flat_logits.sum() * 0.0;
    parts.total = parts.cross_entropy;
    return parts;
  }
  parts.cross_entropy = F::cross_entropy(flat_logits, flat_targets, F::CrossEntropyFuncOptions().ignore_index(-1));
  parts.total = parts.cross_entropy;
  if (z_loss > 0) {
    const auto valid = flat_targets.ge(0);
    const auto log_z = flat_logits.logsumexp(-1);
    parts.total = parts.total + z_loss * log_z.pow(2).masked_select(valid).mean();
  }
  return parts;
}

}  // namespace muse
