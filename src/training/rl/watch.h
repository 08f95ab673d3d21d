// Collapse detectors for an RL run, read from each step's metrics: what users of RL libraries hit most.
//   entropy collapse (the policy stops exploring) or explosion (clip-higher run away), reward collapse (accuracy
//   falls far below its best), degenerate repetition (rollouts looping on a few tokens), and truncation (most
//   rollouts run out of tokens, so their rewards are silently 0).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace muse {

struct WatchParams {
  // Entropy relative to the first step's (an SFT model on algorithmic tasks starts near 0.03 nats, on search
  // tasks near 0.4): collapse below this share of it, explosion above this multiple.
  double entropy_collapse_share = 0.25;
  double entropy_explosion_factor = 4.0;
  double collapse_ratio = 0.5;    // smoothed accuracy below this share of its best (after the best passed 0.1)
  double max_repetition = 0.2;    // share of rollouts that end in a loop
  double max_truncation = 0.5;
};

class CollapseWatch {
 public:
  explicit CollapseWatch(WatchParams params = {}) : params_(params) {}
  // The warnings of this step ("entropy collapse (0.004)"), empty when all is well.
  std::vector<std::string> update(const std::map<std::string, double>& metrics);

 private:
  WatchParams params_;
  double smoothed_accuracy_ = -1.0, best_accuracy_ = 0.0, first_entropy_ = -1.0;
};

}  // namespace muse
