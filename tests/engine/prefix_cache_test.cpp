// The prefix cache (EngineOptions::prefix_cache, KVPool::cache_prefix / cached_prefix): prompts that begin as an
// earlier one are not prefilled again, give the same tokens and logits, and the cache yields its blocks when
// the pool needs them.
#include <gtest/gtest.h>

#include "engine/engine_fixtures.h"

namespace muse {
namespace {
using namespace muse::testing;

EngineOptions caching(int64_t kv_mem = int64_t{16} << 20) {
  EngineOptions o = small_options(4);
  o.kv_mem = kv_mem;
  o.prefix_cache = true;
  return o;
}

TEST(PrefixCache, ASharedBeginningIsNotPrefilledAgainAndGivesTheSameLogits) {
  auto model = random_model();
  Rng rng(3);
  const auto system = random_prompt(rng, 22, 22);  // 5 whole blocks of 4, and 2 tokens more
  const auto first = concat(system, random_prompt(rng, 5, 5));
  const auto second = concat(system, random_prompt(rng, 7, 7));
  RequestParams p = greedy(8);
  p.keep_logits = true;

  Engine engine(model, torch::kCPU, caching());
  const SeqId a = engine.add(Prompt::of(first), p);
  engine.run_until_idle();
  const auto ra = engine.take(a).value();
  EXPECT_EQ(ra.cached_tokens, 0);
  EXPECT_EQ(ra.prefilled_tokens, 27);
  EXPECT_EQ(engine.stats().prefix_cache_blocks, 6) << "the prompt's whole blocks stay: 27 tokens = 6 blocks + 3";
  EXPECT_EQ(engine.stats().kv_bytes_in_use, 6 * engine.pool().block_bytes());
  EXPECT_EQ(engine.pool().free_blocks(), engine.pool().num_blocks()) << "blocks only the cache holds count as free";

  const SeqId b = engine.add(Prompt::of(second), p);
  engine.run_until_idle();
  const auto rb = engine.take(b).value();
  EXPECT_EQ(rb.cached_tokens, 20) << "the 5 blocks of the shared beginning";
  EXPECT_EQ(rb.prefilled_tokens, 29 - 20);
  EXPECT_EQ(engine.stats().prefix_cached_tokens, 20);

  // The same as without any cache, token for token and logit for logit.
  const auto alone = run_alone(model, second, p);
  EXPECT_EQ(rb.tokens, alone.tokens);
  ASSERT_EQ(rb.logits.size(), alone.logits.size());
  for (size_t k = 0; k < rb.logits.size(); ++k)
    EXPECT_LT((torch::tensor(rb.logits[k]) - torch::tensor(alone.logits[k])).abs().max().item<double>(), 1e-4) << k;

  // The very same prompt again: all but its last token's block come from the cache (one token is always fed, for
  // its logits), and the answer is the same.
  const SeqId c = engine.add(Prompt::of(first), p);
  engine.run_until_idle();
  const auto rc = engine.take(c).value();
  EXPECT_EQ(rc.cached_tokens, 24);
  EXPECT_EQ(rc.tokens, ra.tokens);
}

TEST(PrefixCache, OffByDefaultAndOnlyExactBeginningsMatch) {
  auto model = random_model();
  Rng rng(5);
  const auto prompt = random_prompt(rng, 17, 17);
  Engine plain(model, torch::kCPU, small_options(4));
  for (int i = 0; i < 2; ++i) {
    const SeqId id = plain.add(Prompt::of(prompt), greedy(4));
    plain.run_until_idle();
    EXPECT_EQ(plain.take(id).value().cached_tokens, 0);
  }
  EXPECT_EQ(plain.stats().prefix_cache_blocks, 0);

  Engine engine(model, torch::kCPU, caching());
  engine.add(Prompt::of(prompt), greedy(4));
  engine.run_until_idle();
  // One token changed in the second block: only the first block matches.
  auto changed = prompt;
  changed[5] = (changed[5] + 1) % kVocab;
  SeqId id = engine.add(Prompt::of(changed), greedy(4));
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().cached_tokens, 4);
  // The same tokens at other positions are another prefix.
  Prompt shifted = Prompt::of(prompt);
  shifted.positions.clear();
  for (int32_t i = 0; i < static_cast<int32_t>(prompt.size()); ++i) shifted.positions.push_back({i + 1, i + 1, i + 1});
  id = engine.add(shifted, greedy(4));
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().cached_tokens, 0);
}

TEST(PrefixCache, ImagesMatchOnlyWithTheSamePixels) {
  Transformer model = random_image_model();
  const ModelConfig& c = model->config();
  const std::vector<int> prompt = {1, 12, 45, 45, 45, 13, 45, 45, 45, 14, 6, 45, 45, 2, 9, 7, 3};
  Prompt in = Prompt::of(prompt);
  in.patches = torch::rand({8, c.patch_dim()});
  Engine engine(model, torch::kCPU, caching());
  engine.add(in, greedy(4));
  engine.run_until_idle();
  SeqId id = engine.add(in, greedy(4));
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().cached_tokens, 16);
  Prompt other = in;
  other.patches = in.patches.clone();
  other.patches[6][0] += 0.5f;  // the seventh patch is token 11, in the third block (tokens 8-11)
  id = engine.add(other, greedy(4));
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().cached_tokens, 8) << "the blocks before the changed patch still match";
}

TEST(PrefixCache, CachedBlocksYieldToNewWorkAndForksShareThem) {
  auto model = random_model();
  Rng rng(7);
  // A pool of 24 blocks of 4 tokens.
  Engine probe(model, torch::kCPU, small_options(4));
  const int64_t block_bytes = probe.pool().block_bytes();
  Engine engine(model, torch::kCPU, caching(24 * block_bytes));
  ASSERT_EQ(engine.pool().num_blocks(), 24);
  std::vector<std::vector<int>> prompts;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(random_prompt(rng, 33, 33));
    engine.add(Prompt::of(prompts.back()), greedy(4));
    engine.run_until_idle();  // each leaves 8 blocks behind: the cache must evict to take the next
  }
  EXPECT_GT(engine.stats().prefix_cache_evictions, 0);
  EXPECT_LE(engine.stats().prefix_cache_blocks, 24);
  EXPECT_EQ(engine.stats().reserve_failures, 0);
  // The most recent prompt is still there; the first was evicted.
  SeqId id = engine.add(Prompt::of(prompts.back()), greedy(4));
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().cached_tokens, 32);
  id = engine.add(Prompt::of(prompts.front()), greedy(4));
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().cached_tokens, 0);
  // n samples of a cached prompt: one prefill of the rest, every fork reports the cached part.
  RequestParams p;
  p.sampling.temperature = 1.0;
  p.sampling.max_tokens = 4;
  const auto ids = engine.add_samples(Prompt::of(prompts.back()), p, 3);
  engine.run_until_idle();
  for (SeqId s : ids) EXPECT_EQ(engine.take(s).value().cached_tokens, 32);
}

}  // namespace
}  // namespace muse
