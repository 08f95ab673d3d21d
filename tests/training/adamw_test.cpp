// AdamW: one step against the closed-form update; decay only on matrices; state round-trips.
#include <gtest/gtest.h>

#include <cmath>

#include "model/transformer.h"
#include "training/adamw.h"
#include "util/error.h"

using namespace muse;

namespace {

struct TwoParams : torch::nn::Module {
  TwoParams() {
    weight = register_parameter("proj_weight", torch::tensor({{1.0f, -2.0f}, {0.5f, 3.0f}}));
    norm = register_parameter("attn_norm_weight", torch::tensor({1.0f, 1.0f}));
  }
  torch::Tensor weight, norm;
};

}  // namespace

TEST(AdamW, FirstStepMatchesClosedForm) {
  TwoParams m;
  AdamWParams p;
  p.weight_decay = 0.1;
  AdamW opt(m, p);
  const auto w0 = m.weight.detach().clone(), n0 = m.norm.detach().clone();
  m.weight.mutable_grad() = torch::tensor({{0.1f, -0.2f}, {0.3f, 0.0f}});
  m.norm.mutable_grad() = torch::tensor({0.5f, -0.5f});
  const double lr = 0.01;
  opt.step(lr);
  // Step 1: m = (1-b1) g, v = (1-b2) g^2, bias-corrected m/v = g, g^2, so the update is lr * g / (|g| + eps).
  auto expected = [&](const torch::Tensor& w, const torch::Tensor& g, bool decay) {
    auto out = w * (decay ? 1.0 - lr * p.weight_decay : 1.0);
    return out - lr * g / (g.abs() + p.eps);
  };
  EXPECT_TRUE(torch::allclose(m.weight, expected(w0, m.weight.grad(), true), 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(m.norm, expected(n0, m.norm.grad(), false), 1e-6, 1e-7));
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  TwoParams a, b;
  AdamW opt_a(a, {}), opt_b(b, {});
  for (int i = 0; i < 3; ++i) {
    a.weight.mutable_grad() = torch::full({2, 2}, 0.1f * (i + 1));
    a.norm.mutable_grad() = torch::full({2}, -0.2f);
    opt_a.step(0.01);
  }
  {
    torch::NoGradGuard no_grad;
    b.weight.copy_(a.weight);
    b.norm.copy_(a.norm);
  }
  opt_b.load_state(opt_a.state(), "test");
  EXPECT_EQ(opt_b.steps_taken(), 3);
  for (auto* m : {&a, &b}) {
    m->weight.mutable_grad() = torch::full({2, 2}, 0.7f);
    m->norm.mutable_grad() = torch::full({2}, 0.3f);
  }
  opt_a.step(0.01);
  opt_b.step(0.01);
  EXPECT_TRUE(torch::equal(a.weight, b.weight));
  EXPECT_TRUE(torch::equal(a.norm, b.norm));
}

TEST(AdamW, MissingStateIsAnError) {
  TwoParams m;
  AdamW opt(m, {});
  EXPECT_THROW(opt.load_state({}, "ckpt/optimizer.safetensors"), MuseError);
}

TEST(ClipGradNorm, ScalesToMaxNorm) {
  TwoParams m;
  m.weight.mutable_grad() = torch::full({2, 2}, 3.0f);  // norm 6
  m.norm.mutable_grad() = torch::full({2}, 4.0f);       // norm sqrt(32)
  const double before = clip_grad_norm(m, 1.0);
  EXPECT_NEAR(before, std::sqrt(36.0 + 32.0), 1e-5);
  const double after = std::sqrt(m.weight.grad().pow(2).sum().item<double>() + m.norm.grad().pow(2).sum().item<double>());
  EXPECT_NEAR(after, 1.0, 1e-4);
}
