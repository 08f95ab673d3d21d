// The language-model loss: cross-entropy over the target positions only.
#include "training/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include <torch/autograd.h>

using namespace muse;

TEST(Loss, IgnoresMaskedPositions) {
  torch::manual_seed(3);
  auto logits = torch::randn({1, 4, 6});
  auto targets = torch::tensor({2, -1, 5, -1}, torch::kInt64).view({1, 4});
  const double expected =
      (-torch::log_softmax(logits[0][0], -1)[2].item<double>() - torch::log_softmax(logits[0][2], -1)[5].item<double>()) / 2;
  EXPECT_NEAR(language_model_loss(logits, targets, 0.0).cross_entropy.item<double>(), expected, 1e-6);
}

TEST(Loss, AMicroBatchWithoutTargetsIsZeroNotNaN) {
  auto logits = torch::randn({2, 3, 6}, torch::requires_grad());
  auto targets = torch::full({2, 3}, -1, torch::kInt64);
  const auto parts = language_model_loss(logits, targets, 1e-4);
  EXPECT_EQ(parts.cross_entropy.item<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(parts.total.item<double>()));
  parts.total.backward();
  EXPECT_EQ(logits.grad().abs().sum().item<double>(), 0.0);
}

// The fused CPU cross-entropy against ATen's: value and gradient, with ignored targets, large logits included.
TEST(Loss, FusedCrossEntropyMatchesATen) {
  torch::manual_seed(4);
  auto logits = (torch::randn({37, 50}) * 8).requires_grad_(true);
  auto targets = torch::randint(0, 50, {37}, torch::kInt64);
  targets.narrow(0, 5, 6).fill_(-1);
  const auto fused = cross_entropy(logits, targets), reference = cross_entropy_reference(logits, targets);
  EXPECT_NEAR(fused.item<double>(), reference.item<double>(), 1e-5);
  const auto gf = torch::autograd::grad({fused * 3.0}, {logits})[0];
  const auto gr = torch::autograd::grad({reference * 3.0}, {logits})[0];
  EXPECT_TRUE(torch::allclose(gf, gr, 1e-4, 1e-6));
  EXPECT_EQ(gf.narrow(0, 5, 6).abs().sum().item<double>(), 0.0);
}
