// Generation: batched greedy decoding gives exactly what one-at-a-time decoding gives.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/generator.h"
#include "util/error.h"

using namespace muse;

namespace {

TokenSequence sequence_of(const std::vector<int>& ids) {
  TokenSequence s;
  for (int id : ids) s.append_token(id, false);
  return s;
}

Transformer random_model() {
  ModelConfig c = preset_config("tiny");
  c.vocab_size = 50;
  c.n_layers = 2;
  c.max_seq_len = 64;
  torch::manual_seed(9);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
  return model;
}

}  // namespace

TEST(Generator, BatchedGreedyEqualsSingleGreedy) {
  Generator generator(random_model(), torch::kCPU);
  std::vector<TokenSequence> prompts = {sequence_of({1, 5, 7}), sequence_of({1, 9, 2}), sequence_of({1, 4}),
                                        sequence_of({1, 5, 7, 8, 9}), sequence_of({1, 3, 3})};
  const std::vector<int> stops = {4};
  const auto batched = generator.generate_greedy_batch(prompts, 20, stops, /*max_batch=*/2);
  ASSERT_EQ(batched.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingParams greedy;
    greedy.max_tokens = 20;
    greedy.stop_tokens = stops;
    const auto single = generator.generate(prompts[i], greedy);
    EXPECT_EQ(batched[i].tokens, single.tokens) << "prompt " << i;
    EXPECT_EQ(batched[i].finish_reason, single.finish_reason) << "prompt " << i;
  }
}

TEST(Generator, SeededSamplingIsReproducible) {
  Generator generator(random_model(), torch::kCPU);
  SamplingParams p;
  p.temperature = 1.0;
  p.max_tokens = 30;
  p.seed = 42;
  const auto prompt = sequence_of({1, 2, 3});
  const auto a = generator.generate(prompt, p);
  const auto b = generator.generate(prompt, p);
  EXPECT_EQ(a.tokens, b.tokens);
  p.seed = 43;
  EXPECT_NE(generator.generate(prompt, p).tokens, a.tokens);
}

TEST(Generator, StopsAtMaxTokensAndContext) {
  Generator generator(random_model(), torch::kCPU);
  SamplingParams p;
  p.max_tokens = 7;
  const auto r = generator.generate(sequence_of({1, 2}), p);
  EXPECT_LE(r.tokens.size(), 7u);
  std::vector<int> long_prompt(64, 3);
  EXPECT_THROW(generator.generate(sequence_of(long_prompt), p), MuseError);
}

TEST(Generator, ThinkingNeverExceedsMaxThinkingTokens) {
  Generator generator(random_model(), torch::kCPU);
  for (int budget : {0, 1, 5, 12}) {
    for (uint64_t seed : {1, 2, 3}) {
      SamplingParams p;
      p.temperature = 1.0;
      p.seed = seed;
      p.max_tokens = 40;
      p.think_end_token = 7;
      p.max_thinking_tokens = budget;
      const auto r = generator.generate(sequence_of({1, 2, 3}), p);
      const auto end = std::find(r.tokens.begin(), r.tokens.end(), 7);
      ASSERT_NE(end, r.tokens.end()) << "budget " << budget << ": thinking never ended";
      EXPECT_LE(end - r.tokens.begin(), budget);
      EXPECT_EQ(r.thinking_tokens, end - r.tokens.begin());
      // The end token is marked as forced exactly when the budget ran out.
      const size_t at = static_cast<size_t>(end - r.tokens.begin());
      EXPECT_EQ(r.forced[at], static_cast<int>(at) == budget);
    }
  }
}

TEST(Generator, MinThinkingTokensSuppressesAnEarlyEnd) {
  Generator generator(random_model(), torch::kCPU);
  SamplingParams greedy;
  greedy.max_tokens = 1;
  const auto prompt = sequence_of({1, 4, 9});
  // Make the model's own first choice the end-of-thinking token: unconstrained, it ends at once.
  const int first = generator.generate(prompt, greedy).tokens.at(0);
  SamplingParams p;
  p.max_tokens = 30;
  p.think_end_token = first;
  const auto free_run = generator.generate(prompt, p);
  EXPECT_EQ(free_run.thinking_tokens, 0);
  p.min_thinking_tokens = 6;
  p.stop_tokens = {first == 4 ? 5 : 4};
  const auto forced = generator.generate(prompt, p);
  EXPECT_GE(forced.thinking_tokens, 6);
  const auto end = std::find(forced.tokens.begin(), forced.tokens.end(), first);
  EXPECT_GE(end - forced.tokens.begin(), 6);
}

TEST(Generator, ThinkingBudgetValidation) {
  SamplingParams p;
  p.max_thinking_tokens = 4;
  p.min_thinking_tokens = 5;
  EXPECT_THROW(p.validate(), MuseError);
  p.max_thinking_tokens = -2;
  p.min_thinking_tokens = 0;
  EXPECT_THROW(p.validate(), MuseError);
  EXPECT_EQ(thinking_budget_for_effort("low"), 32);
  EXPECT_EQ(thinking_budget_for_effort("high"), -1);
  EXPECT_THROW(thinking_budget_for_effort("extreme"), MuseError);
}

// Batched greedy decoding under a thinking budget gives, row for row, what generate() gives with temperature 0
// and the same budget: the same tokens, the same forced flags, the same thinking counts and finish reasons.
TEST(Generator, BatchedBudgetsEqualSingleGenerate) {
  Generator generator(random_model(), torch::kCPU);
  std::vector<int> near_context(52, 3);  // 52 of 64 positions: the context ends before max_tokens
  near_context[0] = 1;
  std::vector<TokenSequence> prompts = {sequence_of({1, 5, 7}),       sequence_of({1, 9, 2}),
                                        sequence_of({1, 4}),          sequence_of({1, 5, 7, 8, 9}),
                                        sequence_of({1, 3, 3}),       sequence_of({1, 8, 6}),
                                        sequence_of(near_context)};
  // The end-of-thinking token: one the model really emits early for the first prompt, so some rows end their
  // thinking on their own, others are forced to.
  SamplingParams probe;
  probe.max_tokens = 6;
  const int think_end = generator.generate(prompts[0], probe).tokens.at(3);
  const std::vector<int> stops = {think_end == 4 ? 11 : 4};
  const int max_tokens = 24;
  int forced_rows = 0, natural_ends = 0, context_ends = 0;
  for (int budget : {-1, 0, 1, 3, 8}) {
    for (int min_thinking : {0, 2}) {
      if (budget >= 0 && min_thinking > budget) continue;
      ThinkingBudget b;
      b.think_end_token = think_end;
      b.max_thinking_tokens = budget;
      b.min_thinking_tokens = min_thinking;
      const auto batched = generator.generate_greedy_batch(prompts, max_tokens, stops, b, /*max_batch=*/2);
      ASSERT_EQ(batched.size(), prompts.size());
      for (size_t i = 0; i < prompts.size(); ++i) {
        SamplingParams p;
        p.max_tokens = max_tokens;
        p.stop_tokens = stops;
        p.think_end_token = think_end;
        p.max_thinking_tokens = budget;
        p.min_thinking_tokens = min_thinking;
        const auto single = generator.generate(prompts[i], p);
        const std::string where = "budget " + std::to_string(budget) + " min " + std::to_string(min_thinking) +
                                  " prompt " + std::to_string(i);
        EXPECT_EQ(batched[i].tokens, single.tokens) << where;
        EXPECT_EQ(batched[i].forced, single.forced) << where;
        EXPECT_EQ(batched[i].thinking_tokens, single.thinking_tokens) << where;
        EXPECT_EQ(batched[i].finish_reason, single.finish_reason) << where;
        ASSERT_EQ(batched[i].forced.size(), batched[i].tokens.size()) << where;
        if (budget >= 0) EXPECT_LE(batched[i].thinking_tokens, budget) << where;
        EXPECT_GE(batched[i].thinking_tokens,
                  std::min<int>(min_thinking, static_cast<int>(batched[i].tokens.size()))) << where;
        const bool forced = std::find(batched[i].forced.begin(), batched[i].forced.end(), true) !=
                            batched[i].forced.end();
        forced_rows += forced;
        natural_ends += !forced && std::find(batched[i].tokens.begin(), batched[i].tokens.end(), think_end) !=
                                       batched[i].tokens.end();
      }
      // The prompt near the end of the context runs out of room (unless it stops first), as generate() does.
      if (batched.back().finish_reason != "stop") EXPECT_EQ(batched.back().finish_reason, "context");
      context_ends += batched.back().finish_reason == "context";
    }
  }
  EXPECT_GT(forced_rows, 0);   // the budget did cut some thinking short ...
  EXPECT_GT(natural_ends, 0);  // ... and some rows ended their thinking on their own
  EXPECT_GT(context_ends, 0);
}

TEST(Generator, BatchedThinkingNeverExceedsMaxThinkingTokens) {
  Generator generator(random_model(), torch::kCPU);
  std::vector<TokenSequence> prompts;
  for (int a = 5; a < 25; ++a) prompts.push_back(sequence_of({1, a % 50, (a * 7) % 50}));
  for (int budget : {0, 1, 2, 5, 9}) {
    ThinkingBudget b;
    b.think_end_token = 7;
    b.max_thinking_tokens = budget;
    const auto results = generator.generate_greedy_batch(prompts, 30, {}, b);
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      const auto end = std::find(r.tokens.begin(), r.tokens.end(), 7);
      ASSERT_NE(end, r.tokens.end()) << "budget " << budget << " prompt " << i << ": thinking never ended";
      const auto at = static_cast<size_t>(end - r.tokens.begin());
      EXPECT_LE(static_cast<int>(at), budget);
      EXPECT_EQ(r.thinking_tokens, static_cast<int>(at));
      EXPECT_EQ(r.forced[at], static_cast<int>(at) == budget);
      // Only the end of thinking is ever forced; everything after it is the model's own.
      EXPECT_EQ(std::count(r.forced.begin(), r.forced.end(), true), r.forced[at] ? 1 : 0);
    }
  }
  ThinkingBudget bad;
  bad.think_end_token = 7;
  bad.max_thinking_tokens = 2;
  bad.min_thinking_tokens = 3;
  EXPECT_THROW(generator.generate_greedy_batch(prompts, 10, {}, bad), MuseError);
  bad = {};
  bad.think_end_token = 50;  // outside the 50-token vocabulary
  EXPECT_THROW(generator.generate_greedy_batch(prompts, 10, {}, bad), MuseError);
}
