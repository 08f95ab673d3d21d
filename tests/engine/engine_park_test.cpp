// Parked sequences: a pause token parks a sequence with its KV blocks and its reservation; force() resumes it
// with a "tool result", resume() without one, cancel() frees it; events reach other threads through a queue.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/engine.h"
#include "engine/engine_fixtures.h"
#include "util/error.h"

using namespace muse;
using namespace muse::testing;

namespace {

// The first token a greedy run emits at index >= 4 that it has not emitted before: a pause token the model
// really produces, at a known point.
std::pair<int, size_t> natural_pause(Transformer model, const std::vector<int>& prompt) {
  const auto free_run = run_alone(model, prompt, greedy(30));
  for (size_t i = 4; i < free_run.tokens.size(); ++i)
    if (std::find(free_run.tokens.begin(), free_run.tokens.begin() + static_cast<std::ptrdiff_t>(i),
                  free_run.tokens[i]) == free_run.tokens.begin() + static_cast<std::ptrdiff_t>(i))
      return {free_run.tokens[i], i};
  return {-1, 0};
}

}  // namespace

TEST(Engine, ParkThenResumeEqualsAnUninterruptedSequence) {
  auto model = random_model();
  Rng rng(21);
  const auto prompt = random_prompt(rng, 7, 7);
  const auto [pause, at] = natural_pause(model, prompt);
  ASSERT_GE(pause, 0);
  const std::vector<int> tool_result = {11, 12, 13};
  const int max_tokens = 40;

  Engine engine(model, torch::kCPU, small_options());
  auto params = greedy(max_tokens);
  params.pause_tokens = {pause};
  params.events = std::make_shared<EventQueue>();
  const SeqId id = engine.add(Prompt::of(prompt), params);
  // Step until it parks: the pause token's event says so, the sequence keeps its blocks and samples nothing.
  while (engine.step()) {
  }
  std::vector<int> before;
  bool parked = false;
  while (auto e = params.events->try_pop()) {
    before.push_back(e->token);
    parked = e->parked;
    EXPECT_FALSE(e->finished);
  }
  ASSERT_TRUE(parked);
  ASSERT_EQ(before.size(), at + 1);
  EXPECT_EQ(before.back(), pause);
  EXPECT_EQ(engine.stats().parked, 1);
  EXPECT_GT(engine.pool().used_blocks(), 0);
  EXPECT_FALSE(engine.take(id).has_value());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(engine.step());  // parked: no work, nothing sampled
  EXPECT_TRUE(params.events->size() == 0);
  EXPECT_FALSE(engine.idle());

  // Resume with a tool result; every later park resumes without tokens.
  engine.force(id, tool_result);
  for (;;) {
    engine.run_until_idle();
    if (engine.stats().parked == 0) break;
    engine.resume(id);
  }
  const auto r = engine.take(id).value();
  EXPECT_EQ(r.finish_reason, FinishReason::Length);
  ASSERT_EQ(r.tokens.size(), static_cast<size_t>(max_tokens));
  EXPECT_GE(r.parks, 1);
  EXPECT_EQ(std::vector<int>(r.tokens.begin(), r.tokens.begin() + static_cast<std::ptrdiff_t>(at + 1)), before);
  for (size_t i = 0; i < tool_result.size(); ++i) {
    EXPECT_EQ(r.tokens[at + 1 + i], tool_result[i]);
    EXPECT_TRUE(r.forced[at + 1 + i]);
  }

  // The uninterrupted sequence: the same text as one prompt, decoded straight through.
  auto straight = concat(concat(prompt, before), tool_result);
  const int rest = max_tokens - static_cast<int>(before.size() + tool_result.size());
  const auto u = run_alone(model, straight, greedy(rest));
  const std::vector<int> after(r.tokens.begin() + static_cast<std::ptrdiff_t>(at + 1 + tool_result.size()), r.tokens.end());
  EXPECT_EQ(after, u.tokens);
  EXPECT_EQ(engine.pool().used_blocks(), 0);
}

TEST(Engine, AParkedSequenceHoldsItsKVBudgetAndCancelFreesIt) {
  auto model = random_model();
  Rng rng(22);
  const auto prompt = random_prompt(rng, 7, 7);
  const auto [pause, at] = natural_pause(model, prompt);
  ASSERT_GE(pause, 0);
  auto options = small_options(/*block_size=*/4);
  Engine probe(model, torch::kCPU, options);
  // A pool that holds one request of this size, not two.
  const int max_tokens = 60;
  options.kv_mem = probe.blocks_for_request(7, max_tokens) * probe.pool().block_bytes() * 3 / 2;
  Engine engine(model, torch::kCPU, options);
  auto params = greedy(max_tokens);
  params.pause_tokens = {pause};
  const SeqId parked = engine.add(Prompt::of(prompt), params);
  engine.run_until_idle();
  ASSERT_EQ(engine.stats().parked, 1);
  const int64_t held = engine.pool().used_blocks();
  EXPECT_GT(held, 0);

  const SeqId other = engine.add(Prompt::of(random_prompt(rng, 7, 7)), greedy(max_tokens));
  for (int i = 0; i < 5; ++i) engine.step();
  EXPECT_EQ(engine.stats().queued, 1);  // the parked sequence's reservation keeps it out
  EXPECT_EQ(engine.pool().used_blocks(), held);

  engine.cancel(parked);
  engine.run_until_idle();
  EXPECT_EQ(engine.take(parked).value().finish_reason, FinishReason::Cancelled);
  EXPECT_EQ(engine.take(other).value().finish_reason, FinishReason::Length);
  EXPECT_EQ(engine.pool().used_blocks(), 0);
  EXPECT_EQ(engine.stats().parked, 0);
  EXPECT_TRUE(engine.idle());
}

// A "tool" answered on its own thread from the event queue while the loop keeps decoding other sequences.
TEST(Engine, ToolCallsAnsweredFromTheEventQueueOnAnotherThread) {
  auto model = random_model();
  Rng rng(23);
  const auto prompt = random_prompt(rng, 6, 6);
  const auto [pause, at] = natural_pause(model, prompt);
  ASSERT_GE(pause, 0);
  Engine engine(model, torch::kCPU, small_options());
  engine.start();
  auto params = greedy(32);
  params.pause_tokens = {pause};
  params.events = std::make_shared<EventQueue>();
  const SeqId id = engine.add(Prompt::of(prompt), params);
  const SeqId bystander = engine.add(Prompt::of(random_prompt(rng, 5, 5)), greedy(32));
  int answered = 0;
  std::thread tool([&] {
    for (;;) {
      auto e = params.events->pop(std::chrono::milliseconds(10000));
      if (!e || e->finished) return;
      if (e->parked) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // slow work, off the engine thread
        ++answered;
        engine.force(e->id, {20, 21});
      }
    }
  });
  const auto r = engine.wait(id);
  tool.join();
  EXPECT_EQ(engine.wait(bystander).finish_reason, FinishReason::Length);
  EXPECT_GE(answered, 1);
  EXPECT_EQ(r.parks, answered);
  EXPECT_EQ(r.finish_reason, FinishReason::Length);
  // Each sampled pause token is followed by the tool's answer, marked forced.
  for (size_t i = 0; i + 1 < r.tokens.size(); ++i)
    if (r.tokens[i] == pause && !r.forced[i]) {
      EXPECT_EQ(r.tokens[i + 1], 20) << i;
      EXPECT_TRUE(r.forced[i + 1]) << i;
    }
}

TEST(Engine, ForksOfAParkedSequenceRunWhileItWaits) {
  auto model = random_model();
  Rng rng(24);
  const auto prompt = random_prompt(rng, 9, 9);
  const auto [pause, at] = natural_pause(model, prompt);
  ASSERT_GE(pause, 0);
  Engine engine(model, torch::kCPU, small_options());
  auto params = greedy(30);
  params.pause_tokens = {pause};
  const SeqId parent = engine.add(Prompt::of(prompt), params);
  engine.run_until_idle();
  ASSERT_EQ(engine.stats().parked, 1);
  // Children continue past the pause on their own (no pause tokens), sharing the parent's stored KV.
  auto child_params = greedy(30);
  const auto kids = engine.fork(parent, 2, {child_params, child_params});
  engine.run_until_idle();
  const auto straight = run_alone(model, prompt, greedy(30));
  for (SeqId kid : kids) {
    const auto r = engine.take(kid).value();
    EXPECT_EQ(r.finish_reason, FinishReason::Length);
    EXPECT_EQ(r.tokens, straight.tokens);  // the same greedy continuation as a run that never paused
  }
  EXPECT_EQ(engine.stats().parked, 1);  // the parent still waits
  engine.cancel(parent);
  engine.run_until_idle();
  EXPECT_EQ(engine.pool().used_blocks(), 0);
}

// A prefix holder parks once prefilled without sampling; waves of forks long after start from its prompt (no
// second prefill) and continue exactly as a fresh run of the prompt would.
TEST(Engine, AHolderKeepsItsPromptForLaterWavesOfForks) {
  auto model = random_model();
  Rng rng(31);
  const auto prompt = random_prompt(rng, 11, 11);
  Engine engine(model, torch::kCPU, small_options());
  auto hold = greedy(1);
  hold.hold = true;
  const SeqId holder = engine.add(Prompt::of(prompt), hold);
  engine.run_until_idle();
  ASSERT_EQ(engine.stats().parked, 1);
  EXPECT_EQ(engine.stats().sampled_tokens, 0);
  const auto straight = run_alone(model, prompt, greedy(12));
  const int64_t prefilled = engine.stats().prefill_tokens + engine.stats().decode_tokens;
  for (int wave = 0; wave < 2; ++wave) {
    const auto kids = engine.fork(holder, 2, {greedy(12), greedy(12)});
    engine.run_until_idle();
    for (SeqId kid : kids) {
      const auto r = engine.take(kid).value();
      EXPECT_EQ(r.tokens, straight.tokens) << "wave " << wave;
      EXPECT_EQ(r.prefilled_tokens, 0);
    }
  }
  // The children fed only their own tokens: the prompt was run once.
  EXPECT_EQ(engine.stats().prefill_tokens + engine.stats().decode_tokens - prefilled, 4 * (12 - 1));
  // Children of a holder that inherit its params generate (they do not hold).
  const auto inherit = engine.fork(holder, 1);
  engine.run_until_idle();
  EXPECT_EQ(engine.take(inherit[0]).value().tokens.size(), 1u);  // the holder's max_tokens: 1
  engine.cancel(holder);
  engine.run_until_idle();
  EXPECT_EQ(engine.take(holder).value().finish_reason, FinishReason::Cancelled);
  EXPECT_EQ(engine.pool().used_blocks(), 0);
}

TEST(Engine, TheLoopSleepsWhenOnlyParkedAndBlockedWorkIsLeft) {
  auto model = random_model();
  Rng rng(25);
  const auto prompt = random_prompt(rng, 7, 7);
  const auto [pause, at] = natural_pause(model, prompt);
  ASSERT_GE(pause, 0);
  auto options = small_options(/*block_size=*/4);
  Engine probe(model, torch::kCPU, options);
  const int max_tokens = 60;
  options.kv_mem = probe.blocks_for_request(7, max_tokens) * probe.pool().block_bytes() * 3 / 2;
  Engine engine(model, torch::kCPU, options);
  engine.start();
  auto params = greedy(max_tokens);
  params.pause_tokens = {pause};
  params.events = std::make_shared<EventQueue>();
  const SeqId parked = engine.add(Prompt::of(prompt), params);
  while (auto e = params.events->pop(std::chrono::milliseconds(5000))) if (e->parked) break;
  const SeqId blocked = engine.add(Prompt::of(random_prompt(rng, 7, 7)), greedy(max_tokens));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int64_t steps = engine.stats().steps;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(engine.stats().steps, steps);  // no busy stepping while nothing can move
  EXPECT_EQ(engine.stats().queued, 1);
  engine.cancel(parked);
  EXPECT_EQ(engine.wait(blocked).finish_reason, FinishReason::Length);
  EXPECT_EQ(engine.wait(parked).finish_reason, FinishReason::Cancelled);
}

// Engine::generate: one streamed request on the caller's thread; its callback may answer pauses itself.
TEST(Engine, GenerateStreamsOnTheCallersThreadAndAnswersPauses) {
  auto model = random_model();
  Rng rng(27);
  const auto prompt = random_prompt(rng, 6, 6);
  const auto [pause, at] = natural_pause(model, prompt);
  ASSERT_GE(pause, 0);
  Engine engine(model, torch::kCPU, small_options());
  std::vector<int> streamed;
  const auto plain = engine.generate(Prompt::of(prompt), greedy(20), [&](const TokenEvent& e) {
    if (e.token >= 0) streamed.push_back(e.token);
  });
  EXPECT_EQ(streamed, plain.tokens);
  EXPECT_EQ(plain.tokens, run_alone(model, prompt, greedy(20)).tokens);

  auto params = greedy(20);
  params.pause_tokens = {pause};
  int answered = 0;
  const auto with_tool = engine.generate(Prompt::of(prompt), params, [&](const TokenEvent& e) {
    if (e.parked) {
      ++answered;
      engine.force(e.id, {30});
    }
  });
  EXPECT_GE(answered, 1);
  EXPECT_EQ(with_tool.tokens[at + 1], 30);
  // Not answering a pause is an error, not a hang.
  EXPECT_THROW(engine.generate(Prompt::of(prompt), params, {}), MuseError);
  // An exception from the callback cancels the sequence and propagates; nothing is left behind.
  EXPECT_THROW(engine.generate(Prompt::of(prompt), greedy(20),
                               [&](const TokenEvent&) { throw std::runtime_error("client went away"); }),
               std::runtime_error);
  engine.run_until_idle();
  EXPECT_EQ(engine.pool().used_blocks(), 0);
  EXPECT_TRUE(engine.idle());
}

// A tool's image result (a zoom's crop) forced into a running sequence: its patches and 2-D positions reach the
// model exactly as if the whole sequence had been one prompt, whether the image is fed in one chunk or split.
TEST(Engine, AForcedImageSegmentIsSeenAsIfItWereInThePrompt) {
  ModelConfig config = test_config();
  config.patch_size = 2;
  config.patch_token_id = 45;
  at::set_num_threads(1);
  torch::manual_seed(11);
  Transformer model(config);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
  }
  model->eval();
  const std::vector<int> prompt = {3, 7, 11, 2, 9};
  // Segment: begin, a 2 x 2 patch grid with row ends, end; positions relative to where it is forced.
  Prompt segment;
  segment.tokens = {41, 45, 45, 42, 45, 45, 42, 43};
  segment.positions = {{0, 0, 0}, {1, 1, 1}, {1, 1, 2}, {1, 1, 3}, {1, 2, 1}, {1, 2, 2}, {1, 2, 3}, {4, 4, 4}};
  segment.next_t = 5;
  segment.patches = torch::randn({4, config.patch_dim()});
  for (int64_t step_tokens : {64, 3}) {  // one chunk; chunks that end inside the image
    EngineOptions options = small_options();
    options.max_step_tokens = step_tokens;
    Engine engine(model, torch::kCPU, options);
    auto params = greedy(12);
    params.keep_logits = true;
    const SeqId id = engine.add(Prompt::of(prompt), params);
    engine.force(id, segment);
    engine.run_until_idle();
    const auto r = engine.take(id).value();
    ASSERT_EQ(r.finish_reason, FinishReason::Length);
    ASSERT_GT(r.tokens.size(), segment.tokens.size());
    const size_t first_sampled = segment.tokens.size();
    EXPECT_FALSE(r.forced[first_sampled]);
    // The reference: prompt + segment (+ the first sampled token) in one forward, no cache.
    std::vector<int> all = concat(prompt, segment.tokens);
    const int64_t n = static_cast<int64_t>(all.size());
    auto positions = torch::empty({1, n, 3}, torch::kInt64);
    for (int64_t i = 0; i < n; ++i)
      for (int a = 0; a < 3; ++a)
        positions[0][i][a] = i < 5 ? i : 5 + segment.positions[static_cast<size_t>(i - 5)][static_cast<size_t>(a)];
    ModelInput in;
    in.tokens = torch::tensor(std::vector<int64_t>(all.begin(), all.end()), torch::kInt64).view({1, n});
    in.positions = positions;
    in.patches = segment.patches;
    torch::NoGradGuard no_grad;
    const auto expected = model->forward(in).select(1, n - 1).squeeze(0);
    const auto got = torch::tensor(r.logits[first_sampled]);
    EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-4)) << "max step tokens " << step_tokens;
    // Text after the image continues at t = 5 + next_t.
    EXPECT_EQ(engine.pool().used_blocks(), 0);
  }
  Engine engine(model, torch::kCPU, small_options());
  const SeqId id = engine.add(Prompt::of(prompt), greedy(4));
  Prompt bad = segment;
  bad.patches = torch::randn({3, config.patch_dim()});
  EXPECT_THROW(engine.force(id, bad), MuseError);  // 4 patch tokens, 3 rows of pixels
  engine.cancel(id);
  engine.run_until_idle();
}
