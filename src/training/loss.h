// Next-token cross-entropy over the positions whose target is >= 0, plus optional z-loss (Chameleon / PaLM):
// z * mean(logsumexp(logits)^2) keeps the softmax normaliser from drifting.
#pragma once
#include <ATen/ATen.h>

namespace muse {

struct LossParts {
  at::Tensor total;   // what backward() runs on
  at::Tensor cross_entropy;
};

LossParts language_model_loss(const at::Tensor& logits, const at::Tensor& targets, double z_loss);

}  // namespace muse
