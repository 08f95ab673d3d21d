#include "training/rl/advantage.h"

#include <cmath>

namespace muse {

GroupAdvantages group_advantages(const std::vector<double>& rewards, const AdvantageParams& params) {
  GroupAdvantages out;
  out.advantages.assign(rewards.size(), 0.0);
  if (rewards.empty()) {
    out.uniform = true;
    return out;
  }
  double mean = 0.0;
  for (double r : rewards) mean += r;
  mean /= static_cast<double>(rewards.size());
  double variance = 0.0;
  for (double r : rewards) variance += (r - mean) * (r - mean);
  variance /= static_cast<double>(rewards.size());
  out.uniform = variance < 1e-12;
  if (out.uniform) return out;
  const double scale = params.divide_by_std ? 1.0 / (std::sqrt(variance) + params.eps) : 1.0;
  for (size_t i = 0; i < rewards.size(); ++i) out.advantages[i] = (rewards[i] - mean) * scale;
  return out;
}

}  // namespace muse
