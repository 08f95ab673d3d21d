// The contract between the engine's paged KV pool and the model code that reads and writes it (the libtorch
// reference path and the fused CPU decode path).
//
// For each layer the pool holds keys and values as float32 tensors of shape
//   [num_blocks, block_size, n_kv_heads, head_dim]   (contiguous),
// keys stored after QK-norm and rotary, i.e. exactly what attention multiplies with. A sequence's cache is a
// block table plus a length: token i lives in block block_table[i / block_size], slot i % block_size.
// Blocks are reference-counted by the pool, so forks share their parent's full blocks; a partially filled
// block is copied before a sharer writes into it (copy-on-write).
#pragma once
#include <cstdint>
#include <vector>

namespace muse {

struct KVLayout {
  int64_t n_layers = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 16;  // tokens per block
  int64_t num_blocks = 0;
  // Floats in one block of one layer's keys (the same for values).
  int64_t block_floats() const { return block_size * n_kv_heads * head_dim; }
  // Bytes one token occupies across all layers, keys and values.
  int64_t bytes_per_token() const { return 2 * n_layers * n_kv_heads * head_dim * 4; }
};

// One sequence's view of the pool.
struct SequenceKV {
  std::vector<int32_t> block_table;
  int64_t length = 0;  // tokens whose keys/values are stored
};

}  // namespace muse
