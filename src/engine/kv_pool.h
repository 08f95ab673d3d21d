// The engine's paged KV pool (layout: src/engine/kv_layout.h). One float32 tensor per layer for keys and one for
// values, [num_blocks, block_size, n_kv_heads, head_dim], allocated once from a byte budget. Sequences own block
// tables; blocks are reference-counted so forks share their parent's blocks, and a shared, partially filled last
// block is copied before a sequence writes into it (copy-on-write).
//
// Not thread-safe: one thread (the engine loop) allocates and frees. The usage counters are atomics, so other
// threads may read bytes_in_use() / used_blocks() at any time.
#pragma once
#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include <torch/types.h>

#include "engine/kv_layout.h"
#include "model/config.h"

namespace muse {

class KVPool {
 public:
  // As many blocks as `kv_mem_bytes` holds (keys and values of every layer). MuseError if not even one fits.
  KVPool(const ModelConfig& config, int64_t kv_mem_bytes, int64_t block_size = 16,
         const torch::Device& device = torch::kCPU);
  KVPool(const KVPool&) = delete;
  KVPool& operator=(const KVPool&) = delete;

  const KVLayout& layout() const { return layout_; }
  const std::vector<torch::Tensor>& keys() const { return keys_; }
  const std::vector<torch::Tensor>& values() const { return values_; }
  const torch::Device& device() const { return device_; }

  int64_t num_blocks() const { return layout_.num_blocks; }
  int64_t block_size() const { return layout_.block_size; }
  int64_t block_bytes() const { return layout_.block_size * layout_.bytes_per_token(); }  // all layers, K and V
  int64_t used_blocks() const { return used_.load(std::memory_order_relaxed); }
  // Free, or held by the prefix cache alone (evicted when needed).
  int64_t free_blocks() const { return num_blocks() - used_blocks() + idle_cached_.load(std::memory_order_relaxed); }
  int64_t bytes_in_use() const { return used_blocks() * block_bytes(); }
  int64_t capacity_bytes() const { return num_blocks() * block_bytes(); }
  // Blocks that hold `tokens` tokens.
  int64_t blocks_for(int64_t tokens) const { return (tokens + block_size() - 1) / block_size(); }
  int refcount(int32_t block) const { return refcount_.at(static_cast<size_t>(block)); }

  // Blocks that appending `new_tokens` to `seq` would take from the free list (new blocks, plus one if its last
  // block is partial and shared and must be copied first).
  int64_t blocks_needed(const SequenceKV& seq, int64_t new_tokens) const;
  // Blocks `seq` will still take from the free list to grow to `final_length` tokens.
  int64_t future_blocks(const SequenceKV& seq, int64_t final_length) const;
  // Makes slots [seq.length, seq.length + new_tokens) writable: copies a shared partial last block, appends
  // fresh blocks. Returns false (and changes nothing) when the pool has too few free blocks. Does not change
  // seq.length: the caller advances it once the keys/values are written.
  bool reserve(SequenceKV& seq, int64_t new_tokens);
  // A new sequence sharing the first `length` tokens of `seq` (all of them when length < 0): the blocks that
  // hold them gain a reference.
  SequenceKV fork(const SequenceKV& seq, int64_t length = -1);
  // Drops every block reference of `seq` and empties it.
  void release(SequenceKV& seq);

  // ---- The prefix cache (off until enabled). Full blocks of prompts that were prefilled stay behind, each
  // under a key that hashes everything up to its end (tokens, positions, pixels: see prefix_block_keys in
  // engine/scheduler.h); a later sequence that begins the same way shares them instead of prefilling again.
  // A block only the cache holds counts as free and is evicted, least recently used first, when one is needed.
  void enable_prefix_cache(bool on) { prefix_cache_ = on; }
  bool prefix_cache() const { return prefix_cache_; }
  // Keeps the first keys.size() blocks of `seq` under those keys (blocks already cached are left as they are).
  void cache_prefix(const SequenceKV& seq, const std::vector<uint64_t>& keys);
  // The longest leading run of `keys` that is cached, shared into a new sequence (length: whole blocks).
  SequenceKV cached_prefix(const std::vector<uint64_t>& keys);
  int64_t cached_blocks() const { return static_cast<int64_t>(cache_.size()); }
  int64_t cache_evictions() const { return evictions_; }

  // Flat slot (block * block_size + offset) of token `index` of `seq`.
  int64_t slot(const SequenceKV& seq, int64_t index) const {
    return static_cast<int64_t>(seq.block_table[static_cast<size_t>(index / block_size())]) * block_size() +
           index % block_size();
  }

 private:
  int32_t allocate_block();
  bool partial_block_shared(const SequenceKV& seq) const;  // its block with free slots is also someone else's
  void ref(int32_t block);
  void unref(int32_t block);
  bool evict_one();  // frees the least recently used block only the cache holds; false if there is none

  KVLayout layout_;
  torch::Device device_;
  std::vector<torch::Tensor> keys_, values_;
  std::vector<int32_t> free_list_;
  std::vector<int> refcount_;
  std::atomic<int64_t> used_{0};
  // Prefix cache: key -> block, and per block its key and last use (0: not cached).
  bool prefix_cache_ = false;
  std::unordered_map<uint64_t, int32_t> cache_;
  std::vector<uint64_t> block_key_;
  std::vector<uint8_t> cached_;
  std::vector<uint64_t> last_use_;
  uint64_t clock_ = 0;
  int64_t evictions_ = 0;
  std::atomic<int64_t> idle_cached_{0};  // cached blocks nobody else holds
};

}  // namespace muse
