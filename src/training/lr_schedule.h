// Learning-rate schedules: linear warmup, then cosine decay or warmup-stable-decay (WSD).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "util/error.h"

namespace muse {

struct LrSchedule {
  std::string kind = "cosine";  // "cosine" | "wsd"
  double peak = 1e-3;
  double min_ratio = 0.1;       // final lr = peak * min_ratio
  int64_t warmup_steps = 50;
  int64_t total_steps = 1000;
  double decay_fraction = 0.2;  // wsd: the last 20% of steps decay linearly

  void validate() const {
    if (kind != "cosine" && kind != "wsd")
      throw MuseError("unknown lr schedule '" + kind + "' (known: cosine, wsd)");
  }

  double at(int64_t step) const {
    const double floor = peak * min_ratio;
    if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
    const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
    if (kind == "wsd") {
      const double decay_start = 1.0 - decay_fraction;
      if (progress < decay_start) return peak;
      return peak - (peak - floor) * (progress - decay_start) / decay_fraction;
    }
    return floor + 0.5 * (peak - floor) * (1.0 + std::cos(M_PI * progress));
  }
};

}  // namespace muse
