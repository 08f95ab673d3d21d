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

// Mean cross-entropy of [N, V] logits against [N] targets, ignoring targets < 0. On CPU float32 one fused pass
// forward and one backward (model/fused_ops.h's switch turns it off); elsewhere ATen's cross_entropy, which is
// also cross_entropy_reference (the tests' oracle).
at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& targets);
at::Tensor cross_entropy_reference(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace muse
