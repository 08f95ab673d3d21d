// The paged KV pool: sizing from a byte budget, block accounting, forks sharing blocks, copy-on-write of a shared
// partial block, and the model's paged attention agreeing with its contiguous cache.
#include "engine/kv_pool.h"

#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include "model/transformer.h"
#include "util/error.h"

using namespace muse;

namespace {

ModelConfig small_config() {
  ModelConfig c = preset_config("tiny");
  c.vocab_size = 50;
  c.n_layers = 2;
  c.max_seq_len = 128;
  return c;
}

// Writes `value` into every float of token `index` of `seq` (keys and values of every layer).
void fill_token(KVPool& pool, const SequenceKV& seq, int64_t index, float value) {
  const int64_t slot = pool.slot(seq, index);
  for (size_t l = 0; l < pool.keys().size(); ++l) {
    pool.keys()[l].view({-1, pool.layout().n_kv_heads, pool.layout().head_dim})[slot].fill_(value);
    pool.values()[l].view({-1, pool.layout().n_kv_heads, pool.layout().head_dim})[slot].fill_(-value);
  }
}

float token_value(const KVPool& pool, const SequenceKV& seq, int64_t index, size_t layer = 0) {
  const int64_t slot = pool.slot(seq, index);
  return pool.keys()[layer].view({-1, pool.layout().n_kv_heads, pool.layout().head_dim})[slot][0][0].item<float>();
}

}  // namespace

TEST(KVPool, SizedFromByteBudget) {
  const auto c = small_config();
  const int64_t per_token = 2 * c.n_layers * c.n_kv_heads * c.head_dim() * 4;
  KVPool pool(c, 10 * 16 * per_token + 5, 16);
  EXPECT_EQ(pool.num_blocks(), 10);
  EXPECT_EQ(pool.block_bytes(), 16 * per_token);
  EXPECT_EQ(pool.capacity_bytes(), 10 * 16 * per_token);
  EXPECT_EQ(pool.bytes_in_use(), 0);
  ASSERT_EQ(pool.keys().size(), static_cast<size_t>(c.n_layers));
  EXPECT_EQ(pool.keys()[0].sizes(), torch::IntArrayRef({10, 16, c.n_kv_heads, c.head_dim()}));
  EXPECT_THROW(KVPool(c, per_token, 16), MuseError);  // not even one block
}

TEST(KVPool, ReserveAndReleaseAccounting) {
  KVPool pool(small_config(), int64_t{1} << 20, 4);
  const int64_t total = pool.num_blocks();
  SequenceKV a;
  EXPECT_EQ(pool.blocks_needed(a, 9), 3);
  ASSERT_TRUE(pool.reserve(a, 9));
  a.length = 9;
  EXPECT_EQ(pool.used_blocks(), 3);
  EXPECT_EQ(pool.blocks_needed(a, 3), 0);  // slots 9..11 are in block 2 already
  EXPECT_EQ(pool.blocks_needed(a, 4), 1);
  SequenceKV big;
  EXPECT_FALSE(pool.reserve(big, total * 4 + 1));  // too large: nothing changes
  EXPECT_TRUE(big.block_table.empty());
  EXPECT_EQ(pool.used_blocks(), 3);
  pool.release(a);
  EXPECT_EQ(pool.used_blocks(), 0);
  EXPECT_EQ(pool.bytes_in_use(), 0);
  EXPECT_TRUE(a.block_table.empty());
}

TEST(KVPool, ForkSharesBlocksAndCopiesASharedPartialBlockOnWrite) {
  KVPool pool(small_config(), int64_t{1} << 20, 4);
  SequenceKV parent;
  ASSERT_TRUE(pool.reserve(parent, 6));  // blocks: [0..3] full, [4..5] partial
  for (int64_t i = 0; i < 6; ++i) fill_token(pool, parent, i, static_cast<float>(i + 1));
  parent.length = 6;
  SequenceKV child = pool.fork(parent);
  EXPECT_EQ(child.block_table, parent.block_table);
  EXPECT_EQ(pool.used_blocks(), 2);  // stored once
  EXPECT_EQ(pool.refcount(parent.block_table[0]), 2);
  EXPECT_EQ(pool.refcount(parent.block_table[1]), 2);

  // The child writes token 6: its partial block is shared, so it gets a private copy first.
  EXPECT_EQ(pool.blocks_needed(child, 1), 1);
  EXPECT_EQ(pool.future_blocks(child, 12), 2);  // the copy + one more block for 8..11
  ASSERT_TRUE(pool.reserve(child, 1));
  fill_token(pool, child, 6, 100.0f);
  child.length = 7;
  EXPECT_EQ(child.block_table[0], parent.block_table[0]);  // full block still shared
  EXPECT_NE(child.block_table[1], parent.block_table[1]);
  EXPECT_EQ(pool.refcount(parent.block_table[1]), 1);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(token_value(pool, child, i, 1), static_cast<float>(i + 1));
  EXPECT_EQ(token_value(pool, child, 6), 100.0f);
  // The parent's block is untouched; it now owns it alone and writes in place.
  EXPECT_EQ(pool.blocks_needed(parent, 1), 0);
  ASSERT_TRUE(pool.reserve(parent, 1));
  fill_token(pool, parent, 6, 7.0f);
  parent.length = 7;
  EXPECT_EQ(token_value(pool, parent, 6), 7.0f);
  EXPECT_EQ(token_value(pool, child, 6), 100.0f);

  // A prefix fork shares only the blocks holding that prefix.
  SequenceKV prefix = pool.fork(parent, 3);
  EXPECT_EQ(prefix.length, 3);
  ASSERT_EQ(prefix.block_table.size(), 1u);
  EXPECT_EQ(pool.refcount(parent.block_table[0]), 3);

  pool.release(prefix);
  pool.release(child);
  pool.release(parent);
  EXPECT_EQ(pool.used_blocks(), 0);
}

TEST(KVPool, PagedAttentionEqualsTheContiguousCache) {
  at::set_num_threads(1);
  const auto c = small_config();
  torch::manual_seed(3);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
  model->eval();

  const int64_t n = 23;
  auto tokens = torch::randint(0, c.vocab_size, {1, n}, torch::kInt64);
  ModelInput full;
  full.tokens = tokens;
  full.positions = text_positions(0, n, torch::kCPU);
  const auto reference = model->forward(full);  // [1, n, V], no cache at all

  // Paged: prefill 10 tokens, then one at a time, through scattered (non-contiguous) blocks.
  KVPool pool(c, int64_t{1} << 20, 4);
  SequenceKV other, seq;
  ASSERT_TRUE(pool.reserve(other, 5));  // occupy some blocks so seq's blocks are not 0, 1, 2, ...
  other.length = 5;
  double worst = 0.0;
  auto run = [&](int64_t begin, int64_t count) {
    ASSERT_TRUE(pool.reserve(seq, count));
    if (begin == 12) {  // interleave another sequence's allocations
      ASSERT_TRUE(pool.reserve(other, 4));
      other.length = 9;
    }
    const int64_t L = begin + count;
    PagedSlots slots;
    slots.write = torch::empty({count}, torch::kInt64);
    slots.read = torch::empty({1, L}, torch::kInt64);
    for (int64_t i = 0; i < count; ++i) slots.write[i] = pool.slot(seq, begin + i);
    for (int64_t i = 0; i < L; ++i) slots.read[0][i] = pool.slot(seq, i);
    if (count > 1)
      slots.mask = torch::zeros({1, 1, count, L}).masked_fill_(
          torch::ones({count, L}, torch::kBool).triu(begin + 1).view({1, 1, count, L}),
          -std::numeric_limits<float>::infinity());
    KVCache cache;
    cache.keys = pool.keys();
    cache.values = pool.values();
    cache.paged = &slots;
    ModelInput in;
    in.tokens = tokens.narrow(1, begin, count);
    in.positions = text_positions(begin, count, torch::kCPU);
    const auto logits = model->forward(in, &cache);
    seq.length += count;
    worst = std::max(worst, (logits - reference.narrow(1, begin, count)).abs().max().item<double>());
  };
  run(0, 10);
  for (int64_t i = 10; i < n; ++i) run(i, 1);
  EXPECT_LT(worst, 1e-5);

  // And the contiguous cache gives the same.
  auto contiguous = KVCache::allocate(c, 1, n, torch::kCPU);
  ModelInput head;
  head.tokens = tokens.narrow(1, 0, 10);
  head.positions = text_positions(0, 10, torch::kCPU);
  model->forward(head, &contiguous);
  EXPECT_EQ(contiguous.length, 10);
  pool.release(seq);
  pool.release(other);
  EXPECT_EQ(pool.used_blocks(), 0);
}
