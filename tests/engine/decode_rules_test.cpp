// The decode rules (thinking budget, stops, masks, pauses) as the engine applies them, checked against the test
// oracle (tests/engine/reference_decoder.h): a batch through the engine gives, row for row, what the simplest
// decode loop gives under the same rules.
#include "engine/decode_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/engine.h"
#include "engine/reference_decoder.h"
#include "util/error.h"

using namespace muse;
using muse::testing::reference_decode;

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

RequestParams budgeted(int max_tokens, std::vector<int> stops, int think_end, int max_thinking, int min_thinking) {
  RequestParams p;
  p.sampling.max_tokens = max_tokens;
  p.sampling.stop_tokens = std::move(stops);
  p.sampling.think_end_token = think_end;
  p.sampling.max_thinking_tokens = max_thinking;
  p.sampling.min_thinking_tokens = min_thinking;
  return p;
}

// Every prompt through one engine (a batch), results in order.
std::vector<SequenceResult> run_batch(Transformer model, const std::vector<TokenSequence>& prompts,
                                      const RequestParams& params, bool fused) {
  EngineOptions o;
  o.kv_mem = int64_t{8} << 20;
  o.block_size = 4;
  o.max_step_tokens = 16;  // longer prompts prefill in chunks
  o.fused_cpu_decode = fused;
  Engine engine(std::move(model), torch::kCPU, o);
  std::vector<SeqId> ids;
  for (const auto& p : prompts) ids.push_back(engine.add(Prompt::of(p), params));
  engine.run_until_idle();
  std::vector<SequenceResult> out;
  for (SeqId id : ids) out.push_back(engine.take(id).value());
  return out;
}

}  // namespace

TEST(DecodeRules, SeededSamplingIsReproducible) {
  auto model = random_model();
  RequestParams p;
  p.sampling.temperature = 1.0;
  p.sampling.max_tokens = 30;
  p.sampling.seed = 42;
  const auto prompt = sequence_of({1, 2, 3});
  const auto a = reference_decode(model, prompt, p);
  EXPECT_EQ(reference_decode(model, prompt, p).tokens, a.tokens);
  EXPECT_EQ(run_batch(model, {prompt}, p, true)[0].tokens, a.tokens);
  p.sampling.seed = 43;
  EXPECT_NE(reference_decode(model, prompt, p).tokens, a.tokens);
}

TEST(DecodeRules, ThinkingNeverExceedsMaxThinkingTokens) {
  auto model = random_model();
  for (int budget : {0, 1, 5, 12}) {
    for (uint64_t seed : {1, 2, 3}) {
      auto p = budgeted(40, {}, 7, budget, 0);
      p.sampling.temperature = 1.0;
      p.sampling.seed = seed;
      const auto r = run_batch(model, {sequence_of({1, 2, 3})}, p, true)[0];
      const auto end = std::find(r.tokens.begin(), r.tokens.end(), 7);
      ASSERT_NE(end, r.tokens.end()) << "budget " << budget << ": thinking never ended";
      EXPECT_LE(end - r.tokens.begin(), budget);
      EXPECT_EQ(r.thinking_tokens, end - r.tokens.begin());
      // The end token is marked as forced exactly when the budget ran out, and nothing else is forced.
      const size_t at = static_cast<size_t>(end - r.tokens.begin());
      EXPECT_EQ(r.forced[at], static_cast<int>(at) == budget);
      EXPECT_EQ(std::count(r.forced.begin(), r.forced.end(), true), r.forced[at] ? 1 : 0);
    }
  }
}

TEST(DecodeRules, MinThinkingTokensSuppressesAnEarlyEnd) {
  auto model = random_model();
  const auto prompt = sequence_of({1, 4, 9});
  // Make the model's own first choice the end-of-thinking token: unconstrained, it ends at once.
  const int first = reference_decode(model, prompt, budgeted(1, {}, -1, -1, 0)).tokens.at(0);
  const auto free_run = run_batch(model, {prompt}, budgeted(30, {}, first, -1, 0), true)[0];
  EXPECT_EQ(free_run.thinking_tokens, 0);
  const auto forced = run_batch(model, {prompt}, budgeted(30, {first == 4 ? 5 : 4}, first, -1, 6), true)[0];
  EXPECT_GE(forced.thinking_tokens, 6);
  const auto end = std::find(forced.tokens.begin(), forced.tokens.end(), first);
  EXPECT_GE(end - forced.tokens.begin(), 6);
}

TEST(DecodeRules, EndThinkingClosesTheSpanAtTheNextChoiceWhateverTheMinimum) {
  const int think_end = 3;
  constexpr int kVocab = 50;
  DecodeRules rules(budgeted(20, {}, think_end, -1, 10), kVocab, 128);
  std::vector<float> logits(kVocab, 0.0f);
  logits[5] = 10.0f;  // the model wants token 5
  Rng rng(1);
  for (int i = 0; i < 2; ++i) {
    const auto c = rules.choose(logits.data(), rng);
    EXPECT_EQ(c.token, 5);
    rules.append(c.token, c.forced, true, 10 + i);
  }
  rules.end_thinking();
  const auto c = rules.choose(logits.data(), rng);
  EXPECT_EQ(c.token, think_end);
  EXPECT_TRUE(c.forced);
  rules.append(c.token, c.forced, true, 12);
  EXPECT_FALSE(rules.thinking());
  rules.end_thinking();  // outside the span: nothing changes
  EXPECT_EQ(rules.choose(logits.data(), rng).token, 5);
}

TEST(DecodeRules, BudgetValidation) {
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
  auto bad = budgeted(10, {}, 50, 2, 0);  // outside the 50-token vocabulary
  EXPECT_THROW(bad.validate(50), MuseError);
  auto pause_is_stop = budgeted(10, {4}, -1, -1, 0);
  pause_is_stop.pause_tokens = {4};
  EXPECT_THROW(pause_is_stop.validate(50), MuseError);
}

// A batch through the engine (both decode paths) gives, row for row, what the oracle gives with the same
// budget: the same tokens, forced flags, thinking counts and finish reasons — including the context running out.
TEST(DecodeRules, EngineBatchEqualsTheOracleUnderEveryBudget) {
  auto model = random_model();
  std::vector<int> near_context(52, 3);  // 52 of 64 positions: the context ends before max_tokens
  near_context[0] = 1;
  std::vector<TokenSequence> prompts = {sequence_of({1, 5, 7}),       sequence_of({1, 9, 2}),
                                        sequence_of({1, 4}),          sequence_of({1, 5, 7, 8, 9}),
                                        sequence_of({1, 3, 3}),       sequence_of({1, 8, 6}),
                                        sequence_of(near_context)};
  // The end-of-thinking token: one the model really emits early for the first prompt, so some rows end their
  // thinking on their own, others are forced to.
  const int think_end = reference_decode(model, prompts[0], budgeted(6, {}, -1, -1, 0)).tokens.at(3);
  const std::vector<int> stops = {think_end == 4 ? 11 : 4};
  int forced_rows = 0, natural_ends = 0, context_ends = 0;
  for (bool fused : {true, false}) {
    for (int budget : {-1, 0, 1, 3, 8}) {
      for (int min_thinking : {0, 2}) {
        if (budget >= 0 && min_thinking > budget) continue;
        const auto params = budgeted(24, stops, think_end, budget, min_thinking);
        const auto batched = run_batch(model, prompts, params, fused);
        for (size_t i = 0; i < prompts.size(); ++i) {
          const auto single = reference_decode(model, prompts[i], params);
          const std::string where = std::string(fused ? "fused" : "libtorch") + " budget " + std::to_string(budget) +
                                    " min " + std::to_string(min_thinking) + " prompt " + std::to_string(i);
          EXPECT_EQ(batched[i].tokens, single.tokens) << where;
          EXPECT_EQ(batched[i].forced, single.forced) << where;
          EXPECT_EQ(batched[i].thinking_tokens, single.thinking_tokens) << where;
          EXPECT_EQ(batched[i].finish_reason, single.finish_reason) << where;
          if (budget >= 0) EXPECT_LE(batched[i].thinking_tokens, budget) << where;
          EXPECT_GE(batched[i].thinking_tokens, std::min<int>(min_thinking, static_cast<int>(batched[i].tokens.size())))
              << where;
          const bool forced = std::find(batched[i].forced.begin(), batched[i].forced.end(), true) != batched[i].forced.end();
          forced_rows += forced;
          natural_ends += !forced && std::find(batched[i].tokens.begin(), batched[i].tokens.end(), think_end) !=
                                         batched[i].tokens.end();
        }
        // The prompt near the end of the context runs out of room (unless it stops first).
        if (batched.back().finish_reason != FinishReason::Stop) EXPECT_EQ(batched.back().finish_reason, FinishReason::Context);
        context_ends += batched.back().finish_reason == FinishReason::Context;
      }
    }
  }
  EXPECT_GT(forced_rows, 0);   // the budget did cut some thinking short ...
  EXPECT_GT(natural_ends, 0);  // ... and some rows ended their thinking on their own
  EXPECT_GT(context_ends, 0);
}

TEST(DecodeRules, FinishReasonsHaveStableNames) {
  EXPECT_STREQ(finish_reason_name(FinishReason::Stop), "stop");
  EXPECT_STREQ(finish_reason_name(FinishReason::Length), "length");
  EXPECT_STREQ(finish_reason_name(FinishReason::Context), "context");
  EXPECT_STREQ(finish_reason_name(FinishReason::Cancelled), "cancelled");
  EXPECT_STREQ(finish_reason_name(FinishReason::Error), "error");
}
