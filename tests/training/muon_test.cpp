// Muon: Newton–Schulz orthogonalisation, the first update in closed form, which parameters it takes, and its
// state round-tripping through the combined optimizer.
#include <gtest/gtest.h>

#include "model/transformer.h"
#include "training/muon.h"
#include "training/optimizer.h"
#include "util/error.h"

using namespace muse;

namespace {
ModelConfig one_layer() {
  ModelConfig c = preset_config("tiny");
  c.n_layers = 1;
  return c;
}
}  // namespace

TEST(Muon, OrthogonalizeBringsSingularValuesNearOne) {
  torch::manual_seed(3);
  for (const auto& shape : {std::vector<int64_t>{3, 48, 16}, std::vector<int64_t>{2, 16, 48},
                            std::vector<int64_t>{1, 32, 32}}) {
    // Badly conditioned input: singular values spread over two orders of magnitude.
    auto G = torch::randn(shape);
    const auto [U, S, Vh] = at::linalg_svd(G, /*full_matrices=*/false);
    const auto spread = torch::logspace(0, -2, S.size(1)).expand_as(S);
    G = torch::matmul(U * spread.unsqueeze(1), Vh);
    const auto X = orthogonalize(G, 5);
    ASSERT_EQ(X.sizes(), G.sizes());
    const auto s = at::linalg_svdvals(X);
    EXPECT_GT(s.min().item<double>(), 0.5) << "shape " << shape[1] << "x" << shape[2];
    EXPECT_LT(s.max().item<double>(), 1.3) << "shape " << shape[1] << "x" << shape[2];
    // Same singular vectors as the input: X is close to U V^T.
    const auto exact = torch::matmul(U, Vh);
    const double cosine = (X * exact).sum().item<double>() / (X.norm().item<double>() * exact.norm().item<double>());
    EXPECT_GT(cosine, 0.95);
  }
}

TEST(Muon, FirstStepIsTheScaledOrthogonalNesterovUpdate) {
  torch::manual_seed(5);
  auto w = torch::randn({24, 8}).requires_grad_(true);  // tall: scaled by sqrt(24/8)
  const auto w0 = w.detach().clone();
  w.mutable_grad() = torch::randn({24, 8});
  MuonParams p;
  Muon muon({{"layers.0.w_up.weight", w}}, p);
  muon.step(0.1);
  // First step: buffer = g, Nesterov update = g + momentum * g.
  const auto update = orthogonalize((w.grad() * (1 + p.momentum)).unsqueeze(0), p.ns_steps)[0];
  EXPECT_TRUE(torch::allclose(w.detach(), w0 - 0.1 * std::sqrt(3.0) * update, 1e-5, 1e-6));
}

TEST(Muon, TakesTheHiddenMatricesAndAdamWTheRest) {
  const ModelConfig c = one_layer();
  Transformer model(c);
  std::vector<std::string> muon, adamw;
  for (const auto& item : model->named_parameters())
    (takes_muon(item.key(), item.value()) ? muon : adamw).push_back(item.key());
  EXPECT_EQ(muon.size(), 7u);  // wq wk wv wo w_gate w_up w_down
  for (const auto& name : adamw)
    EXPECT_TRUE(name.find("norm") != std::string::npos || name.rfind("embed.", 0) == 0 ||
                name.rfind("lm_head.", 0) == 0 || name.rfind("patch_proj.", 0) == 0)
        << name;
}

TEST(Muon, StateRoundTripContinuesIdentically) {
  const ModelConfig c = one_layer();
  torch::manual_seed(1);
  Transformer a(c), b(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : a->named_parameters()) item.value().normal_(0, 0.1);
    for (auto& item : b->named_parameters()) item.value().copy_(a->named_parameters()[item.key()]);
  }
  OptimizerParams params;
  params.kind = OptimizerKind::Muon;
  Optimizer opt_a(*a, params), opt_b(*b, params);
  auto train = [](Transformer& m, Optimizer& opt) {
    const auto tokens = torch::arange(8, torch::kLong).view({1, 8});
    const auto logits = m->forward({tokens, text_positions(0, 8, torch::kCPU)});
    logits.pow(2).mean().backward();
    opt.step(1e-3, 0.02);
    opt.zero_grad();
  };
  train(a, opt_a);
  train(b, opt_b);
  const auto state = opt_a.state();
  EXPECT_TRUE(state.count("muon_momentum/layers.0.wq.weight"));
  EXPECT_TRUE(state.count("exp_avg/embed.weight"));
  EXPECT_FALSE(state.count("exp_avg/layers.0.wq.weight"));
  Optimizer opt_c(*b, params);  // a fresh optimizer restored from a's state continues like a's
  opt_c.load_state(state, "test");
  train(a, opt_a);
  train(b, opt_c);
  for (const auto& item : a->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), b->named_parameters()[item.key()])) << item.key();
}

TEST(Muon, AdamWStateIsNotAMuonCheckpoint) {
  const ModelConfig c = one_layer();
  Transformer model(c);
  OptimizerParams adamw_params;
  adamw_params.kind = OptimizerKind::AdamW;
  Optimizer adamw(*model, adamw_params);
  OptimizerParams muon_params;
  muon_params.kind = OptimizerKind::Muon;
  Optimizer muon(*model, muon_params);
  try {
    muon.load_state(adamw.state(), "ckpt/optimizer.safetensors");
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("muon_momentum/"), std::string::npos) << e.what();
  }
}

TEST(Muon, BadParametersAreNamed) {
  const ModelConfig c = one_layer();
  Transformer model(c);
  OptimizerParams p;
  p.kind = OptimizerKind::Muon;
  p.muon.momentum = 1.0;
  EXPECT_THROW(Optimizer(*model, p), MuseError);
  p.muon.momentum = 0.95;
  p.muon_lr = 0;
  EXPECT_THROW(Optimizer(*model, p), MuseError);
  EXPECT_THROW(parse_optimizer_kind("sgd"), MuseError);
}
