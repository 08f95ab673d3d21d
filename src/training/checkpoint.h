// Training checkpoints: RUN/checkpoints/step_NNNNNNN/{model.safetensors, optimizer.safetensors, state.json}.
// Each checkpoint is written into a temporary folder and renamed into place, then RUN/checkpoints/latest is
// replaced atomically: a kill at any moment leaves the previous checkpoint intact and findable.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include "training/optimizer.h"

namespace muse {

struct CheckpointState {
  int64_t step = 0;           // optimizer steps completed; training continues at this step
  int64_t tokens_seen = 0;
  double train_seconds = 0.0;
  // The run's data/optimizer settings as a JSON object; resume compares it key by key and refuses a different run.
  nlohmann::json run_fingerprint = nlohmann::json::object();
};

void save_checkpoint(const std::string& run_dir, const torch::nn::Module& model, const Optimizer& optimizer,
                     const CheckpointState& state, int keep_last = 2);
// Directory of the newest complete checkpoint, if any.
std::optional<std::string> latest_checkpoint(const std::string& run_dir);
// Restores model and optimizer; MuseError names the file and the problem (missing, corrupt, other model, or a
// checkpoint of an older Muse whose fingerprint was a settings string: those cannot be resumed).
CheckpointState load_checkpoint(const std::string& checkpoint_dir, torch::nn::Module& model, Optimizer& optimizer);
// The checkpoint's state.json alone (what a resume compares before loading any tensor).
CheckpointState read_checkpoint_state(const std::string& checkpoint_dir);

}  // namespace muse
