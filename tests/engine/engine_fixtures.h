// Shared fixtures of the engine tests: a small random model, small pools, random prompts, greedy requests.
#pragma once
#include <ATen/Parallel.h>

#include <vector>

#include "engine/engine.h"
#include "util/rng.h"

namespace muse::testing {

inline constexpr int kVocab = 50;

inline ModelConfig test_config() {
  ModelConfig c = preset_config("tiny");
  c.vocab_size = kVocab;
  c.n_layers = 2;
  c.max_seq_len = 128;
  return c;
}

inline Transformer random_model(uint64_t seed = 9) {
  at::set_num_threads(1);
  torch::manual_seed(seed);
  Transformer model(test_config());
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
  model->eval();
  return model;
}

// A random model that sees images: 2x2 patches (12 floats each), <|patch|> = 45.
inline Transformer random_image_model(uint64_t seed = 4) {
  at::set_num_threads(1);
  ModelConfig c = test_config();
  c.patch_size = 2;
  c.patch_token_id = 45;
  torch::manual_seed(seed);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
  model->eval();
  return model;
}

inline EngineOptions small_options(int64_t block_size = 4) {
  EngineOptions o;
  o.kv_mem = int64_t{16} << 20;
  o.block_size = block_size;
  o.max_step_tokens = 64;
  return o;
}

inline std::vector<int> random_prompt(Rng& rng, int min_len, int max_len) {
  std::vector<int> p(static_cast<size_t>(rng.uniform_int(min_len, max_len)));
  for (auto& t : p) t = static_cast<int>(rng.uniform_int(0, kVocab - 1));
  return p;
}

inline RequestParams greedy(int max_tokens, std::vector<int> stops = {}) {
  RequestParams p;
  p.sampling.max_tokens = max_tokens;
  p.sampling.stop_tokens = std::move(stops);
  return p;
}

inline SequenceResult run_alone(Transformer model, const std::vector<int>& prompt, const RequestParams& params,
                         EngineOptions options = small_options()) {
  Engine engine(std::move(model), torch::kCPU, options);
  const SeqId id = engine.add(Prompt::of(prompt), params);
  engine.run_until_idle();
  return engine.take(id).value();
}

// Logits of the last position of `tokens` (text positions), recomputed from scratch without any cache.
inline torch::Tensor recompute(Transformer& model, const std::vector<int>& tokens) {
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(tokens.size());
  ModelInput in;
  in.tokens = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), torch::kInt64).view({1, n});
  in.positions = text_positions(0, n, torch::kCPU);
  return model->forward(in).select(1, n - 1).squeeze(0);
}

inline std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}


}  // namespace muse::testing
