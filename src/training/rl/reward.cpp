#include "training/rl/reward.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace muse {

const char* length_penalty_name(LengthPenalty kind) {
  switch (kind) {
    case LengthPenalty::None: return "none";
    case LengthPenalty::Linear: return "linear";
    case LengthPenalty::Group: return "group";
    case LengthPenalty::Cap: return "cap";
  }
  return "none";
}

LengthPenalty parse_length_penalty(const std::string& name) {
  for (auto kind : {LengthPenalty::None, LengthPenalty::Linear, LengthPenalty::Group, LengthPenalty::Cap})
    if (name == length_penalty_name(kind)) return kind;
  throw MuseError("unknown thinking penalty '" + name + "' (expected none, linear, group or cap)");
}

void RewardParams::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw MuseError(what);
  };
  require(coefficient >= 0, "penalty coefficient must be >= 0, got " + std::to_string(coefficient));
  require(free_tokens >= 0, "penalty free tokens must be >= 0, got " + std::to_string(free_tokens));
  require(max_penalty >= 0, "max penalty must be >= 0, got " + std::to_string(max_penalty));
  require(weight >= 0, "group penalty weight must be >= 0, got " + std::to_string(weight));
  require(cap_start > 0 && cap_end > 0, "thinking caps must be > 0, got " + std::to_string(cap_start) + " and " +
                                            std::to_string(cap_end));
  require(cap_steps >= 0, "cap steps must be >= 0, got " + std::to_string(cap_steps));
  require(warmup_steps >= 0, "penalty warmup must be >= 0, got " + std::to_string(warmup_steps));
  require(gate_accuracy >= 0 && gate_accuracy <= 1,
          "penalty gate accuracy must be in [0, 1], got " + std::to_string(gate_accuracy));
  require(tool_bonus >= 0, "tool bonus must be >= 0, got " + std::to_string(tool_bonus));
}

int thinking_cap(const RewardParams& p, int64_t step) {
  if (p.cap_steps <= 0 || step >= p.cap_steps) return p.cap_end;
  const double f = static_cast<double>(step) / static_cast<double>(p.cap_steps);
  return static_cast<int>(std::lround(p.cap_start + f * (p.cap_end - p.cap_start)));
}

std::vector<double> group_rewards(const std::vector<RolloutScore>& group, const RewardParams& p, int64_t step) {
  std::vector<double> rewards;
  rewards.reserve(group.size());
  for (const auto& r : group) rewards.push_back(r.verified + (r.correct() && r.tool_calls > 0 ? p.tool_bonus : 0.0));
  if (p.penalty == LengthPenalty::None || step < p.warmup_steps || group.empty()) return rewards;
  const auto right = std::count_if(group.begin(), group.end(), [](const RolloutScore& r) { return r.correct(); });
  if (static_cast<double>(right) < p.gate_accuracy * static_cast<double>(group.size())) return rewards;

  switch (p.penalty) {
    case LengthPenalty::None: break;
    case LengthPenalty::Linear:
      for (size_t i = 0; i < group.size(); ++i) {
        const int over = std::max(0, group[i].thinking_tokens - p.free_tokens);
        rewards[i] -= std::min(p.max_penalty, p.coefficient * over);
      }
      break;
    case LengthPenalty::Group: {
      const auto [lo, hi] = std::minmax_element(group.begin(), group.end(), [](const auto& a, const auto& b) {
        return a.thinking_tokens < b.thinking_tokens;
      });
      if (hi->thinking_tokens == lo->thinking_tokens) break;  // all equally long: nothing to prefer
      const double span = hi->thinking_tokens - lo->thinking_tokens;
      for (size_t i = 0; i < group.size(); ++i) {
        const double lambda = 0.5 - (group[i].thinking_tokens - lo->thinking_tokens) / span;
        rewards[i] += p.weight * (group[i].correct() ? lambda : std::min(0.0, lambda));
      }
      break;
    }
    case LengthPenalty::Cap: {
      const int cap = thinking_cap(p, step);
      for (size_t i = 0; i < group.size(); ++i)
        if (group[i].thinking_tokens > cap) rewards[i] = 0.0;
      break;
    }
  }
  return rewards;
}

}  // namespace muse
