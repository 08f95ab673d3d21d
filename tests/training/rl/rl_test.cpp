// RL end to end on a tiny model: rollouts carry exactly what the model saw, a run changes the model, and an
// interrupted run resumed with --resume gives the same rollouts and the same model as one that was never
// stopped — also when a round of rollouts is reused for several steps and the stop falls inside it.
#include "training/rl/rl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/pretrain.h"
#include "training/recipe.h"
#include "training/rl/curves.h"
#include "training/rl/seeds.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "training/training_fixtures.h"
#include "util/test_dirs.h"

namespace muse {
namespace {
namespace fs = std::filesystem;
using test::fresh_dir;

// The suite's model shape: one layer of width 64 (two heads of 32), with room for `context` tokens.
ModelConfig one_layer_config(int64_t context) { return test::micro_config(1, context); }

// A briefly trained tiny model directory, made once for the whole suite.
const std::string& base_model_dir() {
  static const std::string dir = [] {
    configure_threads({1, 1});
    const auto d = fresh_dir("muse_rl_base");
    train_tokenizer_for_mixture("add:1", {}, TokenizerTrainParams{400}, 300, 1, d);
    const ModelConfig c = one_layer_config(64);
    pretrain(c, test::quiet_pretrain_params(d, "add:1", 30, 8, 64, 5));
    return d;
  }();
  return dir;
}

RlParams tiny_rl(const std::string& out) {
  RlParams p;
  p.init_from = base_model_dir();
  p.out_dir = out;
  p.rollout.tasks = "add:1";
  p.rollout.prompts = 2;
  p.rollout.group_size = 4;
  p.rollout.max_tokens = 16;
  p.rollout.tool_use.enabled = false;
  // Thinking lengths differ within a group, so rewards (and advantages) do even while every answer is wrong.
  p.reward.penalty = LengthPenalty::Linear;
  p.reward.coefficient = 0.02;
  p.mask_truncated = false;
  p.steps = 4;
  p.micro_batches = 2;
  p.lr = 1e-3;
  p.warmup_steps = 1;
  p.eval_problems = 0;
  p.checkpoint_every = 0;
  p.progress = false;
  return p;
}

std::vector<nlohmann::json> step_lines(const std::string& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(fs::path(run) / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("rollout_digest")) lines.push_back(j);
  }
  return lines;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  const auto x = load_tensor_map((fs::path(a) / "model.safetensors").string());
  const auto y = load_tensor_map((fs::path(b) / "model.safetensors").string());
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [name, tensor] : x) EXPECT_TRUE(torch::equal(tensor, y.at(name))) << name;
}

void expect_same_run(const std::string& straight, const std::string& resumed, int steps) {
  const auto a = step_lines(straight), b = step_lines(resumed);
  ASSERT_EQ(a.size(), static_cast<size_t>(steps));
  ASSERT_EQ(b.size(), static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) {
    EXPECT_EQ(a[i]["rollout_digest"], b[i]["rollout_digest"]) << "step " << i + 1;
    EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << "step " << i + 1;
    EXPECT_EQ(a[i]["reward"], b[i]["reward"]) << "step " << i + 1;
  }
  expect_same_weights(straight, resumed);
}

TEST(RlRollouts, CarryWhatTheModelSawAndRepeatForTheSameRound) {
  configure_threads({1, 1});
  auto loaded = load_model_dir(base_model_dir(), torch::kCPU);
  const auto params = tiny_rl("unused").rollout;
  const auto tasks = parse_mixture(params.tasks);
  const auto a = generate_rollouts(loaded.model, torch::kCPU, loaded.tokenizer, tasks, params, 1, 0);
  ASSERT_EQ(a.size(), 8u);
  for (const auto& r : a) {
    ASSERT_EQ(r.positions.size(), r.tokens.size());
    ASSERT_EQ(r.sampled.size(), r.tokens.size());
    for (int64_t i = 0; i < r.prompt_tokens; ++i) EXPECT_FALSE(r.sampled[i]);
    EXPECT_GT(r.generated_tokens(), 0);
    EXPECT_EQ(r.task, "add");
  }
  // A group shares its problem (and so its prompt); samples differ by seed.
  EXPECT_TRUE(std::equal(a[0].tokens.begin(), a[0].tokens.begin() + a[0].prompt_tokens, a[3].tokens.begin()));
  const auto again = generate_rollouts(loaded.model, torch::kCPU, loaded.tokenizer, tasks, params, 1, 0);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, again[i].tokens) << "rollout " << i;
  const auto next = generate_rollouts(loaded.model, torch::kCPU, loaded.tokenizer, tasks, params, 1, 1);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs |= a[i].tokens != next[i].tokens;
  EXPECT_TRUE(differs) << "the next round draws other problems";
}

// The loss re-scores a rollout with the training forward: its log-probs must be the ones the engine sampled
// from, for forks too, and with an image in the prompt (positions and patches carried by keep_inputs).
TEST(RlRollouts, TheLossScoresExactlyWhatTheEngineSampled) {
  configure_threads({1, 1});
  const auto tok = Tokenizer::load((fs::path(base_model_dir()) / "tokenizer.model").string());
  const ModelConfig c = fit_model_config(one_layer_config(256), tok, 256);
  torch::manual_seed(9);
  Transformer model(c);
  {
    torch::NoGradGuard no_grad;
    model->lm_head->weight.normal_(0.0, 0.5);  // a peaked, non-uniform policy
  }
  EngineOptions options = EngineOptions::for_device(torch::kCPU);
  options.reproducible = true;
  Engine engine(model, torch::kCPU, options);
  RenderOptions render;
  render.vision = vision_params(c);
  for (const char* name : {"add", "count"}) {
    Rng rng(4);
    const auto example = make_task(name)->sample(rng, 1, Split::Train);
    const auto prompt = Prompt::of(render_prompt(tok, example.prompt, render));
    RequestParams request;
    request.sampling.temperature = 1.0;
    request.sampling.max_tokens = 12;
    request.sampling.seed = 3;
    request.logprobs = true;
    request.keep_inputs = true;
    const auto ids = engine.add_samples(prompt, request, 3);
    engine.run_until_idle();
    for (SeqId id : ids) {
      const auto result = engine.take(id);
      ASSERT_TRUE(result.has_value());
      PolicySequence s;
      s.tokens = prompt.tokens;
      s.tokens.insert(s.tokens.end(), result->tokens.begin(), result->tokens.end());
      s.positions = result->positions;
      s.patches = result->patches;
      ASSERT_EQ(s.positions.size(), s.tokens.size()) << name;
      if (std::string(name) == "count") ASSERT_TRUE(s.patches.defined() && s.patches.size(0) > 0);
      s.trained.assign(s.tokens.size(), false);
      for (size_t j = 0; j < result->tokens.size(); ++j) s.trained[prompt.tokens.size() + j] = !result->forced[j];
      const auto batch = make_policy_batches({s}, 1, LossAggregation::Token, 12)[0];
      const auto scored = target_logprobs(model, batch, 1.0);
      for (size_t j = 0; j < result->tokens.size(); ++j) {
        if (result->forced[j]) continue;
        const auto p = static_cast<int64_t>(prompt.tokens.size() + j) - 1;
        EXPECT_NEAR(scored[0][p].item<float>(), result->logprobs[j], 2e-4) << name << " sequence " << id << " token " << j;
      }
    }
  }
}

TEST(RlRollouts, LoopsAreDetected) {
  std::vector<int> tokens(10, 1);
  for (int i = 0; i < 60; ++i) tokens.push_back(5 + i % 3);
  EXPECT_TRUE(ends_in_loop(tokens, 10));
  std::vector<int> varied(10, 1);
  for (int i = 0; i < 60; ++i) varied.push_back((i * 37) % 101);
  EXPECT_FALSE(ends_in_loop(varied, 10));
  EXPECT_FALSE(ends_in_loop({1, 1, 1}, 0));  // too short to tell
}

TEST(Rl, TrainsAndResumesExactly) {
  configure_threads({1, 1});
  const auto straight = fresh_dir("muse_rl_straight");
  const auto result = rl(tiny_rl(straight));
  EXPECT_TRUE(result.finished);
  EXPECT_EQ(result.steps, 4);
  const auto lines = step_lines(straight);
  ASSERT_EQ(lines.size(), 4u);
  for (const auto& line : lines) {
    for (const char* key : {"reward", "accuracy", "thinking_tokens", "zero_variance_groups", "truncation_rate",
                            "repetition_rate", "tool_use", "entropy", "kl", "clip_fraction"})
      EXPECT_TRUE(line.contains(key)) << key;
    EXPECT_GT(line["trained_rollouts"].get<double>(), 0.0);
  }
  // It learned something: the weights moved.
  const auto base = load_tensor_map((fs::path(base_model_dir()) / "model.safetensors").string());
  const auto after = load_tensor_map((fs::path(straight) / "model.safetensors").string());
  double moved = 0;
  for (const auto& [name, tensor] : base) moved += (tensor - after.at(name)).abs().sum().item<double>();
  EXPECT_GT(moved, 0.0);
  // Its curves are drawn, and muse report draws them again from metrics.jsonl.
  for (const char* name : {"reward.svg", "thinking.svg", "health.svg"})
    EXPECT_NE(read_file((fs::path(straight) / "curves" / name).string()).find("<svg"), std::string::npos) << name;
  EXPECT_EQ(write_rl_curves(straight).size(), 3u);
  EXPECT_THROW(write_rl_curves(base_model_dir()), MuseError);  // a pretraining run has no RL steps
  // The run directory is a model directory.
  EXPECT_EQ(load_model_dir(straight, torch::kCPU).model->config().d_model, 64);

  const auto resumed = fresh_dir("muse_rl_resumed");
  auto first = tiny_rl(resumed);
  first.stop_after_step = 2;
  EXPECT_FALSE(rl(first).finished);
  auto second = tiny_rl(resumed);
  second.resume = true;
  EXPECT_TRUE(rl(second).finished);
  expect_same_run(straight, resumed, 4);
}

TEST(Rl, AReusedRoundResumesFromItsSavedRollouts) {
  configure_threads({1, 1});
  auto params = [](const std::string& dir) {
    auto p = tiny_rl(dir);
    p.epochs = 2;  // steps 1-2 train on round 0, steps 3-4 on round 1
    return p;
  };
  const auto straight = fresh_dir("muse_rl_epochs_straight");
  rl(params(straight));
  const auto lines = step_lines(straight);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["rollout_digest"], lines[1]["rollout_digest"]);
  EXPECT_NE(lines[1]["rollout_digest"], lines[2]["rollout_digest"]);
  EXPECT_EQ(lines[0]["ratio"].get<double>(), 1.0);  // the round's first step is on-policy ...
  EXPECT_NE(lines[1]["ratio"].get<double>(), 1.0);  // ... its second is not: the clip has work to do
  EXPECT_FALSE(fs::exists(fs::path(straight) / "rollouts" / "round.pt"));  // removed when the run is done

  const auto resumed = fresh_dir("muse_rl_epochs_resumed");
  auto first = params(resumed);
  first.stop_after_step = 1;  // inside round 0: its weights at the start are gone, its rollouts are saved
  rl(first);
  EXPECT_TRUE(fs::exists(fs::path(resumed) / "rollouts" / "round.pt"));
  auto second = params(resumed);
  second.resume = true;
  rl(second);
  expect_same_run(straight, resumed, 4);
}

TEST(Rl, SeedsRunOneByOneAndTheirCurvesAreCombined) {
  configure_threads({1, 1});
  const auto dir = fresh_dir("muse_rl_seeds");
  auto p = tiny_rl("");
  p.steps = 2;
  p.eval_every = 1;
  p.eval_problems = 2;
  const auto points = run_rl_seeds(p, {1, 2}, dir);
  // Per seed: the start, step 1 (periodic) and the final evaluation.
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].seed, 1u);
  EXPECT_EQ(points[0].step, 0);
  EXPECT_EQ(points[5].seed, 2u);
  EXPECT_EQ(points[5].step, 2);
  for (const char* name : {"scale_rl.csv", "scale_rl.json", "scale_rl_accuracy.svg", "scale_rl_thinking.svg"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / name)) << name;
  EXPECT_TRUE(fs::exists(fs::path(dir) / "seed-2" / "model.safetensors"));
  EXPECT_EQ(run_rl_seeds(p, {1, 2}, dir).size(), 6u);  // finished seeds are kept, not run again
}

TEST(Rl, BadSettingsAreNamedBeforeAnyWork) {
  auto expect_error = [](RlParams p, const std::string& fragment) {
    try {
      rl(p);
      FAIL() << "expected an error mentioning " << fragment;
    } catch (const MuseError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  auto p = tiny_rl(fresh_dir("muse_rl_bad"));
  p.rollout.tasks = "text";
  expect_error(p, "verifier");
  p = tiny_rl(base_model_dir());
  expect_error(p, "--out must differ");
  p = tiny_rl(fresh_dir("muse_rl_bad"));
  p.rollout.group_size = 1;
  expect_error(p, "group size");
  p = tiny_rl(fresh_dir("muse_rl_bad"));
  p.rollout.tasks = "nonsense:1";
  expect_error(p, "nonsense");
  p = tiny_rl(fresh_dir("muse_rl_bad"));
  p.init_from = fresh_dir("muse_rl_empty_model");
  expect_error(p, "config.json");
}

}  // namespace
}  // namespace muse
