#include "training/rl/watch.h"

#include <algorithm>
#include <cstdio>

namespace muse {

std::vector<std::string> CollapseWatch::update(const std::map<std::string, double>& metrics) {
  std::vector<std::string> warnings;
  auto value = [&](const char* key, double fallback) {
    const auto it = metrics.find(key);
    return it == metrics.end() ? fallback : it->second;
  };
  auto warn = [&](const char* what, double v) {
    char text[96];
    std::snprintf(text, sizeof text, "%s (%.3g)", what, v);
    warnings.emplace_back(text);
  };
  const double entropy = value("entropy", -1.0);
  if (entropy >= 0 && first_entropy_ < 0) first_entropy_ = entropy;
  if (entropy >= 0 && entropy < params_.entropy_collapse_share * first_entropy_) warn("entropy collapse", entropy);
  if (first_entropy_ > 0 && entropy > params_.entropy_explosion_factor * first_entropy_) warn("entropy explosion", entropy);
  const double accuracy = value("accuracy", -1.0);
  if (accuracy >= 0) {
    smoothed_accuracy_ = smoothed_accuracy_ < 0 ? accuracy : 0.8 * smoothed_accuracy_ + 0.2 * accuracy;
    best_accuracy_ = std::max(best_accuracy_, smoothed_accuracy_);
    if (best_accuracy_ > 0.1 && smoothed_accuracy_ < params_.collapse_ratio * best_accuracy_)
      warn("reward collapse: accuracy far below its best", smoothed_accuracy_);
  }
  const double repetition = value("repetition_rate", 0.0);
  if (repetition > params_.max_repetition) warn("degenerate repetition", repetition);
  const double truncation = value("truncation_rate", 0.0);
  if (truncation > params_.max_truncation) warn("most rollouts truncated (raise --max-tokens)", truncation);
  return warnings;
}

}  // namespace muse
