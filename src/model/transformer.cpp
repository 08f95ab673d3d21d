#include "model/transformer.h"

#include <array>
#include <cmath>
#include <limits>

#include "model/fused_ops.h"
#include "util/error.h"

namespace muse {

KVCache KVCache::allocate(const ModelConfig& config, int64_t batch, int64_t capacity, const torch::Device& device,
                          torch::ScalarType dtype) {
  KVCache cache;
  cache.capacity = capacity;
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  for (int64_t i = 0; i < config.n_layers; ++i) {
    cache.keys.push_back(torch::zeros({batch, config.n_kv_heads, capacity, config.head_dim()}, options));
    cache.values.push_back(torch::zeros({batch, config.n_kv_heads, capacity, config.head_dim()}, options));
  }
  return cache;
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return rms_norm(x, weight, eps_);
}

torch::Tensor text_positions(int64_t start, int64_t length, const torch::Device& device) {
  auto t = torch::arange(start, start + length, torch::TensorOptions().dtype(torch::kInt64).device(device));
  return t.view({1, length, 1}).expand({1, length, 3}).contiguous();
}

BlockImpl::BlockImpl(const ModelConfig& c) : config_(c) {
  auto linear = [](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  const int64_t hd = c.head_dim();
  attn_norm = register_module("attn_norm", RMSNorm(c.d_model, c.norm_eps));
  wq = register_module("wq", linear(c.d_model, c.n_heads * hd));
  wk = register_module("wk", linear(c.d_model, c.n_kv_heads * hd));
  wv = register_module("wv", linear(c.d_model, c.n_kv_heads * hd));
  wo = register_module("wo", linear(c.n_heads * hd, c.d_model));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(hd, c.norm_eps));
    k_norm = register_module("k_norm", RMSNorm(hd, c.norm_eps));
  }
  ffn_norm = register_module("ffn_norm", RMSNorm(c.d_model, c.norm_eps));
  if (c.ffn_activation == FfnActivation::SwiGLU) w_gate = register_module("w_gate", linear(c.d_model, c.ffn_hidden));
  w_up = register_module("w_up", linear(c.d_model, c.ffn_hidden));
  w_down = register_module("w_down", linear(c.ffn_hidden, c.d_model));
}

torch::Tensor BlockImpl::attention_per_document(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                                const AttentionPlan& plan) {
  const int64_t B = q.size(0), T = q.size(1), H = config_.n_heads, Hkv = config_.n_kv_heads;
  const int64_t hd = config_.head_dim();
  // One split per tensor (its backward is one concatenation; per-span narrowing would materialise a full-size
  // zero gradient per span).
  const auto qs = q.reshape({B * T, H, hd}).split_with_sizes(plan.span_lengths);
  const auto ks = k.reshape({B * T, Hkv, hd}).split_with_sizes(plan.span_lengths);
  const auto vs = v.reshape({B * T, Hkv, hd}).split_with_sizes(plan.span_lengths);
  std::vector<torch::Tensor> outs;
  outs.reserve(qs.size());
  for (size_t i = 0; i < qs.size(); ++i) {
    const int64_t L = plan.span_lengths[i];
    auto kd = ks[i].transpose(0, 1), vd = vs[i].transpose(0, 1);  // [Hkv, L, hd]
    if (Hkv != H) {
      kd = kd.unsqueeze(1).expand({Hkv, H / Hkv, L, hd}).reshape({H, L, hd});
      vd = vd.unsqueeze(1).expand({Hkv, H / Hkv, L, hd}).reshape({H, L, hd});
    }
    auto scores = torch::matmul(qs[i].transpose(0, 1), kd.transpose(-2, -1));  // [H, L, L]
    if (L > 1) scores.add_(plan.causal.at(L));
    outs.push_back(torch::matmul(torch::softmax(scores, -1), vd).transpose(0, 1));  // [L, H, hd]
  }
  return torch::cat(outs, 0).view({B, T, H * hd});
}

torch::Tensor BlockImpl::attention(const torch::Tensor& x, const Rotation& rotation, const AttentionPlan& plan,
                                   KVCache* cache, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), H = config_.n_heads, Hkv = config_.n_kv_heads;
  const int64_t hd = config_.head_dim();
  auto q = wq(x).view({B, T, H, hd});
  auto k = wk(x).view({B, T, Hkv, hd});
  auto v = wv(x).view({B, T, Hkv, hd});
  if (config_.qk_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  // Adjacent pairs (2i, 2i+1) rotated as complex numbers (llama.cpp's pairing; docs/ARCHITECTURE.md).
  q = rotate_pairs(q, rotation.queries);  // [B, T, H, hd], already scaled by 1/sqrt(hd)
  k = rotate_pairs(k, rotation.keys);     // [B, T, Hkv, hd]
  if (!plan.spans.empty()) return wo(attention_per_document(q, k, v, plan));
  q = q.transpose(1, 2);  // [B, H, T, hd]
  k = k.transpose(1, 2);  // [B, Hkv, T, hd]
  v = v.transpose(1, 2);

  int64_t past = 0;
  if (cache && cache->paged) {
    // Paged pool: write the new keys/values to their slots, then gather each row's keys (past and new).
    const auto& slots = *cache->paged;
    auto pool_k = cache->keys[layer].view({-1, Hkv, hd}), pool_v = cache->values[layer].view({-1, Hkv, hd});
    pool_k.index_copy_(0, slots.write, k.transpose(1, 2).reshape({B * T, Hkv, hd}));
    pool_v.index_copy_(0, slots.write, v.transpose(1, 2).reshape({B * T, Hkv, hd}));
    const auto read = slots.read.reshape({-1});
    const int64_t L = slots.read.size(1);
    k = pool_k.index_select(0, read).view({B, L, Hkv, hd}).transpose(1, 2);
    v = pool_v.index_select(0, read).view({B, L, Hkv, hd}).transpose(1, 2);
  } else if (cache) {
    past = cache->length;
    if (past + T > cache->capacity)
      throw MuseError("KV cache full: " + std::to_string(past + T) + " positions needed, capacity " +
                          std::to_string(cache->capacity),
                      ErrorKind::OverCapacity);
    cache->keys[layer].narrow(2, past, T).copy_(k);
    cache->values[layer].narrow(2, past, T).copy_(v);
    k = cache->keys[layer].narrow(2, 0, past + T);
    v = cache->values[layer].narrow(2, 0, past + T);
  }
  if (Hkv != H) {  // grouped-query attention: each kv head serves H/Hkv query heads
    const int64_t Tk = k.size(2);
    k = k.unsqueeze(2).expand({B, Hkv, H / Hkv, Tk, hd}).reshape({B, H, Tk, hd});
    v = v.unsqueeze(2).expand({B, Hkv, H / Hkv, Tk, hd}).reshape({B, H, Tk, hd});
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1));
  if (plan.mask.defined()) scores.add_(plan.mask);  // in place: matmul's backward does not need its output
  auto out = torch::matmul(torch::softmax(scores, -1), v);  // [B, H, T, hd]
  return wo(out.transpose(1, 2).reshape({B, T, H * hd}));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const Rotation& rotation, const AttentionPlan& plan,
                                 KVCache* cache, int64_t layer) {
  auto h = x + attention(attn_norm(x), rotation, plan, cache, layer);
  auto n = ffn_norm(h);
  if (config_.ffn_activation == FfnActivation::ReLU2) return h + w_down(torch::relu(w_up(n)).square());
  return h + w_down(swiglu(w_gate(n), w_up(n)));
}

TransformerImpl::TransformerImpl(const ModelConfig& config) : config_(config) {
  config_.validate();
  embed = register_module("embed", torch::nn::Embedding(config_.vocab_size, config_.d_model));
  if (config_.sees_images())
    patch_proj = register_module("patch_proj", torch::nn::Linear(config_.patch_dim(), config_.d_model));
  if (config_.sees_images() && config_.patch_position_embeddings) {
    patch_row = register_module("patch_row", torch::nn::Embedding(config_.max_image_patches, config_.d_model));
    patch_col = register_module("patch_col", torch::nn::Embedding(config_.max_image_patches, config_.d_model));
  }
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.n_layers; ++i) layers->push_back(Block(config_));
  norm = register_module("norm", RMSNorm(config_.d_model, config_.norm_eps));
  if (!config_.tie_embeddings)
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config_.d_model, config_.vocab_size).bias(false)));

  const int64_t pairs = config_.head_dim() / 2;
  inv_freq_ = register_buffer(
      "inv_freq", torch::pow(config_.rope_theta, -torch::arange(0, pairs, torch::kFloat64) * 2.0 / config_.head_dim())
                      .to(torch::kFloat32));
  pair_axis_ = register_buffer("pair_axis", torch::tensor(mrope_pair_axes(config_), torch::kInt64));
  initialize_weights();
}

const torch::Tensor& TransformerImpl::output_weight() const {
  return config_.tie_embeddings ? embed->weight : lm_head->weight;
}

std::vector<int64_t> mrope_pair_axes(const ModelConfig& config) {
  // Interleave the sections across the frequency spectrum (t, row, col, t, ...) rather than giving each axis
  // a contiguous block: contiguous blocks leave the last axis only the lowest frequencies, which barely
  // rotate over an image's few dozen columns. Each pair goes to the axis with the most quota left.
  const auto& sections = config.mrope_sections;
  std::array<int64_t, 3> used = {0, 0, 0};
  std::vector<int64_t> axis;
  for (int64_t i = 0; i < config.head_dim() / 2; ++i) {
    int best = -1;
    double best_left = -1.0;
    for (int a = 0; a < 3; ++a) {
      if (used[a] >= sections[a]) continue;
      const double left = static_cast<double>(sections[a] - used[a]) / static_cast<double>(sections[a]);
      if (left > best_left) best = a, best_left = left;
    }
    axis.push_back(best);
    ++used[best];
  }
  return axis;
}

void TransformerImpl::initialize_weights() {
  torch::NoGradGuard no_grad;
  const double std = config_.init_std;
  // Residual projections shrink with depth so the residual stream's variance stays O(1) at init.
  const double residual_std = std / std::sqrt(2.0 * static_cast<double>(config_.n_layers));
  // Untied: unit-variance embeddings (the first norm rescales them anyway). Tied, the matrix is also the head,
  // whose logits over unit-RMS inputs then have unit variance.
  const double token_std = config_.tie_embeddings ? 1.0 / std::sqrt(static_cast<double>(config_.d_model)) : 1.0;
  embed->weight.normal_(0.0, token_std);
  if (patch_proj) {
    // A white patch (all inputs 1) lands at the token embeddings' scale: unit variance untied, 1/d tied. At 14x
    // the tokens' scale (tied, before this rule) the blocks' updates barely moved the patch positions.
    patch_proj->weight.normal_(0.0, token_std / std::sqrt(static_cast<double>(config_.patch_dim())));
    patch_proj->bias.zero_();
  }
  // At the tokens' scale too: distinct from the first step, and no larger than what they are added to.
  if (patch_row) patch_row->weight.normal_(0.0, token_std);
  if (patch_col) patch_col->weight.normal_(0.0, token_std);
  for (const auto& module : *layers) {
    auto* block = module->as<BlockImpl>();
    for (auto* linear : {&block->wq, &block->wk, &block->wv, &block->w_gate, &block->w_up})
      if (*linear) (*linear)->weight.normal_(0.0, std);
    if (config_.zero_init_projections) {
      block->wo->weight.zero_();
      block->w_down->weight.zero_();
    } else {
      block->wo->weight.normal_(0.0, residual_std);
      block->w_down->weight.normal_(0.0, residual_std);
    }
  }
  // Zero output head: the first loss is exactly ln(vocab) and early steps don't fight random logits.
  if (lm_head) lm_head->weight.zero_();
}

torch::Tensor attention_mask(const ModelInput& input, int64_t past) {
  const int64_t T = input.tokens.size(1);
  if (T == 1 && !input.document_ids.defined()) return {};  // one new token sees everything cached
  const auto options = torch::TensorOptions().dtype(torch::kBool).device(input.tokens.device());
  // Causal: query i (absolute position past+i) sees keys 0..past+i.
  auto blocked = torch::ones({T, past + T}, options).triu(past + 1);
  if (input.document_ids.defined()) {
    if (past != 0) throw MuseError("document_ids are for training rows, not for cached decoding");
    const auto& doc = input.document_ids;  // [B, T]
    blocked = blocked.unsqueeze(0) | doc.unsqueeze(2).ne(doc.unsqueeze(1));  // [B, T, T]
    return blocked.unsqueeze(1);                                             // [B, 1, T, T]
  }
  return blocked;
}

std::vector<DocumentSpan> document_spans(const torch::Tensor& document_ids) {
  const auto ids = document_ids.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t* p = ids.data_ptr<int64_t>();
  std::vector<DocumentSpan> spans;
  for (int64_t b = 0; b < B; ++b) {
    int64_t start = 0;
    for (int64_t t = 1; t <= T; ++t)
      if (t == T || p[b * T + t] != p[b * T + t - 1]) {
        spans.push_back({b, start, t - start});
        start = t;
      }
  }
  return spans;
}

// Per-document attention where it pays: training rows (no cache) with document ids, on CPU (a GPU prefers one
// large masked kernel to many small ones), documents long enough on average. The fused-ops switch turns it off
// with the other CPU kernels.
constexpr int64_t kMinMeanDocumentTokens = 32;
AttentionPlan plan_attention(const ModelInput& input, const KVCache* cache) {
  AttentionPlan plan;
  if (cache && cache->paged) {
    plan.mask = cache->paged->mask;  // per row: each sequence has its own past
    return plan;
  }
  if (!cache && input.document_ids.defined() && input.tokens.device().is_cpu() && fused_ops_enabled()) {
    plan.spans = document_spans(input.document_ids);
    // Each document costs a dozen small ops forward and backward: with documents shorter than ~32 tokens that
    // overhead exceeds the masked work saved (measured: tiny B64 T64 with 16-token documents ran 0.7x as fast).
    if (static_cast<int64_t>(plan.spans.size()) * kMinMeanDocumentTokens > input.tokens.numel()) plan.spans.clear();
  }
  if (!plan.spans.empty()) {
    const auto options = torch::TensorOptions().dtype(torch::kFloat32);
    for (const auto& span : plan.spans) {
      plan.span_lengths.push_back(span.length);
      if (span.length > 1 && !plan.causal.count(span.length))
        plan.causal[span.length] = torch::full({span.length, span.length}, -std::numeric_limits<float>::infinity(),
                                               options).triu_(1);
    }
    return plan;
  }
  if (const auto blocked = attention_mask(input, cache ? cache->length : 0); blocked.defined())
    plan.mask = torch::zeros(blocked.sizes(), torch::TensorOptions().dtype(torch::kFloat32).device(blocked.device()))
                    .masked_fill_(blocked, -std::numeric_limits<float>::infinity());
  return plan;
}

torch::Tensor TransformerImpl::embed_input(const ModelInput& input) {
  auto x = embed(input.tokens);
  if (!input.patches.defined() || input.patches.size(0) == 0) return x;
  if (!patch_proj) throw MuseError("this model is text-only (patch_size 0): it cannot read images");
  if (config_.patch_token_id < 0) throw MuseError("model config has no patch_token_id: it cannot place image patches");
  if (input.patches.dim() != 2 || input.patches.size(1) != config_.patch_dim())
    throw MuseError("image patches must be [N, " + std::to_string(config_.patch_dim()) + "]");
  const auto is_patch = input.tokens.eq(config_.patch_token_id);
  const int64_t slots = is_patch.sum().item<int64_t>();
  if (slots != input.patches.size(0))
    throw MuseError("model input has " + std::to_string(slots) + " <|patch|> tokens but " +
                    std::to_string(input.patches.size(0)) + " patches");
  // Boolean-mask indexing visits positions in row-major order, the order the patches are listed in.
  auto patches = patch_proj(input.patches.to(x.dtype()));
  if (patch_row) {
    // A patch sits at (t, t + row, t + col) (TokenSequence::append_image), so its row and column are the
    // offsets of the last two axes from the first, whatever text came before the image.
    const auto at = input.positions.index({is_patch});  // [N, 3]
    const int64_t last = config_.max_image_patches - 1;
    const auto row = (at.select(1, 1) - at.select(1, 0)).clamp(0, last).to(torch::kLong);
    const auto col = (at.select(1, 2) - at.select(1, 0)).clamp(0, last).to(torch::kLong);
    patches = patches + patch_row(row) + patch_col(col);
  }
  return x.index_put({is_patch}, patches);
}

torch::Tensor TransformerImpl::forward(const ModelInput& input, KVCache* cache) {
  const auto& tokens = input.tokens;
  if (tokens.dim() != 2) throw MuseError("model input tokens must be [batch, time]");
  if (input.positions.dim() != 3 || input.positions.size(0) != tokens.size(0) ||
      input.positions.size(1) != tokens.size(1) || input.positions.size(2) != 3)
    throw MuseError("model input positions must be [batch, time, 3]");
  // Once per forward, shared by all layers: the rotations e^(i position[axis of pair] * inv_freq) and the
  // additive attention mask. Queries' rotation also carries the 1/sqrt(head_dim) score scale for free.
  const auto angles =
      (input.positions.index_select(2, pair_axis_).to(torch::kFloat32) * inv_freq_).unsqueeze(2);  // [B,T,1,hd/2]
  Rotation rotation;
  rotation.keys = torch::polar(torch::ones_like(angles), angles);
  rotation.queries = rotation.keys * (1.0 / std::sqrt(static_cast<double>(config_.head_dim())));
  const AttentionPlan plan = plan_attention(input, cache);

  auto x = embed_input(input);
  for (size_t i = 0; i < layers->size(); ++i)
    x = layers[i]->as<BlockImpl>()->forward(x, rotation, plan, cache, static_cast<int64_t>(i));
  if (cache && !cache->paged) cache->length += tokens.size(1);
  auto logits = torch::linear(norm(x), output_weight());
  if (config_.logit_softcap > 0) logits = torch::tanh(logits / config_.logit_softcap) * config_.logit_softcap;
  return logits;
}

}  // namespace muse
