// The curves of an RL run, drawn from its metrics.jsonl as SVG (muse report RUN; rl() draws them at its end):
//   reward.svg    training reward and accuracy of the rollouts, held-out accuracy at each evaluation
//   thinking.svg  thinking tokens of right and of wrong rollouts, and of held-out answers
//   health.svg    entropy, clip fraction, zero-variance groups, truncation, repetition and tool use
#pragma once
#include <string>
#include <vector>

namespace muse {

// Writes RUN/curves/*.svg and returns their paths. MuseError when RUN/metrics.jsonl is missing, unreadable or has
// no RL steps.
std::vector<std::string> write_rl_curves(const std::string& run_dir);

}  // namespace muse
