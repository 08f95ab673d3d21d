#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "util/error.h"

namespace muse {

void SamplingParams::validate() const {
  if (!(temperature >= 0.0) || temperature > 100.0)
    throw MuseError("temperature must be in [0, 100], got " + std::to_string(temperature));
  if (top_k < 0) throw MuseError("top_k must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0.0 && top_p <= 1.0)) throw MuseError("top_p must be in (0, 1], got " + std::to_string(top_p));
  if (max_tokens < 0) throw MuseError("max_tokens must be >= 0, got " + std::to_string(max_tokens));
  if (max_thinking_tokens < -1)
    throw MuseError("max_thinking_tokens must be >= 0 (or -1 for no limit), got " + std::to_string(max_thinking_tokens));
  if (min_thinking_tokens < 0)
    throw MuseError("min_thinking_tokens must be >= 0, got " + std::to_string(min_thinking_tokens));
  if (max_thinking_tokens >= 0 && min_thinking_tokens > max_thinking_tokens)
    throw MuseError("min_thinking_tokens (" + std::to_string(min_thinking_tokens) + ") exceeds max_thinking_tokens (" +
                    std::to_string(max_thinking_tokens) + ")");
}

int thinking_budget_for_effort(const std::string& effort) {
  if (effort == "low") return 32;
  if (effort == "medium") return 128;
  if (effort == "high") return -1;
  throw MuseError("reasoning_effort must be low, medium or high, got '" + effort + "'");
}

int sample_token(const float* logits, int vocab, const SamplingParams& params, Rng& rng) {
  if (params.temperature == 0.0) return static_cast<int>(std::max_element(logits, logits + vocab) - logits);

  // Candidates sorted by logit (descending), truncated by top-k.
  std::vector<int> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  const int k = params.top_k > 0 ? std::min(params.top_k, vocab) : vocab;
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return logits[a] > logits[b]; });
  order.resize(static_cast<size_t>(k));

  std::vector<double> probs(order.size());
  const double max_logit = logits[order[0]];
  double total = 0.0;
  for (size_t i = 0; i < order.size(); ++i) {
    probs[i] = std::exp((logits[order[i]] - max_logit) / params.temperature);
    total += probs[i];
  }
  // Nucleus: keep the shortest prefix whose mass reaches top_p.
  size_t keep = order.size();
  if (params.top_p < 1.0) {
    double mass = 0.0;
    for (size_t i = 0; i < order.size(); ++i) {
      mass += probs[i] / total;
      if (mass >= params.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept_total = 0.0;
  for (size_t i = 0; i < keep; ++i) kept_total += probs[i];
  double r = rng.uniform() * kept_total;
  for (size_t i = 0; i < keep; ++i) {
    r -= probs[i];
    if (r < 0) return order[i];
  }
  return order[keep - 1];
}

}  // namespace muse
