// Supervised fine-tuning: the pretraining loop started from a model directory's weights, on task examples
// dressed as chats (system prompts, earlier turns; loss on the final reply) and on user conversations.
#pragma once
#include "training/pretrain.h"

namespace muse {

// What a run that starts from a model directory (SFT, RL) takes from it: its config, the path of its weights, and
// its tokenizer, copied into run_dir (created) so the run directory becomes a model directory of the same kind.
// MuseError naming the missing file.
struct BaseModel {
  ModelConfig config;
  std::string weights;  // base_dir/model.safetensors
  Tokenizer tokenizer;  // loaded from run_dir/tokenizer.model
};
BaseModel start_from_model_dir(const std::string& base_dir, const std::string& run_dir);

// Fine-tunes params.init_from (a model directory: config.json, model.safetensors, tokenizer.model) into
// params.out_dir, which becomes a model directory with the same architecture and tokenizer. MuseError when
// init_from is empty or incomplete.
PretrainResult sft(const PretrainParams& params);

}  // namespace muse
