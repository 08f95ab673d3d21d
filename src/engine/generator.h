// KV-cached incremental decoding of one model: prefill the prompt once, then one token per step.
// Batched greedy decoding of equal-length prompts serves evaluation. (The full engine with forks, continuous
// batching and per-sequence control is its own capability; this is the simple, tested core it builds on.)
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "model/transformer.h"
#include "tokenizer/chat_format.h"

namespace muse {

struct GenerationResult {
  std::vector<int> tokens;           // generated tokens (including the stop token, if one was hit)
  std::vector<bool> forced;          // per token: inserted by the thinking budget rather than sampled
  int thinking_tokens = 0;           // tokens generated inside the thinking span (before <|/think|>)
  std::string finish_reason;         // "stop" | "length" | "cancelled" | "context"
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;
};

// The thinking budget of batched greedy decoding: the same rules as SamplingParams' think_end_token /
// max_thinking_tokens / min_thinking_tokens in Generator::generate (generation starts inside <|think|>; at
// max_thinking_tokens the end-of-thinking token is forced and marked as forced; below min_thinking_tokens it and
// the stop tokens are suppressed). think_end_token = -1: no budget.
struct ThinkingBudget {
  int think_end_token = -1;
  int max_thinking_tokens = -1;  // -1 = no limit; 0 = the thinking span is closed at once
  int min_thinking_tokens = 0;
  void validate() const;         // MuseError naming the field
};

// Called with each generated token; return false to stop early.
using TokenCallback = std::function<bool(int token)>;

class Generator {
 public:
  Generator(Transformer model, torch::Device device);
  const ModelConfig& model_config() const { return model_->config(); }
  GenerationResult generate(const TokenSequence& prompt, const SamplingParams& params,
                            const TokenCallback& on_token = {});
  // Greedy decoding of many prompts, batched by equal prompt length. Results in input order. Each row gives
  // exactly what generate() gives with temperature 0 and the same max_tokens, stop tokens and thinking budget.
  std::vector<GenerationResult> generate_greedy_batch(const std::vector<TokenSequence>& prompts, int max_tokens,
                                                      const std::vector<int>& stop_tokens, int max_batch = 64);
  std::vector<GenerationResult> generate_greedy_batch(const std::vector<TokenSequence>& prompts, int max_tokens,
                                                      const std::vector<int>& stop_tokens,
                                                      const ThinkingBudget& budget, int max_batch = 64);

 private:
  torch::Tensor positions_tensor(const std::vector<const TokenSequence*>& rows) const;
  torch::Tensor patches_tensor(const std::vector<const TokenSequence*>& rows) const;  // undefined if none
  Transformer model_;
  torch::Device device_;
};

}  // namespace muse
