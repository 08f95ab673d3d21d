// The test oracle: the simplest KV-cached decode loop (one sequence, a contiguous cache, the whole prompt in one
// forward, then one token per forward). It applies the same DecodeRules as the engine, so comparing the two
// checks everything the engine adds: paging, chunked prefill, batching, forks, scheduling, the fused CPU path.
#pragma once
#include <vector>

#include "engine/decode_rules.h"
#include "model/transformer.h"
#include "tokenizer/chat_format.h"
#include "util/error.h"

namespace muse::testing {

struct ReferenceResult {
  std::vector<int> tokens;
  std::vector<bool> forced;
  int thinking_tokens = 0;
  FinishReason finish_reason = FinishReason::None;
};

inline ReferenceResult reference_decode(Transformer& model, const TokenSequence& prompt, const RequestParams& params) {
  const auto& config = model->config();
  params.validate(config.vocab_size);
  const int64_t n = static_cast<int64_t>(prompt.size());
  if (n == 0 || n >= config.max_seq_len) throw MuseError("reference_decode: prompt length out of range");
  torch::NoGradGuard no_grad;
  model->eval();
  DecodeRules rules(params, config.vocab_size, config.max_seq_len);
  Rng rng(params.sampling.seed);
  auto cache = KVCache::allocate(config, 1, config.max_seq_len, torch::kCPU);
  auto positions = torch::empty({1, n, 3}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 3; ++a) positions[0][i][a] = prompt.positions[static_cast<size_t>(i)][static_cast<size_t>(a)];
  torch::Tensor patches;
  if (prompt.patch_count() > 0)
    patches = torch::tensor(prompt.patches, torch::kFloat32).view({static_cast<int64_t>(prompt.patch_count()), -1});
  auto tokens = torch::tensor(std::vector<int64_t>(prompt.tokens.begin(), prompt.tokens.end())).view({1, n});
  auto logits = model->forward({tokens, positions, {}, patches}, &cache).select(1, n - 1).contiguous();
  ReferenceResult r;
  int32_t t = prompt.next_t();
  for (int64_t length = n;;) {
    const auto choice = rules.choose(logits.data_ptr<float>(), rng);
    r.tokens.push_back(choice.token);
    r.forced.push_back(choice.forced);
    const auto verdict = rules.append(choice.token, choice.forced, true, ++length);
    r.thinking_tokens = rules.thinking_tokens();
    if (verdict.finish != FinishReason::None) {
      r.finish_reason = verdict.finish;
      return r;
    }
    auto next = torch::full({1, 1}, static_cast<int64_t>(choice.token), torch::kInt64);
    logits = model->forward({next, text_positions(t++, 1, torch::kCPU)}, &cache).select(1, 0).contiguous();
  }
}

}  // namespace muse::testing
