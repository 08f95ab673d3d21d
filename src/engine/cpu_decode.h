// Fused CPU decode: one new token for each of N sequences, with no per-op dispatch.
//
// The libtorch Transformer stays the reference (training, prefill, GPUs); on a CPU, eager decoding of a small
// model spends most of each token in op dispatch (~340 small ops per token at ~2 us each). CpuDecoder runs the
// same math as TransformerImpl::forward for T = 1 as plain loops over the model's own weights (read in place,
// no copies) and the engine's paged KV pool (src/engine/kv_layout.h):
//   embed -> L x [RMSNorm -> q,k,v -> (QK-norm) -> M-RoPE -> write k,v to the pool -> attention over the
//   sequence's blocks -> wo (+ residual)] -> [RMSNorm -> SwiGLU/ReLU2 -> w_down (+ residual)] -> RMSNorm -> lm_head
// The [N, d] x [d, *] products run either in a register-tiled kernel (an outer-product one over a packed copy of
// the weights made at construction) or in OpenBLAS (sgemm, or sgemv for one row): which one is faster depends
// on the CPU (AVX2 vs AVX-512, OpenBLAS's kernels for it), the shape and the batch, so the decoder measures them
// on the running machine, per product and row-count bucket, on its first steps (see
// CpuDecoder::kernel_max_rows). Everything else is vector loops;
// x86-64-v3 / v4 versions are chosen at run time, so the build needs no -march flags. With threads > 1, the
// products' output columns and attention's (sequence, kv head) pairs are split over a persistent pool
// (engine/thread_pool.h). A step allocates nothing once its workspace has grown to the largest batch and context
// seen.
//
// Threads and OpenBLAS: OpenBLAS keeps its own pool, sized process-wide by openblas_set_num_threads
// (runtime/runtime.h: configure_threads). A decoder with more than one thread sets OpenBLAS to 1 thread for the
// duration of each step() and restores the count after it, so that its workers may each call OpenBLAS on their
// column slice and OpenBLAS's own threads (which spin for a while after each call) never compete with them; the
// measured choice may still give one product OpenBLAS's threads back for its call ("blas threaded", from the
// calling thread, the decoder's workers idle). Another thread calling OpenBLAS during a step runs it on one
// thread meanwhile. Torch's intra-op threads are not used by this path.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/kv_layout.h"
#include "engine/thread_pool.h"
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
  // decoder (in-place updates such as loading weights are seen; re-registering parameters is not). The products'
  // weights are also copied into the packed kernel's layout; a step packs again any whose tensor version changed
  // (so writes through a raw data pointer, which bump no version, would not be seen by the kernel).
  // `threads`: the decoder's own threads, the caller's included (<= 0: all cores).
  explicit CpuDecoder(TransformerImpl& model, int threads = 1);
  ~CpuDecoder();

  // One decode step for n sequences: writes each one's new keys/values into the pool and returns the logits
  // [n, vocab] (row-major), valid until the next call.
  const float* step(const DecodeRequest* requests, int64_t n, const KVPoolView& pool);

  const ModelConfig& config() const { return config_; }
  int threads() const { return pool_->threads(); }
  // The decoder's threads, for work between its steps (the engine samples on them); never during step().
  ThreadPool& pool() { return *pool_; }

  // How each product runs: the built-in kernel or OpenBLAS, on the calling thread alone or split over the pool.
  // -1 (default): measured on the real work. For each product (q/k/v, wo, gate/up, down, lm_head; attention:
  // one thread or all) and row-count bucket (1, 2, 3-4, 5-8, ...), the first calls try every way kSamples times
  // (once only if it takes over twice the best) and the one with the least time per row runs from then on; its time keeps being tracked (a moving average),
  // and every kProbeEvery calls one of the others is tried again, so the choice follows the machine (a second
  // core taken by another process makes one thread the faster). The choice changes speed only: every way
  // computes the same products up to float rounding (the kernel's results do not depend on the split at all).
  // >= 0: fixed, the kernel up to this many rows and OpenBLAS above (0: always OpenBLAS), split over all the
  // threads. CPUs without AVX2 always use OpenBLAS.
  int64_t kernel_max_rows = -1;
  static constexpr int kRowBuckets = 10, kSamples = 3, kProbeEvery = 64;
  // One line per measured (product, bucket): "lm_head n<=16: kernel 1 thr 41.2, ... us/row -> kernel 2 thr".
  std::string kernel_choices() const;

  bool profile = false;
  DecodeTimings timings;

 private:
  struct LayerWeights {
    const float *attn_norm, *wq, *wk, *wv, *wo, *q_norm, *k_norm, *ffn_norm, *w_gate, *w_up, *w_down;
    const float* packed[7];  // wq, wk, wv, wo, w_gate, w_up, w_down in the packed kernel's layout (or null)
    // w_gate is null for ReLU2
  };
  // A product's weight [out, K] and its packed copy (cpu_decode.cpp: pack_panels) for the kernel: an
  // outer-product kernel over contiguous outputs. Packed when the decoder is made; packed again by a step that
  // finds the tensor's version changed (in-place updates such as loading weights).
  struct PackedWeight {
    torch::Tensor source;
    int64_t version = -1;  // -1: not tracked (inference tensors have no version counter)
    float* packed = nullptr;
  };
  void pack(PackedWeight& p);
  void repack_changed();
  struct Workspace {
    std::vector<float> x, xn, q, k, v, att, gate, up, logits;  // [n, width] each
    std::vector<float> cos_q, sin_q, cos_k, sin_k;             // [n, head_dim/2]: this step's rotations
    std::vector<float> scores;                                 // [threads, n_heads, context]
  };
  // The products of a step and attention, one measured choice each.
  enum Op { kQKV, kWo, kGateUp, kDown, kLMHead, kAttention, kOps };
  // Ways to run a product: the kernel or single-threaded OpenBLAS, on the calling thread or split over the pool,
  // or OpenBLAS on the calling thread with its own threads (when it has more than one outside the step).
  enum Way { kKernel1, kKernelSplit, kBlas1, kBlasSplit, kBlasThreaded, kWays };
  struct Product {
    const float* w;
    const float* packed;  // w packed, or null
    int64_t out;
    float* y;
    bool accumulate;
  };
  struct Choice {
    double estimate[kWays] = {};  // seconds per row: least of the first samples, then a moving average
    int samples[kWays] = {};
    int pick = -1;  // the current best, once every way has kSamples
    int64_t calls = 0;
    int probe = 0;  // the way the next probe tries
  };
  // The way to run op for n rows among `available` (bit mask of Way), and its bookkeeping after the run.
  int choose_way(Op op, int64_t n, unsigned available, Choice** measured);
  static void record_way(Choice& choice, int way, double per_row, unsigned available);
  void reserve(int64_t n, int64_t context);
  void rotations(const DecodeRequest* requests, int64_t n);
  void attention_layer(const DecodeRequest* requests, int64_t n, const KVPoolView& pool, int64_t layer);
  // What follows a feed-forward product, column chunk by column chunk while the outputs are in cache.
  enum class After { Nothing, SwiGLU, ReLU2 };
  // y (+)= x [n, K] . w^T for every product (same x). SwiGLU: products {gate, up}, then gate = silu(gate) * up;
  // ReLU2: product {up}, then up = relu(up)^2.
  void products(Op op, const float* x, int64_t n, int64_t K, const Product* ps, int count, After after = After::Nothing);

  ModelConfig config_;
  const float* embed_ = nullptr;
  const float* norm_ = nullptr;
  const float* lm_head_ = nullptr;
  const float* lm_head_packed_ = nullptr;
  std::vector<float> packed_store_;  // every packed weight, 64-byte aligned within
  std::vector<PackedWeight> packed_;
  const float* inv_freq_ = nullptr;  // [head_dim/2], the model's own buffer
  std::vector<int64_t> pair_axis_;   // [head_dim/2]: which of (t, row, col) each rotary pair follows
  std::vector<LayerWeights> layers_;
  Workspace ws_;
  int64_t context_ = 0;  // the scores' room per head
  std::unique_ptr<ThreadPool> pool_;
  int blas_outside_ = 1;  // OpenBLAS's threads outside step() (inside, with a pool, it runs 1)
  Choice choices_[kOps][kRowBuckets];
};

// Copies the keys/values of tokens [0, count) of batch row `row` of a libtorch KVCache (e.g. after a prefill
// with TransformerImpl::forward) into `seq`'s blocks as token indices [0, count). The block table must cover
// them; seq.length is not changed.
void store_kv_cache(const KVCache& cache, int64_t row, int64_t count, const SequenceKV& seq, const KVPoolView& pool);

}  // namespace muse
