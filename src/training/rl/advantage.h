// Group-relative advantages (GRPO): each rollout's reward minus its group's mean, optionally divided by the
// group's standard deviation (Dr. GRPO drops the division: it up-weights groups that are nearly all right or all
// wrong). A group whose rewards are all equal teaches nothing (every advantage is 0): dynamic sampling (DAPO)
// drops it from the batch, and its share is logged.
#pragma once
#include <vector>

namespace muse {

struct AdvantageParams {
  bool divide_by_std = false;     // GRPO's (r - mean) / (std + eps); off: Dr. GRPO's r - mean
  bool drop_uniform_groups = true;  // all-equal groups are left out of the loss (they only dilute it)
  double eps = 1e-4;
};

struct GroupAdvantages {
  std::vector<double> advantages;  // per rollout, in order
  bool uniform = false;            // every reward equal (all right, all wrong, or all equally penalised)
};

GroupAdvantages group_advantages(const std::vector<double>& rewards, const AdvantageParams& params);

}  // namespace muse
