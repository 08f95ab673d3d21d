// Fused CPU decode: one new token for each of N sequences, with no per-op dispatch.
//
// The libtorch Transformer stays the reference (training, prefill, GPUs); on a CPU, eager decoding of a small
// model spends most of each token in op dispatch (~340 small ops per token at ~2 us each). CpuDecoder runs the
// same math as TransformerImpl::forward for T = 1 as plain loops over the model's own weights (read in place,
// no copies) and the engine's paged KV pool (src/engine/kv_layout.h):
//   embed -> L x [RMSNorm -> q,k,v -> (QK-norm) -> M-RoPE -> write k,v to the pool -> attention over the
//   sequence's blocks -> wo (+ residual)] -> [RMSNorm -> SwiGLU -> w_down (+ residual)] -> RMSNorm -> lm_head
// The [N, d] x [d, *] products run in a register-tiled kernel for small N (OpenBLAS for large N or CPUs without
// AVX2), everything else is vector loops; x86-64-v3 / v4 versions are chosen at run time, so the build needs no
// -march flags. A step allocates
// nothing once its workspace has grown to the largest batch and context seen.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "engine/kv_layout.h"
#include "model/transformer.h"

namespace muse {

// Per-layer base pointers of a paged KV pool: keys[l] and values[l] each point at
// [num_blocks, block_size, n_kv_heads, head_dim] floats.
struct KVPoolView {
  KVLayout layout;
  std::vector<float*> keys, values;
  // From per-layer float32 CPU tensors of that shape (contiguous); MuseError otherwise.
  static KVPoolView of(const std::vector<torch::Tensor>& keys, const std::vector<torch::Tensor>& values);
};

// One sequence's input to a decode step.
struct DecodeRequest {
  int64_t token = 0;
  std::array<int64_t, 3> position = {0, 0, 0};  // (t, row, col); text: t = row = col
  // The pool holds kv->length tokens of this sequence; this step's keys/values go to token index kv->length,
  // so kv->block_table must already cover it. The step does not change kv: the caller advances the length.
  const SequenceKV* kv = nullptr;
  const float* embedding = nullptr;  // optional [d_model]: used instead of the token's embedding row
};

// Where the fused path's time goes (filled when CpuDecoder::profile is true).
struct DecodeTimings {
  double gemm_s = 0, attention_s = 0, other_s = 0;
  int64_t steps = 0, tokens = 0;
  double total_s() const { return gemm_s + attention_s + other_s; }
};

class CpuDecoder {
 public:
  // Reads `model`'s parameters in place: they must be float32, contiguous and on the CPU, and must outlive the
  // decoder (in-place updates such as loading weights are seen; re-registering parameters is not).
  explicit CpuDecoder(TransformerImpl& model);

  // One decode step for n sequences: writes each one's new keys/values into the pool and returns the logits
  // [n, vocab] (row-major), valid until the next call.
  const float* step(const DecodeRequest* requests, int64_t n, const KVPoolView& pool);

  const ModelConfig& config() const { return config_; }
  // Products with at most this many rows (sequences) use the built-in AVX2/AVX-512 kernel that reads the weights
  // in place; larger batches, and CPUs without AVX2, use OpenBLAS (sgemm, or sgemv for one row). 0: always BLAS.
  int64_t kernel_max_rows = 64;
  bool profile = false;
  DecodeTimings timings;

 private:
  struct LayerWeights {
    const float *attn_norm, *wq, *wk, *wv, *wo, *q_norm, *k_norm, *ffn_norm, *w_gate, *w_up, *w_down;
  };
  struct Workspace {
    std::vector<float> x, xn, q, k, v, att, gate, up, logits;  // [n, width] each
    std::vector<float> cos_q, sin_q, cos_k, sin_k;             // [n, head_dim/2]: this step's rotations
    std::vector<float> scores;                                 // [n_heads, context]
  };
  void reserve(int64_t n, int64_t context);
  void rotations(const DecodeRequest* requests, int64_t n);
  void attention_layer(const DecodeRequest* requests, int64_t n, const KVPoolView& pool, int64_t layer);

  ModelConfig config_;
  const float* embed_ = nullptr;
  const float* norm_ = nullptr;
  const float* lm_head_ = nullptr;
  const float* inv_freq_ = nullptr;  // [head_dim/2], the model's own buffer
  std::vector<int64_t> pair_axis_;   // [head_dim/2]: which of (t, row, col) each rotary pair follows
  std::vector<LayerWeights> layers_;
  Workspace ws_;
};

// Copies the keys/values of tokens [0, count) of batch row `row` of a libtorch KVCache (e.g. after a prefill
// with TransformerImpl::forward) into `seq`'s blocks as token indices [0, count). The block table must cover
// them; seq.length is not changed.
void store_kv_cache(const KVCache& cache, int64_t row, int64_t count, const SequenceKV& seq, const KVPoolView& pool);

}  // namespace muse
