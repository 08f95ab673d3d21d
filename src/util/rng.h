// Deterministic random numbers for data generation and sampling.
// std::uniform_int_distribution is implementation-defined, so the mapping to ranges is our own:
// the same seed gives the same data on every platform and library version.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace muse {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(seed) {}

  uint64_t next_u64() { return engine_(); }
  // Uniform integer in [lo, hi] (inclusive).
  int64_t uniform_int(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    if (span == 0) return static_cast<int64_t>(next_u64());
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;  // rejection removes modulo bias
    uint64_t x;
    do { x = next_u64(); } while (x >= limit);
    return lo + static_cast<int64_t>(x % span);
  }
  // Uniform double in [0, 1).
  double uniform() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  bool bernoulli(double p) { return uniform() < p; }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(uniform_int(0, static_cast<int64_t>(i) - 1))]);
  }

 private:
  std::mt19937_64 engine_;
};

// Mixes several values into one seed (splitmix64), e.g. seed_mix(run_seed, step, row).
inline uint64_t seed_mix(uint64_t a, uint64_t b, uint64_t c = 0) {
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(a) ^ b) ^ c);
}

}  // namespace muse
