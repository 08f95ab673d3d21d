// Evaluation: the image-blind baseline, and the shipped model's answers depending on what its pixels show.
#include "eval/task_eval.h"
#include "eval/contemplate_eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "model/weights.h"
#include "util/error.h"
#include "util/rng.h"

using namespace muse;

namespace {

std::string shipped_model_dir() { return std::string(MUSE_SOURCE_DIR) + "/models/default"; }

// The shipped default, if it is a model that reads images (it is since the multimodal recipe).
const LoadedModel* shipped_vision_model() {
  static const LoadedModel* model = [] () -> const LoadedModel* {
    const auto dir = shipped_model_dir();
    if (!std::filesystem::exists(dir + "/config.json")) return nullptr;
    auto* loaded = new LoadedModel(load_model_dir(dir, torch::kCPU));
    return loaded->config.sees_images() ? loaded : nullptr;
  }();
  return model;
}

// Greedy answers to held-out problems, with each prompt's patches passed through `edit` first.
std::vector<std::string> answers(const LoadedModel& m, const std::vector<Example>& problems,
                                 const std::function<void(TokenSequence&, Rng&)>& edit) {
  Engine engine(m.model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  RenderOptions options;
  options.vision = vision_params(m.config);
  std::vector<Prompt> prompts;
  Rng rng(17);
  for (const auto& example : problems) {
    auto prompt = render_prompt(m.tokenizer, example.prompt, options);
    if (edit) edit(prompt, rng);
    prompts.push_back(Prompt::of(prompt));
  }
  RequestParams greedy;
  greedy.sampling.max_tokens = 220;  // a maze's breadth-first trace runs to ~160 tokens
  greedy.sampling.stop_tokens = {m.tokenizer.special(Special::EndOfTurn), m.tokenizer.eos()};
  std::vector<std::string> out;
  for (const auto& result : engine.run_batch(prompts, greedy))
    out.push_back(parse_reply(m.tokenizer, result.tokens).answer);
  return out;
}

std::vector<Example> heldout_problems(const Task& task, int difficulty, int n) {
  Rng rng(2024);
  std::vector<Example> problems;
  for (int i = 0; i < n; ++i) problems.push_back(task.sample(rng, difficulty, Split::Heldout));
  return problems;
}

}  // namespace

TEST(BlankImages, ReplacesEveryImageWithAWhiteOneOfTheSameSize) {
  auto dot = make_image(5, 3, 0, 0, 0);
  const std::vector<Segment> prompt = {text_segment("a"), image_segment(dot), text_segment("b")};
  const auto blank = blank_images_of(prompt);
  ASSERT_EQ(blank.size(), 3u);
  EXPECT_EQ(blank[0].text, "a");
  EXPECT_EQ(blank[2].text, "b");
  ASSERT_EQ(blank[1].kind, SegmentKind::Image);
  EXPECT_EQ(blank[1].image->width, 5);
  EXPECT_EQ(blank[1].image->height, 3);
  EXPECT_TRUE(std::all_of(blank[1].image->rgb.begin(), blank[1].image->rgb.end(), [](uint8_t v) { return v == 255; }));
  EXPECT_EQ(prompt[1].image->rgb[0], 0);  // the original is untouched
}

// The test that the model looks at the pixels: on held-out maze problems, blanking the image or shuffling its
// patches (same pixels, wrong places) must change the answers. Whether the answers get *better* for it is a
// report-card number (image-blind column, models/default/report.md), not asserted here: the default of 2026-12-03
// reads no image task clearly above its blank-image baseline (issue 11 keeps that goal open).
TEST(ShippedModel, MazeAnswersDependOnThePixels) {
  const auto* model = shipped_vision_model();
  if (!model) GTEST_SKIP() << "models/default is text-only";
  const auto task = make_task("grid");
  const auto problems = heldout_problems(*task, 1, 120);
  const auto seen = answers(*model, problems, {});
  const auto blind = answers(*model, problems, [&](TokenSequence& seq, Rng&) {
    std::fill(seq.patches.begin(), seq.patches.end(), 1.0f);  // a white image: every byte 255
  });
  const auto shuffled = answers(*model, problems, [&](TokenSequence& seq, Rng& rng) {
    const size_t n = seq.patch_count(), dim = static_cast<size_t>(seq.patch_dim);
    std::vector<float> copy = seq.patches;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[static_cast<size_t>(rng.uniform_int(0, i))]);
    for (size_t i = 0; i < n; ++i)
      std::copy_n(copy.begin() + static_cast<ptrdiff_t>(order[i] * dim), dim,
                  seq.patches.begin() + static_cast<ptrdiff_t>(i * dim));
  });
  int correct = 0, correct_blind = 0, changed_blind = 0, changed_shuffled = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    correct += task->verify(problems[i], seen[i]) == 1.0;
    correct_blind += task->verify(problems[i], blind[i]) == 1.0;
    changed_blind += blind[i] != seen[i];
    changed_shuffled += shuffled[i] != seen[i];
  }
  const double n = static_cast<double>(problems.size());
  std::printf("grid@1 held-out: seen %.1f%%, blank image %.1f%%; answers changed by blanking %.1f%%, by shuffling "
              "patches %.1f%%\n", 100 * correct / n, 100 * correct_blind / n, 100 * changed_blind / n,
              100 * changed_shuffled / n);
  // Measured seen / blank / changed by blanking / by shuffling: the default of 2026-12-03 26.7%, 28.3%, 54.2%,
  // 18.3%; of 2026-12-01 13.3%, 1.7%, 55.0%, 12.5%; the one before 21.7%, 11.7%, 66.7%, 25.0%. A model that ignored
  // the pixels would change nothing.
  EXPECT_GE(changed_blind / n, 0.4);
  EXPECT_GE(changed_shuffled / n, 0.1);
}

// --- thinking budgets, prompt styles, EvalParams ------------------------------------------------------------------

namespace {

// The shipped default, whatever it reads (text-only or multimodal); null if there is none.
const LoadedModel* shipped_model() {
  static const LoadedModel* model = []() -> const LoadedModel* {
    const auto dir = shipped_model_dir();
    if (!std::filesystem::exists(dir + "/config.json")) return nullptr;
    return new LoadedModel(load_model_dir(dir, torch::kCPU));
  }();
  return model;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace

TEST(EvalParams, ValidatesBudgetsAndChatOptions) {
  EvalParams p;
  EXPECT_NO_THROW(p.validate());
  p.max_thinking_tokens = 0;
  EXPECT_NO_THROW(p.validate());
  p.max_thinking_tokens = -2;
  EXPECT_THROW(p.validate(), MuseError);
  p.max_thinking_tokens = 4;
  p.min_thinking_tokens = 5;
  EXPECT_THROW(p.validate(), MuseError);
  p.min_thinking_tokens = 0;
  p.chat.min_earlier_turns = 3;
  p.chat.max_earlier_turns = 2;
  EXPECT_THROW(p.validate(), MuseError);
  EXPECT_EQ(parse_prompt_style("chat"), PromptStyle::Chat);
  EXPECT_STREQ(prompt_style_name(PromptStyle::Plain), "plain");
  EXPECT_THROW(parse_prompt_style("fancy"), MuseError);
}

// Every problem's thinking stays within the budget; budget 0 closes every thinking span at once.
TEST(EvalBudget, HonouredPerProblem) {
  const auto* m = shipped_model();
  if (!m) GTEST_SKIP() << "no models/default";
  Engine engine(m->model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  const auto task = make_task("add");
  for (int budget : {0, 3, 12, -1}) {
    EvalParams p;
    p.problems = 12;
    p.seed = 5;
    p.max_tokens = 96;
    p.max_thinking_tokens = budget;
    const auto r = evaluate_task(engine, m->tokenizer, *task, 2, p);
    ASSERT_EQ(r.outcomes.size(), 12u);
    EXPECT_EQ(r.budget, budget);
    EXPECT_EQ(r.style, "plain");
    EXPECT_GT(r.seconds, 0.0);
    EXPECT_NEAR(r.seconds_per_problem, r.seconds / 12, 1e-12);
    EXPECT_GT(r.mean_prompt_tokens, 0.0);
    for (const auto& o : r.outcomes) {
      if (budget >= 0) EXPECT_LE(o.thinking_tokens, budget) << "budget " << budget;
      if (budget == 0) EXPECT_TRUE(o.budget_hit);
      if (budget < 0) EXPECT_FALSE(o.budget_hit);
    }
    if (budget == 0) {
      EXPECT_EQ(r.mean_thinking_tokens, 0.0);
      EXPECT_EQ(r.budget_hit, 1.0);
    }
  }
}

// Problems one at a time: each has its latency; an agent tree that never spawns answers as the plain loop does;
// a deadline too short for any answer scores nothing.
TEST(EvalSpawn, SequentialRunsMeasureLatencyAndTreesThatDoNotSpawnAnswerAlike) {
  const auto* m = shipped_model();
  if (!m) GTEST_SKIP() << "no models/default";
  Engine engine(m->model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  const auto task = make_task("add");
  EvalParams p;
  p.problems = 8;
  p.seed = 4;
  p.max_tokens = 64;
  p.sequential = true;
  const auto alone = evaluate_task(engine, m->tokenizer, *task, 2, p);
  p.spawn = true;
  const auto tree = evaluate_task(engine, m->tokenizer, *task, 2, p);
  EXPECT_TRUE(alone.sequential && tree.sequential && tree.spawn && !alone.spawn);
  EXPECT_EQ(tree.accuracy, alone.accuracy);
  EXPECT_EQ(tree.agents_per_problem, 1.0);  // addition needs no helpers
  EXPECT_EQ(tree.spawns_per_problem, 0.0);
  EXPECT_GT(alone.accuracy, 0.5);
  for (const auto* r : {&alone, &tree}) {
    EXPECT_GT(r->mean_latency_s, 0.0);
    EXPECT_GE(r->p90_latency_s, 0.0);
    for (const auto& o : r->outcomes) EXPECT_GT(o.seconds, 0.0);
  }
  for (bool spawn : {false, true}) {
    p.spawn = spawn;
    p.deadline_s = 1e-6;
    const auto cut = evaluate_task(engine, m->tokenizer, *task, 2, p);
    EXPECT_EQ(cut.accuracy, 0.0) << "spawn " << spawn;
    EXPECT_EQ(cut.deadline_s, 1e-6);
  }
}

// The original positional form is the plain, unbudgeted run.
TEST(EvalBudget, PositionalFormEqualsDefaultParams) {
  const auto* m = shipped_model();
  if (!m) GTEST_SKIP() << "no models/default";
  Engine engine(m->model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  const auto task = make_task("add");
  const auto old_form = evaluate_task(engine, m->tokenizer, *task, 1, 10, 3, 64);
  EvalParams p;
  p.problems = 10;
  p.seed = 3;
  p.max_tokens = 64;
  const auto new_form = evaluate_task(engine, m->tokenizer, *task, 1, p);
  EXPECT_EQ(old_form.accuracy, new_form.accuracy);
  EXPECT_EQ(old_form.mean_thinking_tokens, new_form.mean_thinking_tokens);
  EXPECT_EQ(old_form.mean_answer_tokens, new_form.mean_answer_tokens);
  EXPECT_EQ(old_form.budget, -1);
}

// Chat style: the same held-out problems, each after a system prompt and 1-2 earlier solved problems whose
// reasoning is dropped; the prompt ends by opening the assistant's thinking.
TEST(EvalPrompts, ChatStyleRendersSystemPromptAndEarlierTurns) {
  const auto* m = shipped_model();
  if (!m) GTEST_SKIP() << "no models/default";
  const auto task = make_task("add");
  EvalParams plain;
  plain.problems = 8;
  plain.seed = 11;
  EvalParams chat = plain;
  chat.style = PromptStyle::Chat;
  const auto a = eval_prompts(m->tokenizer, *task, 2, plain, m->config);
  const auto b = eval_prompts(m->tokenizer, *task, 2, chat, m->config);
  ASSERT_EQ(a.examples.size(), 8u);
  ASSERT_EQ(b.prompts.size(), 8u);
  std::vector<int> turns_seen;
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(segments_text(a.examples[i].prompt), segments_text(b.examples[i].prompt));  // same problems
    EXPECT_EQ(split_of(b.examples[i]), Split::Heldout);
    const auto text = m->tokenizer.decode(b.prompts[i].tokens, /*show_specials=*/true);
    const auto plain_text = m->tokenizer.decode(a.prompts[i].tokens, true);
    EXPECT_EQ(count_of(plain_text, "<|system|>"), 0u);
    EXPECT_EQ(count_of(text, "<|system|>"), 1u) << text;
    bool has_system_prompt = false;
    for (const auto& s : eval_system_prompts()) has_system_prompt |= text.find(s) != std::string::npos;
    EXPECT_TRUE(has_system_prompt) << text;
    const size_t users = count_of(text, "<|user|>");
    EXPECT_GE(users, 2u) << text;
    EXPECT_LE(users, 3u) << text;
    turns_seen.push_back(static_cast<int>(users) - 1);
    // One assistant header per earlier turn, plus the generation prompt; earlier turns keep no reasoning.
    EXPECT_EQ(count_of(text, "<|assistant|>"), users);
    EXPECT_EQ(count_of(text, "<|think|><|/think|>"), users - 1) << text;
    const std::string tail = "<|assistant|><|think|>";
    ASSERT_GE(text.size(), tail.size());
    EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
    // The question itself comes last.
    const auto question = segments_text(b.examples[i].prompt);
    EXPECT_NE(text.rfind(question), std::string::npos);
    EXPECT_GT(text.rfind(question), text.rfind("<|user|>"));
  }
  // Both 1 and 2 earlier turns occur.
  EXPECT_NE(std::find(turns_seen.begin(), turns_seen.end(), 1), turns_seen.end());
  EXPECT_NE(std::find(turns_seen.begin(), turns_seen.end(), 2), turns_seen.end());
  // Fixed seeds: the same request renders the same prompts.
  const auto again = eval_prompts(m->tokenizer, *task, 2, chat, m->config);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(again.prompts[i].tokens, b.prompts[i].tokens);
}

TEST(EvalBudget, ChatStyleRunsAndReportsItsStyle) {
  const auto* m = shipped_model();
  if (!m) GTEST_SKIP() << "no models/default";
  Engine engine(m->model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  EvalParams p;
  p.problems = 6;
  p.max_tokens = 64;
  p.style = PromptStyle::Chat;
  p.max_thinking_tokens = 8;
  const auto r = evaluate_task(engine, m->tokenizer, *make_task("add"), 1, p);
  EXPECT_EQ(r.style, "chat");
  EXPECT_EQ(r.budget, 8);
  for (const auto& o : r.outcomes) EXPECT_LE(o.thinking_tokens, 8);
}

// The shipped model reaches for the calculator past its in-head range and not before: on held-out calc@1
// problems (5-8 digit sums, 4-5 digit products) it calls the tool and gets them right far more often than with
// tools off, and on 2-digit sums it answers in its head.
TEST(ShippedModel, CallsTheCalculatorWhenItNeedsOneAndNotOtherwise) {
  const auto* model = shipped_vision_model();
  if (!model) GTEST_SKIP() << "models/default is text-only";
  Engine engine(model->model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  EvalParams params;
  params.problems = 60;
  params.max_tokens = 96;
  const auto calc = make_task("calc");
  const auto with_tools = evaluate_task(engine, model->tokenizer, *calc, 1, params);
  params.tool_use.enabled = false;
  const auto without = evaluate_task(engine, model->tokenizer, *calc, 1, params);
  params.tool_use.enabled = true;
  const auto add = evaluate_task(engine, model->tokenizer, *make_task("add"), 2, params);
  std::printf("calc@1: %.1f%% with tools (%.2f calls per problem, called when needed %.1f%%), %.1f%% without; "
              "add@2 called a tool on %.1f%%\n", 100 * with_tools.accuracy, with_tools.calls_per_problem,
              100 * with_tools.called_when_needed, 100 * without.accuracy, 100 * add.called_when_not_needed);
  EXPECT_GE(with_tools.accuracy, 0.9);
  EXPECT_GE(with_tools.called_when_needed, 0.9);
  EXPECT_GE(with_tools.accuracy, without.accuracy + 0.5);
  EXPECT_LE(add.called_when_not_needed, 0.1);
  EXPECT_EQ(with_tools.tool_errors, 0);
}

// Contemplating on the shipped model, on a task where one greedy agent is near 30%: agents voting beat it, and
// online (unsure agents stopped, consensus ends the run) spends far fewer tokens for about the same accuracy.
TEST(ShippedModel, ContemplatingBeatsOneAgentAndOnlineSavesTokens) {
  const auto* model = shipped_vision_model();
  if (!model) GTEST_SKIP() << "models/default is text-only";
  Engine engine(model->model, torch::kCPU, EngineOptions::for_device(torch::kCPU));
  EvalParams params;
  params.problems = 60;
  params.max_tokens = 200;
  const auto task = make_task("countdown");
  ContemplationEvalParams run;
  run.concurrency = 60;  // all at once: this test is about accuracy and tokens, not latency
  run.mode = AnswerMode::Standard;
  const auto standard = evaluate_contemplating(engine, model->tokenizer, *task, 3, params, run);
  run.mode = AnswerMode::Contemplating;
  run.contemplate.agents = 8;
  run.contemplate.synthesis = Synthesis::Vote;
  const auto vote = evaluate_contemplating(engine, model->tokenizer, *task, 3, params, run);
  run.contemplate.synthesis = Synthesis::Online;
  const auto online = evaluate_contemplating(engine, model->tokenizer, *task, 3, params, run);
  std::printf("countdown@3: standard %.1f%% (%.0f tokens), vote@8 %.1f%% (%.0f tokens, any agent right %.1f%%), "
              "online@8 %.1f%% (%.0f tokens)\n", 100 * standard.accuracy, standard.tokens_per_problem,
              100 * vote.accuracy, vote.tokens_per_problem, 100 * vote.any_agent_right, 100 * online.accuracy,
              online.tokens_per_problem);
  EXPECT_GE(vote.accuracy, standard.accuracy + 0.1);
  EXPECT_GE(vote.any_agent_right, vote.accuracy);
  EXPECT_LE(online.tokens_per_problem, 0.8 * vote.tokens_per_problem);
  EXPECT_GE(online.accuracy, vote.accuracy - 0.1);
}
