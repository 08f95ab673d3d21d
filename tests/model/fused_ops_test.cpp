// The fused CPU RMSNorm and SwiGLU against the composite ATen expressions: values and gradients of every input.
#include <gtest/gtest.h>

#include <torch/autograd.h>

#include "model/fused_ops.h"

using namespace muse;

namespace {

// Gradients of sum(out * probe) with respect to each input.
std::vector<torch::Tensor> grads_of(const torch::Tensor& out, const torch::Tensor& probe,
                                    const std::vector<torch::Tensor>& inputs) {
  return torch::autograd::grad({(out * probe).sum()}, inputs);
}

}  // namespace

TEST(FusedOps, RmsNormMatchesTheCompositeExpression) {
  torch::manual_seed(7);
  for (const auto& shape : {std::vector<int64_t>{3, 5, 64}, std::vector<int64_t>{2, 7, 4, 32}}) {
    const auto x = (torch::randn(shape) * 3).requires_grad_(true);
    const auto w = torch::randn({shape.back()}).requires_grad_(true);
    const auto probe = torch::randn(shape);
    const auto fused = rms_norm(x, w, 1e-5), reference = rms_norm_reference(x, w, 1e-5);
    EXPECT_TRUE(torch::allclose(fused, reference, 1e-5, 1e-5));
    const auto gf = grads_of(fused, probe, {x, w}), gr = grads_of(reference, probe, {x, w});
    EXPECT_TRUE(torch::allclose(gf[0], gr[0], 1e-4, 1e-5)) << "dx";
    EXPECT_TRUE(torch::allclose(gf[1], gr[1], 1e-4, 1e-4)) << "dweight";
  }
}

TEST(FusedOps, RmsNormOfANonContiguousInput) {
  torch::manual_seed(8);
  const auto base = torch::randn({4, 16, 6}).requires_grad_(true);
  const auto x = base.transpose(1, 2);  // [4, 6, 16], not contiguous
  const auto w = torch::randn({16}).requires_grad_(true);
  EXPECT_TRUE(torch::allclose(rms_norm(x, w, 1e-6), rms_norm_reference(x, w, 1e-6), 1e-5, 1e-5));
  const auto probe = torch::randn({4, 6, 16});
  const auto gf = grads_of(rms_norm(x, w, 1e-6), probe, {base}), gr = grads_of(rms_norm_reference(x, w, 1e-6), probe, {base});
  EXPECT_TRUE(torch::allclose(gf[0], gr[0], 1e-4, 1e-5));
}

TEST(FusedOps, SwigluMatchesTheCompositeExpression) {
  torch::manual_seed(9);
  const auto gate = (torch::randn({5, 9, 48}) * 4).requires_grad_(true);
  const auto up = torch::randn({5, 9, 48}).requires_grad_(true);
  const auto probe = torch::randn({5, 9, 48});
  const auto fused = swiglu(gate, up), reference = swiglu_reference(gate, up);
  EXPECT_TRUE(torch::allclose(fused, reference, 1e-5, 1e-6));
  const auto gf = grads_of(fused, probe, {gate, up}), gr = grads_of(reference, probe, {gate, up});
  EXPECT_TRUE(torch::allclose(gf[0], gr[0], 1e-4, 1e-5)) << "dgate";
  EXPECT_TRUE(torch::allclose(gf[1], gr[1], 1e-5, 1e-6)) << "dup";
}

TEST(FusedOps, OtherDtypesTakeTheCompositePath) {
  const auto x = torch::randn({2, 8}, torch::kFloat64);
  const auto w = torch::ones({8}, torch::kFloat64);
  EXPECT_EQ(rms_norm(x, w, 1e-5).scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::allclose(rms_norm(x, w, 1e-5), rms_norm_reference(x, w, 1e-5)));
  EXPECT_EQ(swiglu(x, x).scalar_type(), torch::kFloat64);
}

#include "model/transformer.h"

// Packed rows with document ids: per-document attention (the fast path) against one masked dense attention
// (fused ops off), for logits and every parameter's gradient, with and without grouped-query attention.
TEST(FusedOps, PerDocumentAttentionMatchesTheMaskedDenseOne) {
  for (const int64_t kv_heads : {4, 2}) {
    ModelConfig c = preset_config("tiny");
    c.n_layers = 2;
    c.n_kv_heads = kv_heads;
    c.patch_size = 0;
    c.max_seq_len = 128;
    torch::manual_seed(11);
    Transformer model(c);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.normal_(0, 0.2);
    }
    const int64_t B = 3, T = 100;
    const auto tokens = torch::randint(0, c.vocab_size, {B, T}, torch::kLong);
    // Rows with 1, 3 and 5 documents, one of them a single token (9 documents, 33 tokens on average).
    auto doc = torch::zeros({B, T}, torch::kLong);
    doc[1].narrow(0, 40, 30).fill_(1);
    doc[1].narrow(0, 70, 30).fill_(2);
    for (int64_t t = 0; t < T; ++t) doc[2][t] = t < 3 ? 0 : t < 4 ? 1 : t < 40 ? 2 : t < 80 ? 3 : 4;
    auto positions = torch::zeros({B, T, 3}, torch::kLong);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0, start = 0; t < T; ++t) {
        if (t > 0 && doc[b][t].item<int64_t>() != doc[b][t - 1].item<int64_t>()) start = t;
        positions[b][t].fill_(t - start);
      }
    const ModelInput input{tokens, positions, doc};
    EXPECT_EQ(document_spans(doc).size(), 9u);
    ASSERT_EQ(plan_attention(input, nullptr).spans.size(), 9u) << "the fast path must be the one tested";

    auto run = [&](bool fused) {
      set_fused_ops_enabled(fused);
      model->zero_grad();
      const auto logits = model->forward(input);
      logits.pow(2).mean().backward();
      std::vector<torch::Tensor> grads;
      for (auto& p : model->parameters()) grads.push_back(p.grad().clone());
      set_fused_ops_enabled(true);
      return std::make_pair(logits.detach(), grads);
    };
    const auto [fast_logits, fast_grads] = run(true);
    const auto [dense_logits, dense_grads] = run(false);
    EXPECT_TRUE(torch::allclose(fast_logits, dense_logits, 1e-4, 1e-5)) << "kv_heads " << kv_heads;
    for (size_t i = 0; i < fast_grads.size(); ++i)
      EXPECT_TRUE(torch::allclose(fast_grads[i], dense_grads[i], 1e-3, 1e-6)) << "parameter " << i;
  }
}

TEST(FusedOps, RotatePairsMatchesTheComplexMultiply) {
  torch::manual_seed(12);
  const auto x = torch::randn({2, 5, 3, 8}).requires_grad_(true);
  const auto angles = torch::randn({2, 5, 1, 4});
  const auto rotation = torch::polar(torch::full_like(angles, 0.7), angles);  // not unit: a scaled rotation too
  const auto probe = torch::randn({2, 5, 3, 8});
  const auto fused = rotate_pairs(x, rotation), reference = rotate_pairs_reference(x, rotation);
  EXPECT_TRUE(torch::allclose(fused, reference, 1e-5, 1e-6));
  const auto gf = grads_of(fused, probe, {x}), gr = grads_of(reference, probe, {x});
  EXPECT_FALSE(torch::allclose(gf[0], probe));  // the backward really rotates
  // A unit rotation's backward is the inverse rotation; a scaled one is the scaled inverse (conjugate multiply).
  EXPECT_TRUE(torch::allclose(gf[0], gr[0], 1e-5, 1e-6));
}
