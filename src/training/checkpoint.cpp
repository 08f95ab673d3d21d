#include "training/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "model/weights.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;

namespace {
std::string step_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%07lld", static_cast<long long>(step));
  return name;
}
}  // namespace

void save_checkpoint(const std::string& run_dir, const torch::nn::Module& model, const Optimizer& optimizer,
                     const CheckpointState& state, int keep_last) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  const fs::path final_dir = root / step_name(state.step);
  const fs::path tmp_dir = root / (step_name(state.step) + ".tmp" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir);

  save_module_weights(model, (tmp_dir / "model.safetensors").string());
  save_tensor_map(optimizer.state(), (tmp_dir / "optimizer.safetensors").string());
  const nlohmann::json j = {{"step", state.step},
                            {"tokens_seen", state.tokens_seen},
                            {"train_seconds", state.train_seconds},
                            {"run_fingerprint", state.run_fingerprint}};
  write_file_atomic((tmp_dir / "state.json").string(), j.dump(2) + "\n");

  fs::remove_all(final_dir, ec);
  fs::rename(tmp_dir, final_dir);
  write_file_atomic((root / "latest").string(), final_dir.filename().string() + "\n");

  // Keep the newest `keep_last` complete checkpoints; drop stale temporaries from killed runs.
  std::vector<fs::path> complete;
  for (const auto& entry : fs::directory_iterator(root)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("step_", 0) != 0) continue;
    if (name.find(".tmp") != std::string::npos) fs::remove_all(entry.path(), ec);
    else complete.push_back(entry.path());
  }
  std::sort(complete.begin(), complete.end());
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < complete.size(); ++i) fs::remove_all(complete[i], ec);
}

std::optional<std::string> latest_checkpoint(const std::string& run_dir) {
  const fs::path pointer = fs::path(run_dir) / "checkpoints" / "latest";
  if (!fs::exists(pointer)) return std::nullopt;
  std::string name = read_file(pointer.string());
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  const fs::path dir = fs::path(run_dir) / "checkpoints" / name;
  if (name.empty() || !fs::is_directory(dir))
    throw file_error(pointer.string(), "points to '" + name + "', which is not a checkpoint directory");
  return dir.string();
}

CheckpointState read_checkpoint_state(const std::string& checkpoint_dir) {
  const fs::path dir(checkpoint_dir);
  const std::string state_path = (dir / "state.json").string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(state_path));
  } catch (const nlohmann::json::parse_error& e) {
    throw file_error(state_path, std::string("invalid JSON (") + e.what() + ")");
  }
  CheckpointState state;
  try {
    state.step = j.at("step").get<int64_t>();
    state.tokens_seen = j.at("tokens_seen").get<int64_t>();
    state.train_seconds = j.at("train_seconds").get<double>();
    state.run_fingerprint = j.at("run_fingerprint");
  } catch (const nlohmann::json::exception& e) {
    throw file_error(state_path, std::string("missing or invalid field (") + e.what() + ")");
  }
  // Before JSON fingerprints a run's settings were one "key=value ..." string, ambiguous for paths with spaces.
  if (!state.run_fingerprint.is_object())
    throw file_error(state_path, "run_fingerprint is not a JSON object: the checkpoint was written by an older Muse "
                                 "and cannot be resumed by this one; finish it with that version or start afresh");
  return state;
}

CheckpointState load_checkpoint(const std::string& checkpoint_dir, torch::nn::Module& model, Optimizer& optimizer) {
  const fs::path dir(checkpoint_dir);
  const CheckpointState state = read_checkpoint_state(checkpoint_dir);
  load_module_weights(model, (dir / "model.safetensors").string());
  const std::string optimizer_path = (dir / "optimizer.safetensors").string();
  optimizer.load_state(load_tensor_map(optimizer_path), optimizer_path);
  if (optimizer.steps_taken() != state.step)
    throw file_error(optimizer_path, "optimizer step " + std::to_string(optimizer.steps_taken()) +
                                         " does not match state.json step " + std::to_string(state.step));
  return state;
}

}  // namespace muse
