#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>
#include <string>

#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

SamplingParams sampling(double temperature, int top_k = 0, double top_p = 1.0) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  return p;
}

std::vector<float> random_logits(Rng& rng, int vocab) {
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (auto& l : logits) l = static_cast<float>(rng.uniform() * 8.0 - 4.0);
  return logits;
}

std::vector<int> draws(const std::vector<float>& logits, const SamplingParams& params, uint64_t seed, int n) {
  Rng rng(seed);
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(sample_token(logits.data(), static_cast<int>(logits.size()), params, rng));
  return out;
}

std::vector<int> counts(const std::vector<int>& samples, int vocab) {
  std::vector<int> c(static_cast<size_t>(vocab), 0);
  for (int s : samples) {
    EXPECT_GE(s, 0);
    EXPECT_LT(s, vocab);
    if (s >= 0 && s < vocab) ++c[static_cast<size_t>(s)];
  }
  return c;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p;
  for (float l : logits) p.push_back(std::exp((l - max) / temperature));
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (auto& x : p) x /= total;
  return p;
}

// Pearson's chi-square statistic of observed counts against expected probabilities.
double chi_square(const std::vector<int>& observed, const std::vector<double>& probs) {
  const double n = std::accumulate(observed.begin(), observed.end(), 0.0);
  double chi2 = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double expected = n * probs[i];
    chi2 += (observed[i] - expected) * (observed[i] - expected) / expected;
  }
  return chi2;
}

// log-probabilities 0.5, 0.3, 0.15, 0.05, deliberately out of order in the vocabulary.
const std::vector<float> kKnown = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
constexpr int kP50 = 1, kP30 = 3, kP15 = 0, kP05 = 2;

// The sampler as it was before it walked logit buckets (sorting a growing prefix of the candidates): the new one
// must pick the same token for the same RNG state, up to the rounding of partial sums and the order of exact ties.
int reference_sample_token(const float* logits, int vocab, const SamplingParams& params, Rng& rng) {
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


TEST(Sampler, GreedyIsArgmax) {
  Rng data(1);
  for (int trial = 0; trial < 100; ++trial) {
    const auto logits = random_logits(data, 37);
    const int argmax = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    Rng rng(trial);
    EXPECT_EQ(sample_token(logits.data(), 37, sampling(0.0), rng), argmax);
  }
  // The argmax at the very ends of the vocabulary.
  std::vector<float> logits(10, 0.0f);
  logits[9] = 1.0f;
  Rng rng(0);
  EXPECT_EQ(sample_token(logits.data(), 10, sampling(0.0), rng), 9);
  logits[0] = 2.0f;
  EXPECT_EQ(sample_token(logits.data(), 10, sampling(0.0), rng), 0);
}

TEST(Sampler, GreedyIgnoresTopKAndTopP) {
  // temperature 0 means argmax, whatever the truncation settings.
  Rng rng(0);
  EXPECT_EQ(sample_token(kKnown.data(), 4, sampling(0.0, 3, 0.2), rng), kP50);
}

TEST(Sampler, SameSeedSameSequence) {
  Rng data(2);
  const auto logits = random_logits(data, 50);
  const auto params = sampling(1.0);
  const auto a = draws(logits, params, 42, 200);
  EXPECT_EQ(a, draws(logits, params, 42, 200));
  // A different seed gives a different sequence (200 draws from ~50 plausible tokens never all coincide).
  EXPECT_NE(a, draws(logits, params, 43, 200));
  // And the sequence is not constant: sampling actually samples.
  EXPECT_GT(std::set<int>(a.begin(), a.end()).size(), 5u);
}

TEST(Sampler, TopKOneIsGreedyAtAnyTemperature) {
  Rng data(3);
  for (double temperature : {0.1, 0.7, 1.0, 3.0, 100.0}) {
    for (int trial = 0; trial < 20; ++trial) {
      const auto logits = random_logits(data, 64);
      Rng greedy_rng(0), rng(static_cast<uint64_t>(trial));
      const int greedy = sample_token(logits.data(), 64, sampling(0.0), greedy_rng);
      for (int i = 0; i < 20; ++i)
        EXPECT_EQ(sample_token(logits.data(), 64, sampling(temperature, 1), rng), greedy) << "T=" << temperature;
    }
  }
}

TEST(Sampler, TopKRestrictsSupport) {
  Rng data(4);
  const int vocab = 50, k = 5;
  const auto logits = random_logits(data, vocab);
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  const std::set<int> top(order.begin(), order.begin() + k);

  // A high temperature flattens the distribution, so anything outside the top k would show up.
  const auto samples = draws(logits, sampling(5.0, k), 7, 5000);
  std::set<int> seen;
  for (int s : samples) {
    ASSERT_TRUE(top.count(s)) << "sampled token " << s << " outside the top " << k;
    seen.insert(s);
  }
  EXPECT_EQ(seen, top);  // and every one of the k is reachable

  // Without top-k the same settings do leave the top 5 (so the check above is meaningful).
  const auto free_samples = draws(logits, sampling(5.0), 7, 5000);
  EXPECT_TRUE(std::any_of(free_samples.begin(), free_samples.end(), [&](int s) { return !top.count(s); }));
}

TEST(Sampler, TopKLargerThanVocabIsNoLimit) {
  const auto samples = draws(kKnown, sampling(1.0, 1000), 8, 3000);
  EXPECT_EQ(std::set<int>(samples.begin(), samples.end()).size(), 4u);
}

TEST(Sampler, TopPKeepsSmallestNucleus) {
  // 0.5 + 0.3 = 0.8 >= 0.7: exactly the two most likely tokens survive.
  auto c = counts(draws(kKnown, sampling(1.0, 0, 0.7), 9, 5000), 4);
  EXPECT_EQ(c[kP15], 0);
  EXPECT_EQ(c[kP05], 0);
  // Renormalised within the nucleus: 0.5/0.8 and 0.3/0.8.
  EXPECT_NEAR(c[kP50] / 5000.0, 0.625, 0.03);
  EXPECT_NEAR(c[kP30] / 5000.0, 0.375, 0.03);

  // 0.5 alone reaches 0.4.
  c = counts(draws(kKnown, sampling(1.0, 0, 0.4), 9, 2000), 4);
  EXPECT_EQ(c[kP50], 2000);

  // 0.9 needs the first three.
  c = counts(draws(kKnown, sampling(1.0, 0, 0.9), 9, 5000), 4);
  EXPECT_EQ(c[kP05], 0);
  EXPECT_GT(c[kP15], 0);
  EXPECT_GT(c[kP30], 0);

  // 0.99 keeps all four.
  c = counts(draws(kKnown, sampling(1.0, 0, 0.99), 9, 5000), 4);
  EXPECT_GT(c[kP05], 0);
}

TEST(Sampler, TopPAppliesAfterTopK) {
  // Within the top 2 the probabilities renormalise to 0.625 / 0.375, so top_p 0.6 keeps only the first.
  const auto c = counts(draws(kKnown, sampling(1.0, 2, 0.6), 10, 2000), 4);
  EXPECT_EQ(c[kP50], 2000);
}

TEST(Sampler, FrequenciesMatchSoftmax) {
  const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f};
  const int n = 20000;
  // df = 5: chi-square above 20.5 has probability 0.001 under the right distribution. The seed is fixed,
  // so the test is deterministic; a wrong distribution (e.g. temperature ignored) scores in the hundreds.
  for (double temperature : {1.0, 0.5, 2.0}) {
    const auto c = counts(draws(logits, sampling(temperature), 11, n), 6);
    EXPECT_LT(chi_square(c, softmax(logits, temperature)), 20.5) << "T=" << temperature;
  }
  // The test can tell temperatures apart.
  const auto c = counts(draws(logits, sampling(2.0), 11, n), 6);
  EXPECT_GT(chi_square(c, softmax(logits, 1.0)), 100.0);
}

TEST(Sampler, HugeLogitsDoNotOverflow) {
  // Softmax is shifted by the max logit: 1000 and 999 behave like 1 and 0.
  const std::vector<float> logits = {1000.0f, 999.0f, -1000.0f};
  const auto c = counts(draws(logits, sampling(1.0), 12, 10000), 3);
  EXPECT_EQ(c[2], 0);
  EXPECT_NEAR(c[0] / 10000.0, std::exp(1.0) / (1.0 + std::exp(1.0)), 0.02);
}

TEST(Sampler, MaskedLogitsAreNeverSampled) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {ninf, 0.0f, ninf, 0.0f, ninf};
  const auto c = counts(draws(logits, sampling(1.0), 13, 2000), 5);
  EXPECT_EQ(c[0] + c[2] + c[4], 0);
  EXPECT_GT(c[1], 0);
  EXPECT_GT(c[3], 0);
}

std::string validation_error(const SamplingParams& params) {
  try {
    params.validate();
  } catch (const MuseError& e) {
    return e.what();
  }
  return "";
}

TEST(SamplingParams, ValidateAcceptsSensibleSettings) {
  EXPECT_NO_THROW(SamplingParams{}.validate());
  EXPECT_NO_THROW(sampling(0.0).validate());
  EXPECT_NO_THROW(sampling(1.0, 40, 0.95).validate());
  EXPECT_NO_THROW(sampling(0.7, 0, 1.0).validate());
}

TEST(SamplingParams, ValidateRejectsBadFieldsByName) {
  EXPECT_NE(validation_error(sampling(-0.1)).find("temperature"), std::string::npos);
  EXPECT_NE(validation_error(sampling(std::nan(""))).find("temperature"), std::string::npos);
  EXPECT_NE(validation_error(sampling(1.0, 0, 0.0)).find("top_p"), std::string::npos);
  EXPECT_NE(validation_error(sampling(1.0, 0, -0.5)).find("top_p"), std::string::npos);
  EXPECT_NE(validation_error(sampling(1.0, 0, 1.01)).find("top_p"), std::string::npos);
  EXPECT_NE(validation_error(sampling(1.0, 0, std::nan(""))).find("top_p"), std::string::npos);
  EXPECT_NE(validation_error(sampling(1.0, -1)).find("top_k"), std::string::npos);
  SamplingParams negative_max;
  negative_max.max_tokens = -1;
  EXPECT_NE(validation_error(negative_max).find("max_tokens"), std::string::npos);
}

}  // namespace
}  // namespace muse

namespace muse {
namespace {

TEST(Sampler, SameTokensAsTheSortingSampler) {
  Rng logit_rng(99);
  int draws_total = 0, differ = 0;
  struct Setting {
    double temperature;
    int top_k;
    double top_p, min_p;
  };
  const std::vector<Setting> settings = {{0.8, 0, 0.95, 0.0}, {1.0, 0, 1.0, 0.0},  {0.5, 40, 0.9, 0.0},
                                         {1.3, 0, 0.5, 0.05}, {0.7, 200, 1.0, 0.0}, {1.0, 0, 0.99, 0.0},
                                         {0.0, 0, 1.0, 0.0}};
  for (int vocab : {7, 64, 2048}) {
    for (double scale : {0.01, 1.0, 10.0}) {
      auto logits = random_logits(logit_rng, vocab);
      for (auto& l : logits) l = static_cast<float>(l * scale);
      if (vocab > 8) logits[3] = logits[5] = -std::numeric_limits<float>::infinity();  // masked
      for (const auto& st : settings) {
        SamplingParams p = sampling(st.temperature, st.top_k, st.top_p);
        p.min_p = st.min_p;
        Rng a(7), b(7);
        for (int i = 0; i < 300; ++i) {
          const int x = sample_token(logits.data(), vocab, p, a), y = reference_sample_token(logits.data(), vocab, p, b);
          ++draws_total;
          differ += x != y;
        }
      }
    }
  }
  std::printf("[ Sampler ] %d of %d draws differ from the sorting sampler\n", differ, draws_total);
  EXPECT_LE(differ, draws_total / 10000) << differ << " of " << draws_total << " draws differ";
}

}  // namespace
}  // namespace muse
