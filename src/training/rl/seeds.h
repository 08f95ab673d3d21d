// The RL scaling axis, measured: the same RL run for several seeds (muse scale rl), each into DIR/seed-N, then
// held-out accuracy and thinking length against RL steps for every seed as CSV, JSON and SVG.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "training/rl/rl.h"

namespace muse {

struct RlSeedPoint {
  uint64_t seed = 0;
  int64_t step = 0;
  double greedy_accuracy = 0.0, sampled_accuracy = 0.0;
  double greedy_thinking = 0.0, sampled_thinking = 0.0;
};

// Runs `base` once per seed (out_dir/seed-N; a finished seed is kept, an interrupted one resumed with
// base.resume), then writes out_dir/scale_rl.{csv,json}, scale_rl_accuracy.svg and scale_rl_thinking.svg.
std::vector<RlSeedPoint> run_rl_seeds(const RlParams& base, const std::vector<uint64_t>& seeds,
                                      const std::string& out_dir);

// The held-out evaluations logged in one RL run's metrics.jsonl, in order.
std::vector<RlSeedPoint> rl_eval_points(const std::string& run_dir, uint64_t seed);

}  // namespace muse
