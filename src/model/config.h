// Model hyperparameters as a plain struct with documented defaults, plus named presets and the `depth` dial.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/patches.h"

namespace muse {

// The feed-forward block's nonlinearity. SwiGLU: w_down(silu(w_gate x) * w_up x), three matrices. ReLU2:
// w_down(relu(w_up x)^2), two matrices (modded-nanogpt's; at equal parameters its hidden width is 1.5x SwiGLU's).
enum class FfnActivation { SwiGLU, ReLU2 };
const char* ffn_activation_name(FfnActivation activation);
// "swiglu" | "relu2"; MuseError naming the known ones otherwise.
FfnActivation parse_ffn_activation(const std::string& name);

struct ModelConfig {
  std::string preset = "custom";
  int64_t vocab_size = 512;     // must equal the tokenizer's size
  int64_t d_model = 128;        // residual width
  int64_t n_layers = 4;
  int64_t n_heads = 4;          // query heads; head_dim = d_model / n_heads
  int64_t n_kv_heads = 4;       // < n_heads: grouped-query attention (n_heads % n_kv_heads == 0)
  int64_t ffn_hidden = 384;     // the feed-forward block's inner width
  FfnActivation ffn_activation = FfnActivation::SwiGLU;
  int64_t max_seq_len = 512;    // longest sequence the KV cache and training rows hold
  double rope_theta = 10000.0;
  // M-RoPE: how many rotary frequency pairs follow t, row and col (sum = head_dim / 2), interleaved across
  // the spectrum (see mrope_pair_axes). Text has equal ids on all three, so for text this is exactly llama's
  // 1D RoPE (adjacent pairs 2i, 2i+1 rotate).
  std::array<int64_t, 3> mrope_sections = {8, 4, 4};
  double norm_eps = 1e-5;
  // RMSNorm on q and k per head (Chameleon's fix for multimodal norm growth; at our scale it also turns a seed
  // lottery into reliable learning and allows higher learning rates, docs/LOG.md). GGUF: qwen3's attn_q_norm/k_norm.
  bool qk_norm = true;
  double z_loss = 0.0;          // coefficient of log^2(Z) added to the loss (e.g. 1e-4)
  double init_std = 0.02;
  // The residual branches' output projections (wo, w_down) start at zero, so every block starts as the identity
  // (modded-nanogpt's init). Only initialisation; a small gain with Muon, neutral with AdamW (docs/LOG.md).
  bool zero_init_projections = true;
  // > 0: logits = cap * tanh(logits / cap) (Gemma 2, modded-nanogpt), bounding them; 0 = plain logits. Off: it
  // lost alone and won < 1% with Muon here, and the GGUF mappings (llama, qwen3) have no place for it.
  double logit_softcap = 0.0;
  // The LM head reuses the token embedding matrix (logits = norm(x) . embed^T): vocab x d_model fewer
  // parameters. Off by default (docs/LOG.md, the equal-wall-time ablation); GGUF: a model without output.weight.
  bool tie_embeddings = false;
  // Images (Fuyu-style early fusion): patch_size x patch_size RGB patches are linearly projected straight into
  // the residual stream at the positions of the <|patch|> token. patch_size 0 = a text-only model (and how
  // configs written before images existed load).
  int64_t patch_size = 8;
  int64_t max_image_patches = 64;  // patch budget of one image view; training and inference must agree
  int64_t patch_token_id = -1;     // the tokenizer's <|patch|> id (set from the tokenizer when training)
  // Learned row and column embeddings added to each patch's projection (ViT's 2D position table, factored), so
  // a patch's value says where it is (M-RoPE positions only reach queries and keys). Off: measured on image
  // tasks it learned no faster than M-RoPE alone (docs/LOG.md, 2026-12-03, second entry); kept for the ablation.
  bool patch_position_embeddings = false;

  int64_t head_dim() const { return d_model / n_heads; }
  int64_t patch_dim() const { return patch_size * patch_size * 3; }
  bool sees_images() const { return patch_size > 0; }
  // Row and column tables: one entry per patch row/column an image view can have (a 1 x max strip at most).
  int64_t patch_position_table_size() const { return patch_position_embeddings ? 2 * max_image_patches * d_model : 0; }
  // Throws MuseError naming the offending field.
  void validate() const;
  int64_t parameter_count() const;
  // Forward + backward FLOPs per token (6N for weights + attention term at sequence length `seq_len`).
  double train_flops_per_token(int64_t seq_len) const;
};

// The `depth` dial: n_layers = depth; width doubles every two layers from 128 at depth 4 (so depth 4/6/8
// give 128/256/512); head_dim 32 up to width 256, then 64; ffn = 3 x width; vocab scales with width.
ModelConfig config_for_depth(int depth);
// Named presets: tiny (~1M, tests), small (~6M), base (~31M). MuseError listing them for unknown names.
ModelConfig preset_config(const std::string& name);
std::vector<std::string> preset_names();
// Peak learning rate for AdamW at this width (smaller models take larger steps).
double default_learning_rate(const ModelConfig& config);

// How the renderer must cut images for this model.
inline VisionParams vision_params(const ModelConfig& config) {
  VisionParams v;
  if (config.sees_images()) {
    v.patch_size = static_cast<int>(config.patch_size);
    v.max_patches = static_cast<int>(config.max_image_patches);
  }
  return v;
}

void to_json(nlohmann::json& j, const ModelConfig& c);
// Strict: unknown or missing fields throw MuseError naming the field (`origin` says which file).
ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& origin);

}  // namespace muse
