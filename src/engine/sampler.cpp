#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "util/simd.h"
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

namespace {

// The candidates of one draw, bucketed by how far below the top logit they are: d = (max - logit) / temperature
// (nats of log-probability below the top), the range of d up to kMaxNats spread over kBuckets equal buckets,
// everything further down in the last one. Bucket order is descending-logit order, so a walk over the
// candidates sorted by descending logit (the nucleus, the draw) adds whole buckets' masses and sorts only the
// one bucket where it stops: O(vocab) per token instead of sorting the vocabulary (a flat distribution used to
// sort most of it).
constexpr int kBuckets = 512;
constexpr double kMaxNats = 64.0;  // e^-64 ~ 1.6e-28: the far tail shares the last bucket

struct Candidates {
  std::vector<int> ids;         // [n] token ids (all, or the top-k)
  std::vector<double> prob;     // [n] unnormalised: exp((logit - max) / temperature)
  std::vector<uint16_t> bucket;  // [n]
  double mass[kBuckets];
  int64_t count[kBuckets];
  std::vector<int> scratch;  // the positions of one bucket
  std::vector<float> work;   // [2n]: logits, probabilities
  size_t n = 0;
};

struct WalkEnd {
  size_t position = 0;  // 1-based rank of the candidate where the walk stopped (or the candidates walked)
  int index = -1;       // its index into Candidates::ids (-1: none walked)
  double mass = 0.0;    // the mass walked, that candidate's included
  bool reached = false;
};

// Walks the first `limit` candidates in descending-logit order (ties by ascending id), adding their masses,
// and stops at the first where the running mass reaches `target` (> target when strict, else >=).
WalkEnd walk(Candidates& c, const float* logits, double target, bool strict, size_t limit) {
  const auto reached = [&](double mass) { return strict ? mass > target : mass >= target; };
  WalkEnd end;
  for (int b = 0; b < kBuckets && end.position < limit; ++b) {
    if (c.count[b] == 0) continue;
    const size_t in_bucket = std::min(static_cast<size_t>(c.count[b]), limit - end.position);
    if (in_bucket == static_cast<size_t>(c.count[b]) && !reached(end.mass + c.mass[b]) && b + 1 < kBuckets) {
      end.mass += c.mass[b];
      end.position += in_bucket;
      if (end.position == limit) {  // the walk ends with this bucket: its lowest candidate is the last walked
        int last = -1;
        for (size_t j = 0; j < c.n; ++j)
          if (c.bucket[j] == b) {
            if (last < 0 || logits[c.ids[j]] < logits[c.ids[last]] ||
                (logits[c.ids[j]] == logits[c.ids[last]] && c.ids[j] > c.ids[last]))
              last = static_cast<int>(j);
          }
        end.index = last;
      }
      continue;
    }
    // The walk ends in this bucket (or rounding says otherwise and it goes on): its candidates in order.
    c.scratch.clear();
    for (size_t j = 0; j < c.n; ++j)
      if (c.bucket[j] == b) c.scratch.push_back(static_cast<int>(j));
    std::sort(c.scratch.begin(), c.scratch.end(), [&](int x, int y) {
      const float lx = logits[c.ids[x]], ly = logits[c.ids[y]];
      return lx > ly || (lx == ly && c.ids[x] < c.ids[y]);
    });
    for (size_t k = 0; k < in_bucket; ++k) {
      const int j = c.scratch[k];
      end.mass += c.prob[j];
      end.position += 1;
      end.index = j;
      if (reached(end.mass)) {
        end.reached = true;
        return end;
      }
    }
  }
  return end;
}

// p[i] = e^((l[i] - max) * inv_t) (Cephes' expf polynomial, ~2 ulp; 0 for a -inf logit), 8 lanes at a time.
MUSE_SIMD_CLONES void exp_below_max(const float* l, size_t n, float max, float inv_t, float* p) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) simd::store8(p + i, simd::exp8((simd::load8(l + i) - max) * inv_t));
  for (; i < n; ++i) p[i] = simd::exp1((l[i] - max) * inv_t);
  for (i = 0; i < n; ++i)
    if (l[i] == -std::numeric_limits<float>::infinity()) p[i] = 0.0f;  // exp8 clamps at e^-87.3, not 0
}

// The first index of the largest logit (std::max_element's answer for NaN-free input), 8 lanes at a time: the
// greedy path's whole cost. AVX-512 / AVX2 / baseline versions chosen at load time (GCC function multi-versioning).
MUSE_SIMD_CLONES int argmax(const float* x, int n) {
  typedef float f8 __attribute__((vector_size(32)));
  float best = -std::numeric_limits<float>::infinity();
  int i = 0;
  if (n >= 8) {
    f8 m;
    std::memcpy(&m, x, sizeof m);
    for (i = 8; i + 8 <= n; i += 8) {
      f8 v;
      std::memcpy(&v, x + i, sizeof v);
      m = v > m ? v : m;
    }
    for (int lane = 0; lane < 8; ++lane) best = std::max(best, m[lane]);
  }
  for (; i < n; ++i) best = std::max(best, x[i]);
  for (i = 0; i < n; ++i)
    if (x[i] == best) return i;
  return 0;  // NaN only (or nothing above -inf in a NaN-riddled row): as std::max_element would, the first
}

}  // namespace

int sample_token(const float* logits, int vocab, const SamplingParams& params, Rng& rng) {
  if (params.temperature == 0.0) return argmax(logits, vocab);

  // Candidates by logit, descending, truncated by top-k; then the nucleus (the shortest prefix whose mass reaches
  // top_p), min-p, and one draw walking the kept prefix in that order (see Candidates).
  thread_local Candidates c;  // reused: no allocation per token
  c.ids.resize(static_cast<size_t>(vocab));
  std::iota(c.ids.begin(), c.ids.end(), 0);
  c.n = static_cast<size_t>(vocab);
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < c.n) {
    c.n = static_cast<size_t>(params.top_k);
    std::nth_element(c.ids.begin(), c.ids.begin() + static_cast<std::ptrdiff_t>(c.n), c.ids.end(),
                     [&](int a, int b) { return logits[a] > logits[b]; });
  }
  const size_t n = c.n;
  c.prob.resize(n);
  c.bucket.resize(n);
  c.work.resize(2 * n);
  float* lg = c.work.data();  // the candidates' logits, then their probabilities
  float* pf = lg + n;
  for (size_t j = 0; j < n; ++j) lg[j] = logits[c.ids[j]];
  std::fill(c.mass, c.mass + kBuckets, 0.0);
  std::fill(c.count, c.count + kBuckets, 0);
  float max_f = lg[0], min_f = std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < n; ++j) {
    max_f = std::max(max_f, lg[j]);
    if (lg[j] > -std::numeric_limits<float>::infinity()) min_f = std::min(min_f, lg[j]);
  }
  const float inv_t = static_cast<float>(1.0 / params.temperature);
  exp_below_max(lg, n, max_f, inv_t, pf);  // e^((logit - max) / temperature), float, 8 at a time
  const double range = std::min(kMaxNats, (static_cast<double>(max_f) - min_f) * inv_t);  // nats covered
  const double per_nat = range > 0.0 ? (kBuckets - 1) / range : 0.0;
  double total = 0.0;
  size_t positive = 0, above_min_p = 0;
  for (size_t j = 0; j < n; ++j) {
    const double p = pf[j];
    c.prob[j] = p;
    total += p;
    positive += p > 0.0;
    above_min_p += p >= params.min_p;  // the top token's prob is exp(0) = 1
    const double t = (static_cast<double>(max_f) - lg[j]) * inv_t * per_nat;
    const int b = t < kBuckets - 1 ? static_cast<int>(t) : kBuckets - 1;  // -inf and NaN: the last bucket
    c.bucket[j] = static_cast<uint16_t>(b);
    c.mass[b] += p;
    c.count[b] += 1;
  }

  // Nucleus: keep the shortest prefix whose mass reaches top_p.
  size_t keep = n;
  if (params.top_p < 1.0) {
    const WalkEnd nucleus = walk(c, logits, params.top_p * total, /*strict=*/false, n);
    if (nucleus.reached) keep = nucleus.position;
  }
  // Min-p: drop the tail below min_p x the top probability. Masked (-inf) logits are never kept either (so
  // never the rounding fallback below).
  if (params.min_p > 0.0) keep = std::min(keep, std::max<size_t>(1, above_min_p));
  keep = std::min(keep, std::max<size_t>(1, positive));
  constexpr double kNever = std::numeric_limits<double>::infinity();  // a target no walk reaches
  double kept_total = total;
  if (keep < n) kept_total = walk(c, logits, kNever, /*strict=*/true, keep).mass;
  const double r = rng.uniform() * kept_total;
  WalkEnd draw = walk(c, logits, r, /*strict=*/true, keep);
  // Rounding left r at or above the kept mass: the last kept candidate.
  if (!draw.reached) draw = walk(c, logits, kNever, /*strict=*/true, keep);
  return c.ids[static_cast<size_t>(draw.index)];
}

}  // namespace muse
