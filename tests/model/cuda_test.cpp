// The same model code on a GPU: runs only where libtorch has CUDA and a device is visible (skipped elsewhere,
// which is every CI machine). Checks that nothing assumes the CPU: logits, training steps, cached decoding and
// image patches agree with the CPU run of the same weights.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "model/transformer.h"
#include "training/adamw.h"
#include "training/loss.h"

using namespace muse;

namespace {

ModelConfig gpu_test_config() {
  ModelConfig c = preset_config("tiny");
  c.vocab_size = 101;
  c.n_layers = 2;
  c.n_kv_heads = 2;
  c.qk_norm = true;
  c.max_seq_len = 64;
  c.patch_size = 2;
  c.patch_token_id = 7;
  return c;
}

Transformer random_model(const ModelConfig& c) {
  torch::manual_seed(4);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  return model;
}

}  // namespace

TEST(Cuda, ForwardTrainingAndCachedDecodingMatchTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto config = gpu_test_config();
  const torch::Device gpu("cuda");
  auto cpu_model = random_model(config);
  auto gpu_model = random_model(config);
  gpu_model->to(gpu);

  torch::manual_seed(9);
  auto tokens = torch::randint(8, config.vocab_size, {2, 16}, torch::kInt64);
  tokens.index_put_({0, 3}, 7);
  tokens.index_put_({1, 5}, 7);
  const auto positions = text_positions(0, 16, torch::kCPU).expand({2, 16, 3}).contiguous();
  const auto patches = torch::rand({2, config.patch_dim()});
  {
    torch::NoGradGuard no_grad;
    cpu_model->eval();
    gpu_model->eval();
    const auto a = cpu_model->forward({tokens, positions, {}, patches});
    const auto b = gpu_model->forward({tokens.to(gpu), positions.to(gpu), {}, patches.to(gpu)}).cpu();
    EXPECT_LT((a - b).abs().max().item<double>(), 2e-3);  // TF32/cuBLAS vs OpenBLAS rounding

    // Cached decoding on the GPU equals its own full recomputation.
    auto cache = KVCache::allocate(config, 2, 16, gpu);
    const auto prefix = gpu_model->forward({tokens.slice(1, 0, 12).to(gpu), positions.slice(1, 0, 12).to(gpu), {},
                                            patches.to(gpu)},
                                           &cache);
    auto step = prefix;
    for (int64_t t = 12; t < 16; ++t)
      step = gpu_model->forward({tokens.slice(1, t, t + 1).to(gpu), positions.slice(1, t, t + 1).to(gpu)}, &cache);
    const auto full = gpu_model->forward({tokens.to(gpu), positions.to(gpu), {}, patches.to(gpu)});
    EXPECT_LT((step.select(1, 0) - full.select(1, 15)).abs().max().item<double>(), 1e-3);
  }

  // A few optimizer steps on the GPU lower the loss, like on the CPU.
  gpu_model->train();
  AdamW optimizer(*gpu_model, AdamWParams{});
  const auto targets = torch::randint(0, config.vocab_size, {2, 16}, torch::kInt64).to(gpu);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) {
    const auto logits = gpu_model->forward({tokens.to(gpu), positions.to(gpu), {}, patches.to(gpu)});
    const auto loss = language_model_loss(logits, targets, 1e-4);
    loss.total.backward();
    optimizer.step(3e-3);
    optimizer.zero_grad();
    (i == 0 ? first : last) = loss.cross_entropy.item<double>();
  }
  EXPECT_LT(last, first);
}
