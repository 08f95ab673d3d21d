// Batch building and the forward passes of one engine step: the decode batch (one token per sequence, through
// the fused CPU path or the libtorch paged path) and prefill chunks. Leaves each row's fresh logits in the
// sequence and advances its KV length; knows nothing of sampling or scheduling.
#pragma once
#include <memory>
#include <vector>

#include "engine/cpu_decode.h"
#include "engine/kv_pool.h"
#include "engine/sequence.h"
#include "model/transformer.h"

namespace muse {

class BatchRunner {
 public:
  // fused_cpu_decode: decode steps through CpuDecoder (CPU, float32) on `threads` threads (0: all cores);
  // prefill always runs the model itself.
  // kernel_max_rows: CpuDecoder::kernel_max_rows (-1: measured).
  BatchRunner(Transformer model, torch::Device device, KVPool& pool, bool fused_cpu_decode, int threads = 0,
              int64_t kernel_max_rows = -1);
  ~BatchRunner();

  // One token for every row (its token at kv.length), one forward. Throws on failure (the caller fails the rows).
  // Through the fused path a row's Sequence::fresh_logits points into the decoder's output, valid until the next
  // decode: call Sequence::own_logits() on anything that must keep them longer.
  void decode(const std::vector<Sequence*>& rows);
  // `chunk` pending tokens of one sequence.
  void prefill(Sequence& seq, int64_t chunk);
  const ModelConfig& config() const { return config_; }
  bool fused() const { return decoder_ != nullptr; }
  // The fused decoder's thread pool (null without the fused path), free between forwards.
  ThreadPool* pool() { return decoder_ ? &decoder_->pool() : nullptr; }

 private:
  void decode_fused(const std::vector<Sequence*>& rows);
  void decode_paged(const std::vector<Sequence*>& rows);
  void keep_logits(const std::vector<Sequence*>& rows, const float* logits);

  Transformer model_;
  torch::Device device_;
  KVPool& pool_;
  ModelConfig config_;
  std::unique_ptr<CpuDecoder> decoder_;
  std::unique_ptr<KVPoolView> pool_view_;
  std::vector<DecodeRequest> requests_;  // reused across steps
};

}  // namespace muse
