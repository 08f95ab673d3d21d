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
  if (!(min_p >= 0.0 && min_p <= 1.0)) throw MuseError("min_p must be in [0, 1], got " + std::to_string(min_p));
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

  // Candidates by logit, descending, truncated by top-k. Only as long a prefix as the nucleus and the draw
  // need is ever sorted: a peaked distribution sorts a few dozen tokens, not the whole vocabulary.
  struct Candidate {
    float logit;
    int id;
    double prob;  // unnormalised: exp((logit - max) / temperature)
  };
  const auto descending = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit; };
  std::vector<Candidate> c(static_cast<size_t>(vocab));
  for (int i = 0; i < vocab; ++i) c[static_cast<size_t>(i)] = {logits[i], i, 0.0};
  const size_t k = params.top_k > 0 ? std::min<size_t>(static_cast<size_t>(params.top_k), c.size()) : c.size();
  if (k < c.size()) {
    std::nth_element(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), descending);
    c.resize(k);
  }
  const double max_logit =
      std::max_element(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; })
          ->logit;
  double total = 0.0;
  size_t positive = 0, above_min_p = 0;
  for (auto& x : c) {
    x.prob = std::exp((x.logit - max_logit) / params.temperature);
    total += x.prob;
    positive += x.prob > 0.0;
    above_min_p += x.prob >= params.min_p;  // the top token's prob is exp(0) = 1
  }
  size_t sorted = 0;
  const auto sort_prefix = [&](size_t n) {  // c[0, n) in descending order
    if (n <= sorted) return;
    n = std::min(c.size(), std::max(n, 2 * sorted + 64));
    if (n < c.size())
      std::nth_element(c.begin() + static_cast<std::ptrdiff_t>(sorted), c.begin() + static_cast<std::ptrdiff_t>(n),
                       c.end(), descending);
    std::sort(c.begin() + static_cast<std::ptrdiff_t>(sorted), c.begin() + static_cast<std::ptrdiff_t>(n), descending);
    sorted = n;
  };

  // Nucleus: keep the shortest prefix whose mass reaches top_p.
  size_t keep = c.size();
  if (params.top_p < 1.0) {
    double mass = 0.0;
    for (size_t i = 0; i < c.size(); ++i) {
      sort_prefix(i + 1);
      mass += c[i].prob / total;
      if (mass >= params.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  // Min-p: drop the tail below min_p x the top probability. Masked (-inf) logits are never kept either (so
  // never the rounding fallback below).
  if (params.min_p > 0.0) keep = std::min(keep, std::max<size_t>(1, above_min_p));
  keep = std::min(keep, std::max<size_t>(1, positive));
  double kept_total = total;
  if (keep < c.size()) {
    sort_prefix(keep);
    kept_total = 0.0;
    for (size_t i = 0; i < keep; ++i) kept_total += c[i].prob;
  }
  double r = rng.uniform() * kept_total;
  for (size_t i = 0; i < keep; ++i) {
    sort_prefix(i + 1);
    r -= c[i].prob;
    if (r < 0) return c[i].id;
  }
  sort_prefix(keep);
  return c[keep - 1].id;
}

}  // namespace muse
