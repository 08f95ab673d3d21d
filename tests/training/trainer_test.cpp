// The Trainer with batch sources other than next-token pretraining: micro-batches arrive in (step, micro)
// order with and without prefetching, a custom loss and its metrics reach metrics.jsonl, and the run directory
// becomes a model directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/runtime.h"
#include "training/trainer.h"
#include "util/error.h"
#include "util/test_dirs.h"
#include "training/training_fixtures.h"

using namespace muse;
namespace fs = std::filesystem;

namespace {

using test::fresh_dir;

Transformer micro_model() {
  ModelConfig c = test::micro_config(1, 16);
  c.vocab_size = 64;
  torch::manual_seed(3);
  return Transformer(c);
}

TrainerParams micro_trainer_params(const std::string& dir) {
  TrainerParams p;
  p.run_dir = dir;
  p.steps = 3;
  p.grad_accum = 2;
  p.log_every = 1;
  p.checkpoint_every = 0;
  p.progress = false;
  p.schedule = LrSchedule{"cosine", 1e-3, 0.1, 1, 3};
  p.fingerprint = {{"what", "trainer test"}};
  return p;
}

struct Rollout {  // what an RL source might hand over: tokens and a reward per row
  int64_t step = 0, micro = 0;
  at::Tensor tokens;
  double reward = 0.0;
};

// A reward-weighted log-likelihood loss (REINFORCE-like), not next-token cross-entropy.
MicroBatchLoss reward_weighted_loss(Transformer& model, const Rollout& r) {
  const auto positions = text_positions(0, r.tokens.size(1), torch::kCPU).expand({r.tokens.size(0), -1, 3});
  const auto logits = model->forward({r.tokens, positions.contiguous(), {}, {}});
  const auto log_probs = torch::log_softmax(logits, -1).gather(-1, r.tokens.unsqueeze(-1)).mean();
  MicroBatchLoss out;
  out.loss = -r.reward * log_probs;
  out.value = out.loss.item<double>();
  out.tokens = r.tokens.numel();
  out.metrics["reward"] = r.reward;
  return out;
}

// Runs 3 steps x 2 micro-batches and returns the (step, micro) order in which batches were fetched.
std::vector<std::pair<int64_t, int64_t>> run_rollouts(const std::string& dir, bool prefetch) {
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> order;
  Transformer model = micro_model();
  Trainer trainer(micro_trainer_params(dir), model);
  const auto source = make_batch_source<Rollout>(
      [&](int64_t step, int64_t micro) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          order.emplace_back(step, micro);
        }
        at::Tensor tokens = torch::arange(16, torch::kInt64).remainder(64).view({2, 8}) + step;
        return Rollout{step, micro, tokens, static_cast<double>(step + micro)};
      },
      reward_weighted_loss, prefetch);
  const auto run = trainer.run(source);
  EXPECT_TRUE(run.finished);
  EXPECT_EQ(run.steps, 3);
  EXPECT_EQ(run.tokens, 3 * 2 * 16);
  EXPECT_EQ(run.losses.size(), 3u);
  return order;
}

}  // namespace

TEST(Trainer, CustomLossAndMetricsWithoutPrefetch) {
  configure_threads({1, 1});
  const auto dir = fresh_dir("muse_trainer_rl");
  const auto order = run_rollouts(dir, /*prefetch=*/false);
  const std::vector<std::pair<int64_t, int64_t>> expected = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 1}};
  EXPECT_EQ(order, expected);

  std::ifstream metrics(fs::path(dir) / "metrics.jsonl");
  std::vector<double> rewards;
  for (std::string line; std::getline(metrics, line);) rewards.push_back(nlohmann::json::parse(line).at("reward"));
  EXPECT_EQ(rewards, (std::vector<double>{0.5, 1.5, 2.5}));  // the mean over each step's two micro-batches
  EXPECT_TRUE(fs::exists(fs::path(dir) / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "config.json"));
}

TEST(Trainer, PrefetchedBatchesComeInOrderAndStopAtTheLastStep) {
  const auto order = run_rollouts(fresh_dir("muse_trainer_prefetch"), /*prefetch=*/true);
  const std::vector<std::pair<int64_t, int64_t>> expected = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 1}};
  EXPECT_EQ(order, expected);
}

TEST(Trainer, ResumeNamesTheChangedFingerprintKey) {
  const auto dir = fresh_dir("muse_trainer_fingerprint");
  auto params = micro_trainer_params(dir);
  params.stop_after_step = 1;
  {
    Trainer trainer(params, micro_model());
    trainer.run(make_batch_source<Rollout>(
        [](int64_t step, int64_t micro) {
          return Rollout{step, micro, torch::zeros({1, 4}, torch::kInt64), 1.0};
        },
        reward_weighted_loss));
  }
  auto changed = micro_trainer_params(dir);
  changed.resume = true;
  changed.fingerprint["what"] = "another test";
  try {
    Trainer trainer(changed, micro_model());
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find(R"(what was "trainer test", now "another test")"), std::string::npos)
        << e.what();
  }
}

TEST(Trainer, ParamsAreValidated) {
  auto p = micro_trainer_params(fresh_dir("muse_trainer_params"));
  p.grad_accum = 0;
  EXPECT_THROW(Trainer(p, micro_model()), MuseError);
  p = micro_trainer_params("");
  EXPECT_THROW(Trainer(p, micro_model()), MuseError);
}
