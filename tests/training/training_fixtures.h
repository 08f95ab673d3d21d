// Shapes the training tests share: a micro model (width 64, two heads) and pretraining params that do only what
// a test needs (no checkpoints, no task eval, one held-out batch, no progress line).
#pragma once
#include <string>

#include "model/config.h"
#include "training/pretrain.h"

namespace muse::test {

inline ModelConfig micro_config(int64_t layers, int64_t context) {
  ModelConfig c = preset_config("tiny");
  c.n_layers = layers;
  c.d_model = 64;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.ffn_hidden = 128;
  c.max_seq_len = context;
  return c;
}

inline PretrainParams quiet_pretrain_params(const std::string& dir, const std::string& mixture, int64_t steps,
                                            int64_t batch_size, int64_t seq_len, int64_t warmup_steps) {
  PretrainParams p;
  p.out_dir = dir;
  p.mixture = mixture;
  p.steps = steps;
  p.batch_size = batch_size;
  p.seq_len = seq_len;
  p.warmup_steps = warmup_steps;
  p.checkpoint_every = 0;
  p.eval_problems = 0;
  p.eval_batches = 1;
  p.progress = false;
  return p;
}

}  // namespace muse::test
