// The serving engine: identity of greedy outputs alone / batched / forked, paged logits against full
// recomputation, seeded sampling independent of the batch, forks sharing prefill and KV, cancel, queueing under a
// small KV budget, over-capacity errors, forced tokens, stop strings, logprobs, masks, a 1,000-operation soak and
// submission from several threads.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "engine/engine_fixtures.h"
#include "engine/reference_decoder.h"
#include "util/error.h"
#include "util/rng.h"

using namespace muse;

using namespace muse::testing;

TEST(Engine, PagedLogitsMatchFullRecompute) {
  auto model = random_model();
  auto options = small_options(/*block_size=*/4);
  options.max_step_tokens = 8;  // the 21-token prompt is prefilled in three chunks
  Engine engine(model, torch::kCPU, options);
  Rng rng(5);
  std::vector<std::vector<int>> prompts = {random_prompt(rng, 21, 21), random_prompt(rng, 3, 3),
                                           random_prompt(rng, 9, 9)};
  std::vector<SeqId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) {
    RequestParams p;
    p.sampling.temperature = 1.0;
    p.sampling.seed = i;
    p.sampling.max_tokens = 20;
    p.keep_logits = true;
    ids.push_back(engine.add(Prompt::of(prompts[i]), p));
    engine.step();  // staggered joins: ragged decode batches
  }
  engine.run_until_idle();
  double worst = 0.0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto r = engine.take(ids[i]).value();
    ASSERT_EQ(r.tokens.size(), 20u);
    ASSERT_EQ(r.logits.size(), 20u);
    std::vector<int> context = prompts[i];
    for (size_t k = 0; k < r.tokens.size(); ++k) {
      const auto full = recompute(model, context);
      const auto cached = torch::tensor(r.logits[k]);
      worst = std::max(worst, (full - cached).abs().max().item<double>());
      context.push_back(r.tokens[k]);
    }
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(Engine, GreedyIsIdenticalAloneInABatchOf64AndAsAFork) {
  auto model = random_model();
  Rng rng(11);
  std::vector<std::vector<int>> prompts;
  for (int i = 0; i < 64; ++i) prompts.push_back(random_prompt(rng, 2, 30));
  const auto params = greedy(24, {4});

  std::vector<SequenceResult> alone;
  for (const auto& p : prompts) alone.push_back(run_alone(model, p, params));
  // The engine alone agrees with the oracle (the simplest decode loop).
  for (int i = 0; i < 8; ++i) {
    TokenSequence s;
    for (int t : prompts[static_cast<size_t>(i)]) s.append_token(t, false);
    EXPECT_EQ(muse::testing::reference_decode(model, s, params).tokens, alone[static_cast<size_t>(i)].tokens) << i;
  }

  // All 64 together, joining over the first steps.
  Engine engine(model, torch::kCPU, small_options());
  std::vector<SeqId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ids.push_back(engine.add(Prompt::of(prompts[i]), params));
    if (i % 8 == 7) engine.step();
  }
  engine.run_until_idle();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto r = engine.take(ids[i]).value();
    EXPECT_EQ(r.tokens, alone[i].tokens) << "prompt " << i;
    EXPECT_EQ(r.finish_reason, alone[i].finish_reason) << "prompt " << i;
  }
  EXPECT_EQ(engine.stats().reserve_failures, 0);

  // As forks: every child continues exactly as the parent would alone.
  Engine forks(model, torch::kCPU, small_options());
  const SeqId parent = forks.add(Prompt::of(prompts[5]), params);
  const auto children = forks.fork(parent, 5);
  forks.run_until_idle();
  EXPECT_EQ(forks.take(parent).value().tokens, alone[5].tokens);
  for (SeqId c : children) {
    const auto r = forks.take(c).value();
    EXPECT_EQ(r.tokens, alone[5].tokens);
    EXPECT_EQ(r.parent, parent);
    EXPECT_EQ(r.prefilled_tokens, 0);  // shared the parent's prompt KV
  }
  // A fork in the middle of generation continues identically too.
  Engine late(model, torch::kCPU, small_options());
  const SeqId p2 = late.add(Prompt::of(prompts[7]), params);
  for (int s = 0; s < 4; ++s) late.step();
  const auto kid = late.fork(p2, 1).at(0);
  late.run_until_idle();
  EXPECT_EQ(late.take(kid).value().tokens, alone[7].tokens);
  EXPECT_EQ(late.take(p2).value().tokens, alone[7].tokens);
}

TEST(Engine, SeededSamplingIsReproducibleRegardlessOfBatch) {
  auto model = random_model();
  Rng rng(3);
  const auto prompt = random_prompt(rng, 6, 6);
  RequestParams p;
  p.sampling.temperature = 1.2;
  p.sampling.top_k = 20;
  p.sampling.top_p = 0.95;
  p.sampling.min_p = 0.01;
  p.sampling.seed = 1234;
  p.sampling.max_tokens = 30;
  const auto alone = run_alone(model, prompt, p);

  Engine engine(model, torch::kCPU, small_options());
  std::vector<SeqId> others;
  for (int i = 0; i < 12; ++i) {
    RequestParams q = p;
    q.sampling.seed = 77 + i;
    others.push_back(engine.add(Prompt::of(random_prompt(rng, 1, 20)), q));
  }
  engine.step();
  engine.step();
  const SeqId id = engine.add(Prompt::of(prompt), p);
  engine.run_until_idle();
  EXPECT_EQ(engine.take(id).value().tokens, alone.tokens);
  p.sampling.seed = 1235;
  EXPECT_NE(run_alone(model, prompt, p).tokens, alone.tokens);
}

TEST(Engine, ForksPrefillOnceAndStoreThePromptOnce) {
  auto model = random_model();
  Rng rng(8);
  const auto prompt = random_prompt(rng, 40, 40);  // 10 full blocks of 4
  RequestParams p;
  p.sampling.temperature = 1.0;
  p.sampling.max_tokens = 6;

  Engine engine(model, torch::kCPU, small_options(4));
  const int64_t block = engine.pool().block_bytes();
  const SeqId parent = engine.add(Prompt::of(prompt), p);
  const auto kids = engine.fork(parent, 7);
  engine.step();  // prefill (40 tokens in one chunk), then all 8 sample their first token
  const auto s = engine.stats();
  EXPECT_EQ(s.prefill_tokens, 40);
  EXPECT_EQ(s.kv_bytes_in_use, 10 * block);  // one copy of the prompt
  engine.run_until_idle();
  std::set<std::vector<int>> distinct;
  for (SeqId k : kids) distinct.insert(engine.take(k).value().tokens);
  distinct.insert(engine.take(parent).value().tokens);
  EXPECT_GT(distinct.size(), 1u);  // children got their own seeds
  EXPECT_EQ(engine.stats().kv_bytes_in_use, 0);

  auto wide = small_options(4);
  wide.max_step_tokens = 8 * 40;  // all eight prompts in one step
  Engine independent(model, torch::kCPU, wide);
  for (int i = 0; i < 8; ++i) independent.add(Prompt::of(prompt), p);
  independent.step();
  EXPECT_EQ(independent.stats().prefill_tokens, 8 * 40);
  EXPECT_EQ(independent.stats().kv_bytes_in_use, 8 * 10 * block);
}

// add_samples with the loop running: the forks are applied in the add's step, so no child starts from a token
// the first sequence already sampled (add() then fork() could race the loop) and the prompt is prefilled once.
TEST(Engine, AddSamplesForksInTheSameStepWhileTheLoopRuns) {
  auto model = random_model();
  Rng rng(3);
  const auto prompt = random_prompt(rng, 20, 20);
  RequestParams p;
  p.sampling.temperature = 1.0;
  p.sampling.max_tokens = 5;
  Engine engine(model, torch::kCPU, small_options(4));
  engine.start();
  for (int round = 0; round < 5; ++round) {
    const int64_t prefilled = engine.stats().prefill_tokens;
    const auto ids = engine.add_samples(Prompt::of(prompt), p, 4);
    ASSERT_EQ(ids.size(), 4u);
    std::set<std::vector<int>> distinct;
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto r = engine.wait(ids[i]);
      EXPECT_EQ(r.finish_reason, FinishReason::Length);
      EXPECT_EQ(r.tokens.size(), 5u);
      EXPECT_EQ(r.parent, i == 0 ? SeqId{0} : ids[0]);
      distinct.insert(r.tokens);
    }
    EXPECT_GT(distinct.size(), 1u);
    EXPECT_EQ(engine.stats().prefill_tokens - prefilled, 20);  // one prefill for the four
  }
  EXPECT_THROW(engine.add_samples(Prompt::of(prompt), p, 0), MuseError);
  engine.stop();
}

TEST(Engine, CancelReturnsMemoryAtAnyTime) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, small_options());
  Rng rng(2);
  std::vector<TokenEvent> events;
  RequestParams p = greedy(100);
  p.on_token = [&](const TokenEvent& e) { events.push_back(e); };
  const SeqId a = engine.add(Prompt::of(random_prompt(rng, 10, 10)), p);
  const SeqId b = engine.add(Prompt::of(random_prompt(rng, 10, 10)), greedy(100));
  for (int i = 0; i < 5; ++i) engine.step();
  EXPECT_GT(engine.stats().kv_bytes_in_use, 0);
  engine.cancel(a);
  engine.cancel(b);
  engine.cancel(999);  // unknown: ignored
  const SeqId c = engine.add(Prompt::of(random_prompt(rng, 10, 10)), greedy(100));
  engine.cancel(c);  // before it ever ran
  engine.run_until_idle();
  const auto ra = engine.take(a).value();
  EXPECT_EQ(ra.finish_reason, FinishReason::Cancelled);
  EXPECT_EQ(ra.tokens.size(), 5u);
  EXPECT_EQ(engine.take(c).value().finish_reason, FinishReason::Cancelled);
  EXPECT_EQ(engine.stats().kv_bytes_in_use, 0);
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().finished);
  EXPECT_EQ(events.back().finish_reason, FinishReason::Cancelled);
  EXPECT_EQ(events.size(), 6u);  // 5 tokens + the cancellation notice
}

TEST(Engine, QueuesUnderASmallKVBudgetAndRefusesWhatCanNeverFit) {
  auto model = random_model();
  auto options = small_options(4);
  const auto c = test_config();
  const int64_t per_token = 2 * c.n_layers * c.n_kv_heads * c.head_dim() * 4;
  options.kv_mem = 12 * 4 * per_token;  // 12 blocks of 4 tokens
  Engine engine(model, torch::kCPU, options);
  ASSERT_EQ(engine.pool().num_blocks(), 12);
  Rng rng(4);
  std::vector<std::vector<int>> prompts;
  std::vector<SeqId> ids;
  const auto params = greedy(12);  // 8 + 12 = 20 tokens = 5 blocks each: two fit at once
  for (int i = 0; i < 5; ++i) {
    prompts.push_back(random_prompt(rng, 8, 8));
    ids.push_back(engine.add(Prompt::of(prompts.back()), params));
  }
  engine.step();
  EXPECT_EQ(engine.stats().running, 2);
  EXPECT_EQ(engine.stats().queued, 3);
  int64_t peak_running = 0;
  while (engine.step()) peak_running = std::max(peak_running, engine.stats().running);
  EXPECT_LE(peak_running, 2);
  EXPECT_LE(engine.stats().kv_peak_bytes, engine.pool().capacity_bytes());
  EXPECT_EQ(engine.stats().reserve_failures, 0);
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(engine.take(ids[i]).value().tokens, run_alone(model, prompts[i], params).tokens);

  // 8 + 60 tokens = 17 blocks > 12: never fits, a clear error at once.
  try {
    engine.add(Prompt::of(prompts[0]), greedy(60));
    FAIL() << "expected an over-capacity error";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("over capacity"), std::string::npos) << e.what();
  }
  std::vector<int> too_long(128, 3);
  EXPECT_THROW(engine.add(Prompt::of(too_long), greedy(1)), MuseError);
  EXPECT_THROW(engine.add(Prompt::of(std::vector<int>{}), greedy(1)), MuseError);
  EXPECT_THROW(engine.add(Prompt::of(std::vector<int>{1, 99}), greedy(1)), MuseError);
}

TEST(Engine, ForcedTokensAreMarkedAndFedToTheModel) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, small_options());
  RequestParams p = greedy(30);
  p.keep_logits = true;
  const std::vector<int> prompt = {1, 2, 3, 4, 5};
  const SeqId id = engine.add(Prompt::of(prompt), p);
  for (int i = 0; i < 3; ++i) engine.step();
  const std::vector<int> tool_result = {7, 8, 9, 10, 11, 12};
  engine.force(id, tool_result);
  engine.run_until_idle();
  const auto r = engine.take(id).value();
  ASSERT_EQ(r.tokens.size(), 30u);
  ASSERT_EQ(r.forced.size(), 30u);
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    const bool in_tool = i >= 3 && i < 9;
    EXPECT_EQ(r.forced[i], in_tool) << i;
    if (in_tool) EXPECT_EQ(r.tokens[i], tool_result[i - 3]);
  }
  // The token after the forced run was chosen from logits that saw it.
  const std::vector<int> context = concat(prompt, std::vector<int>(r.tokens.begin(), r.tokens.begin() + 9));
  const auto full = recompute(model, context);
  EXPECT_LT((full - torch::tensor(r.logits[9])).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(r.tokens[9], full.argmax().item<int64_t>());
}

TEST(Engine, ThinkingBudgetForcesTheEndAndTheContinueCue) {
  auto model = random_model();
  const std::vector<int> prompt = {1, 4, 9};
  // max_thinking_tokens: the end of thinking is forced (and marked) when the budget is spent.
  for (int budget : {0, 3, 7}) {
    RequestParams p;
    p.sampling.temperature = 1.0;
    p.sampling.seed = static_cast<uint64_t>(budget);
    p.sampling.max_tokens = 20;
    p.sampling.think_end_token = 7;
    p.sampling.max_thinking_tokens = budget;
    const auto r = run_alone(model, prompt, p);
    const auto end = std::find(r.tokens.begin(), r.tokens.end(), 7);
    ASSERT_NE(end, r.tokens.end());
    const size_t at = static_cast<size_t>(end - r.tokens.begin());
    EXPECT_LE(static_cast<int>(at), budget);
    EXPECT_EQ(r.forced[at], static_cast<int>(at) == budget);
    EXPECT_EQ(r.thinking_tokens, static_cast<int>(at));
  }
  // min_thinking_tokens with a continue cue: an early end is replaced by the cue, marked forced.
  const int first = run_alone(model, prompt, greedy(1)).tokens.at(0);
  RequestParams p = greedy(20);
  p.sampling.think_end_token = first;  // the model's own first choice: it wants to stop thinking at once
  p.sampling.min_thinking_tokens = 4;
  p.continue_token = (first + 1) % kVocab;
  const auto r = run_alone(model, prompt, p);
  ASSERT_FALSE(r.tokens.empty());
  EXPECT_EQ(r.tokens[0], p.continue_token);
  EXPECT_TRUE(r.forced[0]);
  EXPECT_GE(r.thinking_tokens, 4);
  const auto end = std::find(r.tokens.begin(), r.tokens.end(), first);
  EXPECT_GE(end - r.tokens.begin(), 4);
}

// "Answer now": a sequence kept thinking by min_thinking_tokens closes its thinking (forced) right after the
// command arrives, whatever the minimum, and then answers; a sequence that already answers is unaffected.
TEST(Engine, EndThinkingForcesTheEndOfThinkingAtTheNextToken) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, small_options());
  RequestParams p = greedy(30);
  p.sampling.think_end_token = 7;
  p.sampling.min_thinking_tokens = 25;  // without the command, thinking would last 25 tokens
  const SeqId id = engine.add(Prompt::of({1, 4, 9}), p);
  for (int i = 0; i < 5; ++i) engine.step();
  engine.end_thinking(id);
  engine.end_thinking(id + 1000);  // unknown ids are ignored
  engine.run_until_idle();
  const auto r = engine.take(id).value();
  const auto end = std::find(r.tokens.begin(), r.tokens.end(), 7);
  ASSERT_NE(end, r.tokens.end());
  const auto at = static_cast<size_t>(end - r.tokens.begin());
  EXPECT_GE(at, 3u);   // it thought until the command came
  EXPECT_LE(at, 6u);   // and closed at the next token
  EXPECT_TRUE(r.forced[at]);
  EXPECT_EQ(r.thinking_tokens, static_cast<int>(at));
  EXPECT_GT(r.tokens.size(), at + 1);  // then it answered

  // After the thinking span, the command changes nothing: the run equals one without it.
  RequestParams q = greedy(12);
  q.sampling.think_end_token = r.tokens.at(0);  // its first token closes thinking at once
  const auto alone = run_alone(model, {1, 4, 9}, q);
  Engine second(model, torch::kCPU, small_options());
  const SeqId other = second.add(Prompt::of({1, 4, 9}), q);
  for (int i = 0; i < 4; ++i) second.step();
  second.end_thinking(other);
  second.run_until_idle();
  EXPECT_EQ(second.take(other).value().tokens, alone.tokens);
}

// Params per prompt: each sequence samples with its own seed, exactly as it would alone; a count mismatch is an error.
TEST(Engine, RunBatchTakesParamsPerPrompt) {
  auto model = random_model();
  RequestParams a = greedy(12), b = greedy(12);
  a.sampling.temperature = b.sampling.temperature = 1.0;
  a.sampling.seed = 1;
  b.sampling.seed = 2;
  Engine engine(model, torch::kCPU, small_options());
  const auto both = engine.run_batch({Prompt::of({1, 2, 3}), Prompt::of({1, 2, 3})}, std::vector<RequestParams>{a, b});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].tokens, run_alone(model, {1, 2, 3}, a).tokens);
  EXPECT_EQ(both[1].tokens, run_alone(model, {1, 2, 3}, b).tokens);
  EXPECT_NE(both[0].tokens, both[1].tokens);
  EXPECT_THROW(engine.run_batch({Prompt::of({1})}, std::vector<RequestParams>{a, b}), MuseError);
}

TEST(Engine, StopTokensAndStopStrings) {
  auto model = random_model();
  // Token i reads as two letters, so stop strings can end inside a token or span two.
  auto text = [](int id) { return std::string(1, static_cast<char>('a' + id % 26)) + static_cast<char>('A' + id / 26); };
  const std::vector<int> prompt = {3, 1, 4, 1, 5};
  const auto free_run = run_alone(model, prompt, greedy(20));
  ASSERT_EQ(free_run.tokens.size(), 20u);
  std::string generated;
  for (int t : free_run.tokens) generated += text(t);

  auto options = small_options();
  options.token_text = text;
  // A string spanning tokens 5 and 6: generation stops right after token 6.
  RequestParams p = greedy(20);
  p.stop_strings = {generated.substr(11, 2)};
  const size_t first_match = generated.find(p.stop_strings[0]);
  const auto r = run_alone(model, prompt, p, options);
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);
  EXPECT_EQ(r.stop_string, p.stop_strings[0]);
  EXPECT_EQ(r.tokens.size(), (first_match + 2 + 1) / 2);
  EXPECT_TRUE(std::equal(r.tokens.begin(), r.tokens.end(), free_run.tokens.begin()));

  // A stop token.
  const auto s = run_alone(model, prompt, greedy(20, {free_run.tokens[4]}));
  EXPECT_EQ(s.finish_reason, FinishReason::Stop);
  EXPECT_LE(s.tokens.size(), 5u);
  EXPECT_EQ(s.tokens.back(), free_run.tokens[4]);
  // Stop strings without token_text are refused.
  Engine bare(model, torch::kCPU, small_options());
  EXPECT_THROW(bare.add(Prompt::of(prompt), p), MuseError);
}

TEST(Engine, LogprobsEqualLogSoftmaxOfRecomputedLogits) {
  auto model = random_model();
  const std::vector<int> prompt = {2, 7, 1, 8, 2, 8};
  RequestParams p;
  p.sampling.temperature = 0.8;
  p.sampling.seed = 3;
  p.sampling.max_tokens = 12;
  p.logprobs = true;
  p.top_logprobs = 5;
  const auto r = run_alone(model, prompt, p);
  ASSERT_EQ(r.logprobs.size(), r.tokens.size());
  ASSERT_EQ(r.top_logprobs.size(), r.tokens.size());
  std::vector<int> context = prompt;
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    const auto logp = torch::log_softmax(recompute(model, context).to(torch::kFloat64), -1);
    EXPECT_NEAR(r.logprobs[i], logp[r.tokens[i]].item<double>(), 1e-4);
    const auto top = logp.topk(5);
    ASSERT_EQ(r.top_logprobs[i].size(), 5u);
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(r.top_logprobs[i][static_cast<size_t>(k)].first, std::get<1>(top)[k].item<int64_t>());
      EXPECT_NEAR(r.top_logprobs[i][static_cast<size_t>(k)].second, std::get<0>(top)[k].item<double>(), 1e-4);
    }
    context.push_back(r.tokens[i]);
  }
}

TEST(Engine, LogitMasksRestrictSampling) {
  auto model = random_model();
  RequestParams p;
  p.sampling.temperature = 1.5;
  p.sampling.seed = 1;
  p.sampling.max_tokens = 40;
  p.allowed_tokens = {3, 5, 8, 13, 21};
  p.banned_tokens = {5};
  const auto r = run_alone(model, {1, 2, 3}, p);
  ASSERT_EQ(r.tokens.size(), 40u);
  for (int t : r.tokens) EXPECT_TRUE(t == 3 || t == 8 || t == 13 || t == 21) << t;
  RequestParams q = greedy(40);
  const auto free_run = run_alone(model, {1, 2, 3}, q);
  q.banned_tokens = {free_run.tokens[0], free_run.tokens[1]};
  for (int t : run_alone(model, {1, 2, 3}, q).tokens) EXPECT_TRUE(t != q.banned_tokens[0] && t != q.banned_tokens[1]);
  p.banned_tokens = p.allowed_tokens;
  Engine engine(model, torch::kCPU, small_options());
  EXPECT_THROW(engine.add(Prompt::of(std::vector<int>{1, 2}), p), MuseError);
}

TEST(Engine, StreamingDeliversEveryTokenInOrder) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, small_options());
  std::map<SeqId, std::vector<int>> streamed;
  std::map<SeqId, int> finished;
  RequestParams p = greedy(15, {4});
  p.on_token = [&](const TokenEvent& e) {
    if (e.token >= 0) streamed[e.id].push_back(e.token);
    if (e.finished) ++finished[e.id];
  };
  const SeqId a = engine.add(Prompt::of({1, 2, 3}), p);
  const auto kids = engine.fork(a, 2);
  engine.run_until_idle();
  for (SeqId id : {a, kids[0], kids[1]}) {
    EXPECT_EQ(streamed[id], engine.take(id).value().tokens) << id;
    EXPECT_EQ(finished[id], 1) << id;
  }
}

TEST(Engine, SoakOfRandomOperationsReturnsAllMemory) {
  auto model = random_model();
  auto options = small_options(4);
  const auto c = test_config();
  const int64_t per_token = 2 * c.n_layers * c.n_kv_heads * c.head_dim() * 4;
  options.kv_mem = 120 * 4 * per_token;  // 120 blocks: tight enough that requests queue
  options.max_step_tokens = 32;
  Engine engine(model, torch::kCPU, options);
  const int64_t start = engine.stats().kv_bytes_in_use;
  EXPECT_EQ(start, 0);
  Rng rng(2024);
  std::vector<SeqId> ids;
  std::map<std::string, int> ops;
  int64_t max_queued = 0;
  for (int op = 0; op < 1000; ++op) {
    const int kind = static_cast<int>(rng.uniform_int(0, 9));
    if (kind <= 3 || ids.empty()) {
      RequestParams p;
      p.sampling.temperature = rng.bernoulli(0.5) ? 0.0 : 1.0;
      p.sampling.seed = rng.next_u64();
      p.sampling.max_tokens = static_cast<int>(rng.uniform_int(1, 30));
      if (rng.bernoulli(0.3)) p.sampling.stop_tokens = {static_cast<int>(rng.uniform_int(0, kVocab - 1))};
      ids.push_back(engine.add(Prompt::of(random_prompt(rng, 1, 40)), p));
      ++ops["add"];
    } else if (kind <= 5) {
      const SeqId parent = ids[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(ids.size()) - 1))];
      for (SeqId k : engine.fork(parent, static_cast<int>(rng.uniform_int(1, 3)))) ids.push_back(k);
      ++ops["fork"];
    } else if (kind <= 6) {
      engine.cancel(ids[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(ids.size()) - 1))]);
      ++ops["cancel"];
    } else if (kind <= 7) {
      engine.force(ids[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(ids.size()) - 1))],
                   random_prompt(rng, 1, 5));
      ++ops["force"];
    } else {
      engine.step();  // sequences finish along the way
      ++ops["step"];
      max_queued = std::max(max_queued, engine.stats().queued);
    }
    ASSERT_LE(engine.stats().kv_bytes_in_use, engine.pool().capacity_bytes());
  }
  engine.run_until_idle();
  const auto s = engine.stats();
  EXPECT_EQ(s.kv_bytes_in_use, start);
  EXPECT_EQ(engine.pool().used_blocks(), 0);
  EXPECT_EQ(s.reserve_failures, 0);
  EXPECT_EQ(s.running + s.queued, 0);
  int finished = 0;
  for (SeqId id : ids) {
    const auto r = engine.take(id);
    ASSERT_TRUE(r.has_value()) << id;
    EXPECT_NE(r->finish_reason, FinishReason::None);
    ++finished;
  }
  EXPECT_EQ(finished, static_cast<int>(ids.size()));
  EXPECT_GT(ops["fork"], 100);
  EXPECT_GT(ops["cancel"], 50);
  EXPECT_GT(max_queued, 0);  // the budget was tight enough to make requests wait
}

TEST(Engine, CancellingAParentMidPrefillLeavesItsForksIntact) {
  auto model = random_model();
  Rng rng(21);
  const auto prompt = random_prompt(rng, 40, 40);
  const auto params = greedy(10);
  const auto alone = run_alone(model, prompt, params);
  auto options = small_options(4);
  options.max_step_tokens = 8;  // the prompt takes five steps to prefill
  Engine engine(model, torch::kCPU, options);
  const SeqId parent = engine.add(Prompt::of(prompt), params);
  const auto kids = engine.fork(parent, 2);
  const SeqId grandchild = engine.fork(kids[0], 1).at(0);
  engine.step();
  engine.step();
  engine.cancel(parent);
  engine.run_until_idle();
  EXPECT_EQ(engine.take(parent).value().finish_reason, FinishReason::Cancelled);
  const auto k0 = engine.take(kids[0]).value(), k1 = engine.take(kids[1]).value();
  const auto g = engine.take(grandchild).value();
  EXPECT_EQ(k0.tokens, alone.tokens);
  EXPECT_EQ(k1.tokens, alone.tokens);
  EXPECT_EQ(g.tokens, alone.tokens);
  EXPECT_EQ(k0.prefilled_tokens + k1.prefilled_tokens + g.prefilled_tokens, 2 * 40);  // g shares k0's
  EXPECT_EQ(g.prefilled_tokens, 0);
  EXPECT_EQ(engine.stats().kv_bytes_in_use, 0);
}

TEST(Engine, SubmitAndCancelFromFourThreadsWhileTheLoopRuns) {
  auto model = random_model();
  auto options = small_options(4);
  options.kv_mem = int64_t{2} << 20;
  Engine engine(model, torch::kCPU, options);
  engine.start();
  std::mutex mu;
  std::map<SeqId, std::vector<int>> streamed;
  std::atomic<int> failures{0};
  auto worker = [&](int w) {
    Rng rng(100 + static_cast<uint64_t>(w));
    for (int i = 0; i < 20; ++i) {
      RequestParams p;
      p.sampling.temperature = 1.0;
      p.sampling.seed = rng.next_u64();
      p.sampling.max_tokens = static_cast<int>(rng.uniform_int(1, 25));
      p.on_token = [&](const TokenEvent& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (e.token >= 0) streamed[e.id].push_back(e.token);
      };
      const SeqId id = engine.add(Prompt::of(random_prompt(rng, 1, 30)), p);
      std::vector<SeqId> mine = {id};
      if (rng.bernoulli(0.3)) {
        for (SeqId k : engine.fork(id, 2)) mine.push_back(k);
      }
      if (rng.bernoulli(0.3)) engine.cancel(mine[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(mine.size()) - 1))]);
      if (rng.bernoulli(0.2)) engine.force(id, {1, 2, 3});
      for (SeqId m : mine) {
        const auto r = engine.wait(m);
        std::lock_guard<std::mutex> lock(mu);
        // A child forked after its parent's first steps inherits those tokens without streaming them again.
        const auto& seen = streamed[m];
        const bool suffix = seen.size() <= r.tokens.size() &&
                            std::equal(seen.begin(), seen.end(), r.tokens.end() - static_cast<std::ptrdiff_t>(seen.size()));
        if (r.finish_reason == FinishReason::None || !suffix || (m == id && seen != r.tokens)) ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) threads.emplace_back(worker, w);
  for (auto& t : threads) t.join();
  engine.stop();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(engine.stats().kv_bytes_in_use, 0);
  EXPECT_TRUE(engine.idle());
}

TEST(Engine, ImagePatchesPassThroughChunkedPrefill) {
  Transformer model = random_image_model();
  const ModelConfig& c = model->config();
  std::vector<int> prompt = {1, 12, 45, 45, 45, 13, 45, 45, 45, 14, 6, 45, 45, 2, 9};
  const int64_t patches = std::count(prompt.begin(), prompt.end(), 45);
  Prompt in = Prompt::of(prompt);
  in.patches = torch::rand({patches, c.patch_dim()});
  auto options = small_options(4);
  options.max_step_tokens = 4;  // chunks cut through the image
  Engine engine(model, torch::kCPU, options);
  RequestParams p = greedy(6);
  p.keep_logits = true;
  const SeqId id = engine.add(in, p);
  engine.run_until_idle();
  const auto r = engine.take(id).value();
  ASSERT_EQ(r.tokens.size(), 6u);
  EXPECT_EQ(r.prefilled_tokens, static_cast<int64_t>(prompt.size()));
  // Reference: one forward over prompt + generated tokens, with all the patches.
  torch::NoGradGuard no_grad;
  std::vector<int> all = concat(prompt, std::vector<int>(r.tokens.begin(), r.tokens.end() - 1));
  // Generated tokens never use patch pixels; keep them off the patch id for a clean reference.
  ASSERT_EQ(std::count(r.tokens.begin(), r.tokens.end(), 45), 0);
  const int64_t n = static_cast<int64_t>(all.size());
  ModelInput full;
  full.tokens = torch::tensor(std::vector<int64_t>(all.begin(), all.end()), torch::kInt64).view({1, n});
  full.positions = text_positions(0, n, torch::kCPU);
  full.patches = in.patches;
  const auto logits = model->forward(full).squeeze(0);
  for (size_t k = 0; k < r.tokens.size(); ++k) {
    const auto row = logits[static_cast<int64_t>(prompt.size() + k) - 1];
    EXPECT_LT((row - torch::tensor(r.logits[k])).abs().max().item<double>(), 1e-5) << k;
  }
  Prompt bad = in;
  bad.patches = torch::rand({patches - 1, c.patch_dim()});
  EXPECT_THROW(engine.add(bad, p), MuseError);
}

TEST(Engine, FusedCpuDecodeAgreesWithTheReferencePath) {
  auto model = random_model();
  Rng rng(17);
  std::vector<std::vector<int>> prompts;
  for (int i = 0; i < 12; ++i) prompts.push_back(random_prompt(rng, 2, 25));
  RequestParams p = greedy(20);
  p.keep_logits = true;
  auto run = [&](bool fused) {
    auto options = small_options(4);
    options.fused_cpu_decode = fused;
    Engine engine(model, torch::kCPU, options);
    std::vector<SeqId> ids;
    for (const auto& prompt : prompts) {
      ids.push_back(engine.add(Prompt::of(prompt), p));
      engine.step();
    }
    const SeqId kid = engine.fork(ids[0], 1).at(0);
    ids.push_back(kid);
    engine.run_until_idle();
    std::vector<SequenceResult> out;
    for (SeqId id : ids) out.push_back(engine.take(id).value());
    return out;
  };
  const auto reference = run(false), fused = run(true);
  ASSERT_EQ(reference.size(), fused.size());
  double worst = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(fused[i].tokens, reference[i].tokens) << i;
    for (size_t k = 0; k < std::min(fused[i].logits.size(), reference[i].logits.size()); ++k)
      worst = std::max(worst, (torch::tensor(fused[i].logits[k]) - torch::tensor(reference[i].logits[k]))
                                  .abs().max().item<double>());
  }
  EXPECT_LT(worst, 1e-4);
}
