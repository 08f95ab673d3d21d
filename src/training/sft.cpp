#include "training/sft.h"

#include <filesystem>

#include "model/weights.h"
#include "runtime/runtime.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;

BaseModel start_from_model_dir(const std::string& base_dir, const std::string& run_dir) {
  const fs::path base(base_dir), run(run_dir);
  const ModelConfig config = load_model_config((base / "config.json").string());
  std::string weights = (base / "model.safetensors").string();
  if (!fs::exists(weights)) throw file_error(weights, "missing");
  fs::create_directories(run);
  const std::string tokenizer_path = (run / "tokenizer.model").string();
  if (!fs::exists(tokenizer_path)) write_file_atomic(tokenizer_path, read_file((base / "tokenizer.model").string()));
  return {config, std::move(weights), Tokenizer::load(tokenizer_path)};
}

PretrainResult sft(const PretrainParams& p) {
  if (p.init_from.empty()) throw MuseError("fine-tuning needs the model directory to start from (--model)");
  p.validate();
  parse_device(p.device);  // a bad device fails before any work
  // Fine-tuning keeps the base model's architecture and vocabulary: its config and tokenizer come along.
  const auto base = start_from_model_dir(p.init_from, p.out_dir);
  return train_language_model(fit_model_config(base.config, base.tokenizer, p.seq_len), base.tokenizer, p,
                              base.weights, "sft");
}

}  // namespace muse
