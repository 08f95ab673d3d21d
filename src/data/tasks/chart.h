// Bar and line charts: largest bar, value of a bar, difference of two.
// (Difficulty dial, prompt, reasoning trace and answer formats: documented here by the implementation.)
#pragma once
#include <string>

#include "data/task.h"

namespace muse {

class ChartTask : public Task {
 public:
  std::string name() const override { return "chart"; }
  std::string description() const override;
  int min_difficulty() const override;
  int max_difficulty() const override;
  Example generate(Rng& rng, int difficulty) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

}  // namespace muse
