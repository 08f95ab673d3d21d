// Turning one row of logits into a token: greedy, or temperature + top-k + top-p sampling with its own seeded
// RNG so a request with a seed is reproducible.
#pragma once
#include <cstdint>
#include <vector>

#include "util/rng.h"

namespace muse {

struct SamplingParams {
  double temperature = 0.0;  // 0 = greedy (argmax)
  int top_k = 0;             // 0 = off
  double top_p = 1.0;        // 1 = off (nucleus sampling keeps the smallest set with mass >= top_p)
  uint64_t seed = 0;
  int max_tokens = 256;
  std::vector<int> stop_tokens;  // generation ends after emitting one of these

  void validate() const;  // MuseError naming the field
};

// Picks a token from `logits` (length = vocab). Deterministic given the rng state.
int sample_token(const float* logits, int vocab, const SamplingParams& params, Rng& rng);

}  // namespace muse
