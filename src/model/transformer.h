// The Muse model: one decoder-only transformer used by training and inference alike.
// pre-RMSNorm, multimodal rotary positions (M-RoPE), SwiGLU (or ReLU^2), no biases, optional GQA, QK-norm and
// tied embeddings.
// The text path is llama's exactly, so weights map 1:1 to GGUF (see docs/ARCHITECTURE.md).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <map>
#include <vector>

#include "model/config.h"

namespace muse {

// Where one forward's keys and values go in, and come from, a paged KV pool (the engine's; the layout is
// src/engine/kv_layout.h). A slot is block * block_size + offset, i.e. a row of the pool viewed as
// [num_blocks * block_size, n_kv_heads, head_dim]. Every row of the batch feeds the same number T of tokens.
struct PagedSlots {
  torch::Tensor write;  // [B * T] int64: the slots of the new tokens' keys/values, row-major
  torch::Tensor read;   // [B, L] int64: the slots of each row's keys in order, past then new (padding: any slot)
  torch::Tensor mask;   // optional [B, 1, T, L] float additive (0 / -inf): causal + padding; undefined = none
};

// Per-layer keys and values of the sequences being decoded. Contiguous (the test oracle): [batch, n_kv_heads,
// capacity, head_dim] with `length` positions filled in every row. Paged (`paged` set): keys/values are the
// pool's per-layer [num_blocks, block_size, n_kv_heads, head_dim] tensors and `length`/`capacity` are unused.
struct KVCache {
  std::vector<torch::Tensor> keys, values;
  int64_t length = 0;    // positions filled so far (same for every row of the batch)
  int64_t capacity = 0;
  const PagedSlots* paged = nullptr;
  static KVCache allocate(const ModelConfig& config, int64_t batch, int64_t capacity, const torch::Device& device,
                          torch::ScalarType dtype = torch::kFloat32);
};

// What the decoder reads.
struct ModelInput {
  torch::Tensor tokens;        // [B, T] int64 token ids
  torch::Tensor positions;     // [B, T, 3] int64 (t, row, col) rotary coordinates
  torch::Tensor document_ids;  // optional [B, T] int64: packed training rows attend within a document only
  // optional [N, patch_dim] float: the pixels of every <|patch|> token in `tokens`, in row-major order of
  // their appearance; each replaces its token's embedding after the linear patch projection.
  torch::Tensor patches;
};

// Boolean [T, past+T] (or [B, 1, T, T] with document ids) that is true where attention is not allowed;
// undefined when nothing is blocked. Built once per forward and shared by all layers.
torch::Tensor attention_mask(const ModelInput& input, int64_t past);

// One document of a packed training row: positions [start, start + length) of row `row`.
struct DocumentSpan {
  int64_t row = 0, start = 0, length = 0;
};
// The runs of equal document id in each row of [B, T] document ids, row-major.
std::vector<DocumentSpan> document_spans(const torch::Tensor& document_ids);

// How one forward's attention is masked, built once and shared by all layers. Dense: scores over all [T, L] pairs
// plus an additive mask. Per document (training rows with document ids, on CPU): each document attends causally
// within itself only, computed document by document, so the fully masked cross-document blocks of the [T, T]
// scores are never computed (packed rows of ~3 documents need about a third of the dense work).
struct AttentionPlan {
  torch::Tensor mask;                      // dense: additive (0 / -inf), broadcastable to the scores, or undefined
  std::vector<DocumentSpan> spans;         // non-empty: per-document attention, `mask` unused
  std::vector<int64_t> span_lengths;       // spans' lengths in order (split sizes of the [B*T] token axis)
  std::map<int64_t, torch::Tensor> causal; // additive causal mask [L, L] for each span length L > 1
};
// The plan of one forward: paged mask, per-document (training rows on CPU whose documents average >= 32 tokens,
// fused ops on), or a dense mask.
AttentionPlan plan_attention(const ModelInput& input, const KVCache* cache);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Rotary embedding as unit complex numbers [B, T, 1, head_dim/2]; the queries' copy includes 1/sqrt(head_dim).
struct Rotation {
  torch::Tensor queries, keys;
};

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& config);
  // x: [B, T, d]. With a cache, appends this step's keys/values to layer `layer`.
  torch::Tensor forward(const torch::Tensor& x, const Rotation& rotation, const AttentionPlan& plan, KVCache* cache,
                        int64_t layer);

  RMSNorm attn_norm{nullptr}, ffn_norm{nullptr}, q_norm{nullptr}, k_norm{nullptr};
  torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};
  torch::nn::Linear w_gate{nullptr}, w_up{nullptr}, w_down{nullptr};  // w_gate: SwiGLU only

 private:
  torch::Tensor attention(const torch::Tensor& x, const Rotation& rotation, const AttentionPlan& plan, KVCache* cache,
                          int64_t layer);
  // q [B, T, H, hd], k/v [B, T, Hkv, hd] (rotated) -> [B, T, H * hd], attending within each of plan.spans.
  torch::Tensor attention_per_document(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const AttentionPlan& plan);
  ModelConfig config_;
};
TORCH_MODULE(Block);

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const ModelConfig& config);
  // Logits [B, T, vocab]. With a cache, the input continues the cached sequences and the cache grows by T.
  torch::Tensor forward(const ModelInput& input, KVCache* cache = nullptr);
  const ModelConfig& config() const { return config_; }

  torch::nn::Embedding embed{nullptr};
  torch::nn::Linear patch_proj{nullptr};  // patch pixels -> embedding (only when config.sees_images())
  // Added to a patch's projection by its row / column in its image (config.patch_position_embeddings).
  torch::nn::Embedding patch_row{nullptr}, patch_col{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null with tied embeddings
  // The head's [vocab, d_model] matrix: lm_head's, or the embedding's when tied.
  const torch::Tensor& output_weight() const;

 private:
  void initialize_weights();
  // Token embeddings with image patches projected in at the <|patch|> positions.
  torch::Tensor embed_input(const ModelInput& input);
  ModelConfig config_;
  torch::Tensor inv_freq_;   // [head_dim/2]
  torch::Tensor pair_axis_;  // [head_dim/2] int64: which of (t,row,col) each rotary pair follows
};
TORCH_MODULE(Transformer);

// Which of (t, row, col) each rotary frequency pair follows: sections interleaved across the spectrum.
std::vector<int64_t> mrope_pair_axes(const ModelConfig& config);
// Text positions: (t, t, t) for t = start .. start+length-1, as [1, length, 3].
torch::Tensor text_positions(int64_t start, int64_t length, const torch::Device& device);

}  // namespace muse
