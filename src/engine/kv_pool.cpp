#include "engine/kv_pool.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace muse {

KVPool::KVPool(const ModelConfig& config, int64_t kv_mem_bytes, int64_t block_size, const torch::Device& device)
    : device_(device) {
  if (block_size <= 0) throw MuseError("KV block size must be positive, got " + std::to_string(block_size));
  layout_.n_layers = config.n_layers;
  layout_.n_kv_heads = config.n_kv_heads;
  layout_.head_dim = config.head_dim();
  layout_.block_size = block_size;
  layout_.num_blocks = kv_mem_bytes / (block_size * layout_.bytes_per_token());
  if (layout_.num_blocks <= 0)
    throw MuseError("kv-mem " + std::to_string(kv_mem_bytes) + " bytes holds no KV block (one block of " +
                    std::to_string(block_size) + " tokens takes " +
                    std::to_string(block_size * layout_.bytes_per_token()) + " bytes)");
  if (layout_.num_blocks > INT32_MAX) throw MuseError("kv-mem is too large: more than 2^31 KV blocks");
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  for (int64_t l = 0; l < layout_.n_layers; ++l) {
    keys_.push_back(torch::zeros({layout_.num_blocks, block_size, layout_.n_kv_heads, layout_.head_dim}, options));
    values_.push_back(torch::zeros({layout_.num_blocks, block_size, layout_.n_kv_heads, layout_.head_dim}, options));
  }
  refcount_.assign(static_cast<size_t>(layout_.num_blocks), 0);
  block_key_.assign(static_cast<size_t>(layout_.num_blocks), 0);
  cached_.assign(static_cast<size_t>(layout_.num_blocks), 0);
  last_use_.assign(static_cast<size_t>(layout_.num_blocks), 0);
  // Lowest ids first (popped from the back).
  for (int64_t b = layout_.num_blocks - 1; b >= 0; --b) free_list_.push_back(static_cast<int32_t>(b));
}

int32_t KVPool::allocate_block() {
  if (free_list_.empty() && !evict_one()) throw MuseError("KV pool exhausted");  // callers check free_blocks() first
  const int32_t block = free_list_.back();
  free_list_.pop_back();
  refcount_[static_cast<size_t>(block)] = 1;
  used_.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void KVPool::ref(int32_t block) {
  int& count = refcount_.at(static_cast<size_t>(block));
  if (cached_[static_cast<size_t>(block)] && count == 1) idle_cached_.fetch_sub(1, std::memory_order_relaxed);
  ++count;
}

void KVPool::unref(int32_t block) {
  int& count = refcount_.at(static_cast<size_t>(block));
  if (count <= 0) throw MuseError("KV pool: block " + std::to_string(block) + " released twice");
  // The cache's own reference is only dropped by evict_one(), which unmarks the block first.
  if (cached_[static_cast<size_t>(block)] && count == 2) idle_cached_.fetch_add(1, std::memory_order_relaxed);
  if (--count == 0) {
    free_list_.push_back(block);
    used_.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool KVPool::partial_block_shared(const SequenceKV& seq) const {
  return seq.length % block_size() != 0 &&
         refcount(seq.block_table.at(static_cast<size_t>(seq.length / block_size()))) > 1;
}

int64_t KVPool::blocks_needed(const SequenceKV& seq, int64_t new_tokens) const {
  return future_blocks(seq, seq.length + new_tokens);
}

int64_t KVPool::future_blocks(const SequenceKV& seq, int64_t final_length) const {
  if (final_length <= seq.length) return 0;
  int64_t blocks = std::max<int64_t>(0, blocks_for(final_length) - static_cast<int64_t>(seq.block_table.size()));
  if (partial_block_shared(seq)) ++blocks;  // copy-on-write
  return blocks;
}

bool KVPool::reserve(SequenceKV& seq, int64_t new_tokens) {
  if (new_tokens <= 0) return true;
  if (blocks_needed(seq, new_tokens) > free_blocks()) return false;
  if (partial_block_shared(seq)) {
    // Someone else reads this block's first slots: write into a private copy.
    int32_t& entry = seq.block_table[static_cast<size_t>(seq.length / block_size())];
    const int32_t shared = entry;
    const int32_t copy = allocate_block();
    for (int64_t l = 0; l < layout_.n_layers; ++l) {
      keys_[static_cast<size_t>(l)][copy].copy_(keys_[static_cast<size_t>(l)][shared]);
      values_[static_cast<size_t>(l)][copy].copy_(values_[static_cast<size_t>(l)][shared]);
    }
    unref(shared);
    entry = copy;
  }
  const int64_t total = blocks_for(seq.length + new_tokens);
  while (static_cast<int64_t>(seq.block_table.size()) < total) seq.block_table.push_back(allocate_block());
  return true;
}

SequenceKV KVPool::fork(const SequenceKV& seq, int64_t length) {
  if (length < 0 || length > seq.length) length = seq.length;
  SequenceKV child;
  child.length = length;
  child.block_table.assign(seq.block_table.begin(), seq.block_table.begin() + blocks_for(length));
  for (int32_t block : child.block_table) ref(block);
  return child;
}

void KVPool::release(SequenceKV& seq) {
  for (int32_t block : seq.block_table) unref(block);
  seq.block_table.clear();
  seq.length = 0;
}

bool KVPool::evict_one() {
  int32_t victim = -1;
  for (size_t b = 0; b < cached_.size(); ++b)
    if (cached_[b] && refcount_[b] == 1 && (victim < 0 || last_use_[b] < last_use_[static_cast<size_t>(victim)]))
      victim = static_cast<int32_t>(b);
  if (victim < 0) return false;
  const auto v = static_cast<size_t>(victim);
  cache_.erase(block_key_[v]);
  cached_[v] = 0;
  idle_cached_.fetch_sub(1, std::memory_order_relaxed);
  ++evictions_;
  unref(victim);  // 1 -> 0: back on the free list
  return true;
}

void KVPool::cache_prefix(const SequenceKV& seq, const std::vector<uint64_t>& keys) {
  if (!prefix_cache_) return;
  const size_t n = std::min<size_t>(keys.size(), static_cast<size_t>(seq.length / block_size()));
  for (size_t i = 0; i < n; ++i) {
    const int32_t block = seq.block_table[i];
    const auto b = static_cast<size_t>(block);
    if (cached_[b] || cache_.count(keys[i])) continue;  // this block, or one with the same content, is kept
    cache_[keys[i]] = block;
    block_key_[b] = keys[i];
    cached_[b] = 1;
    last_use_[b] = ++clock_;
    ++refcount_[b];  // the cache's own reference (the sequence holds one: not idle yet)
  }
}

SequenceKV KVPool::cached_prefix(const std::vector<uint64_t>& keys) {
  SequenceKV out;
  if (!prefix_cache_) return out;
  for (uint64_t key : keys) {
    const auto it = cache_.find(key);
    if (it == cache_.end()) break;
    ref(it->second);
    last_use_[static_cast<size_t>(it->second)] = ++clock_;
    out.block_table.push_back(it->second);
  }
  out.length = static_cast<int64_t>(out.block_table.size()) * block_size();
  return out;
}

}  // namespace muse
