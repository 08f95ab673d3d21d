// Turning one row of logits into a token: greedy, or temperature + top-k + top-p sampling with its own seeded
// RNG so a request with a seed is reproducible.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/rng.h"

namespace muse {

struct SamplingParams {
  double temperature = 0.0;  // 0 = greedy (argmax)
  int top_k = 0;             // 0 = off
  double top_p = 1.0;        // 1 = off (nucleus sampling keeps the smallest set with mass >= top_p)
  double min_p = 0.0;        // 0 = off; else keeps tokens whose probability is >= min_p x the top token's
  uint64_t seed = 0;
  int max_tokens = 256;
  std::vector<int> stop_tokens;  // generation ends after emitting one of these

  // Thinking budget (Standard mode). Generation starts inside the thinking span (the prompt ends with
  // <|think|>); `think_end_token` is <|/think|>'s id, -1 when the budget does not apply.
  int think_end_token = -1;
  int max_thinking_tokens = -1;  // -1 = no limit; at the limit <|/think|> is forced and the answer follows
  int min_thinking_tokens = 0;   // <|/think|> and stop tokens are suppressed until this many thinking tokens

  void validate() const;  // MuseError naming the field
};

// reasoning_effort -> max_thinking_tokens: "low" 32, "medium" 128, "high" -1 (unlimited). MuseError otherwise.
int thinking_budget_for_effort(const std::string& effort);

// Picks a token from `logits` (length = vocab). Deterministic given the rng state.
int sample_token(const float* logits, int vocab, const SamplingParams& params, Rng& rng);

}  // namespace muse
