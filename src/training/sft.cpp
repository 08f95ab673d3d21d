#include "training/sft.h"

#include <filesystem>

#include "model/weights.h"
#include "runtime/runtime.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;

PretrainResult sft(const PretrainParams& p) {
  if (p.init_from.empty()) throw MuseError("fine-tuning needs the model directory to start from (--model)");
  p.validate();
  parse_device(p.device);  // a bad device fails before any work
  // Fine-tuning keeps the base model's architecture and vocabulary: its config and tokenizer come along.
  const fs::path base(p.init_from), run(p.out_dir);
  const ModelConfig config = load_model_config((base / "config.json").string());
  const std::string base_weights = (base / "model.safetensors").string();
  if (!fs::exists(base_weights)) throw file_error(base_weights, "missing");
  fs::create_directories(run);
  const std::string tokenizer_path = (run / "tokenizer.model").string();
  if (!fs::exists(tokenizer_path)) write_file_atomic(tokenizer_path, read_file((base / "tokenizer.model").string()));
  const auto tokenizer = Tokenizer::load(tokenizer_path);
  return train_language_model(fit_model_config(config, tokenizer, p.seq_len), tokenizer, p, base_weights, "sft");
}

}  // namespace muse
