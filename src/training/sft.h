// Supervised fine-tuning: the pretraining loop started from a model directory's weights, on task examples
// dressed as chats (system prompts, earlier turns; loss on the final reply) and on user conversations.
#pragma once
#include "training/pretrain.h"

namespace muse {

// Fine-tunes params.init_from (a model directory: config.json, model.safetensors, tokenizer.model) into
// params.out_dir, which becomes a model directory with the same architecture and tokenizer. MuseError when
// init_from is empty or incomplete.
PretrainResult sft(const PretrainParams& params);

}  // namespace muse
