// The training loop every kind of training shares (pretraining, SFT, and later RL): optimizer steps over
// micro-batches with gradient accumulation and clipping, the learning-rate schedule, atomic checkpoints and
// exact resume, metrics as JSONL, a progress line, and Ctrl-C/SIGTERM handling that loses no work.
//
// What is trained on, and how it is scored, comes from a BatchSource: the micro-batch for (step, micro) and
// a loss of (model, batch). Pretraining's loss is next-token cross-entropy; RL's can be a policy-gradient loss.
//
//   Trainer trainer(params, model);               // resumes or starts params.run_dir
//   auto run = trainer.run(make_batch_source<Batch>(fetch, loss));
//   if (run.finished) trainer.log_metrics({{"step", run.steps}, {"eval_loss", ...}});
#pragma once
#include <any>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/transformer.h"
#include "training/optimizer.h"
#include "training/checkpoint.h"
#include "training/lr_schedule.h"

namespace muse {

// What one micro-batch contributes to an optimizer step.
struct MicroBatchLoss {
  at::Tensor loss;                        // what backward() runs on (after scaling by 1/grad_accum)
  double value = 0.0;                     // the logged "loss" of this micro-batch (e.g. cross-entropy without z-loss)
  int64_t tokens = 0;                     // tokens trained on: throughput and tokens_seen
  std::map<std::string, double> metrics;  // more scalars (e.g. RL reward), averaged over the step into metrics.jsonl
};

// Where a run's micro-batches come from and how the model is scored on one.
struct BatchSource {
  // The micro-batch `micro` of optimizer step `step`. Exact resume needs it to depend only on (step, micro)
  // and, where `prefetch` is false, on the model's current weights.
  std::function<std::any(int64_t step, int64_t micro)> fetch;
  std::function<MicroBatchLoss(Transformer& model, const std::any& batch)> loss;
  // true: fetch() runs on a background thread one micro-batch ahead, while the model trains on the current
  // one (it must not touch the model). false: it runs on the training thread when its batch is due, so it may
  // read the current weights (RL rollouts).
  bool prefetch = true;
};

// A BatchSource over a concrete batch type.
template <typename BatchT>
BatchSource make_batch_source(std::function<BatchT(int64_t step, int64_t micro)> fetch,
                              std::function<MicroBatchLoss(Transformer& model, const BatchT& batch)> loss,
                              bool prefetch = true) {
  BatchSource source;
  source.fetch = [fetch = std::move(fetch)](int64_t step, int64_t micro) { return std::any(fetch(step, micro)); };
  source.loss = [loss = std::move(loss)](Transformer& model, const std::any& batch) {
    return loss(model, std::any_cast<const BatchT&>(batch));
  };
  source.prefetch = prefetch;
  return source;
}

// An evaluation between steps (the caller evaluates the final model itself, after run()).
struct PeriodicEval {
  int64_t every = 0;  // steps between evaluations; 0 = none. Never at the last step.
  struct Outcome {
    nlohmann::json metrics = nlohmann::json::object();  // logged to metrics.jsonl with "step"
    std::string summary;                                // one line for stderr ("eval loss 1.2345 ...")
  };
  std::function<Outcome(Transformer& model, int64_t step)> run;
};

struct TrainerParams {
  std::string run_dir;               // holds checkpoints/, metrics.jsonl, config.json and the final model.safetensors
  std::string log_tag = "train";     // stderr lines read "[log_tag] ..."
  int64_t steps = 1000;              // optimizer steps of the whole run (a resumed run continues to the same total)
  int64_t grad_accum = 1;            // micro-batches per optimizer step; each loss is scaled by 1/grad_accum
  double grad_clip = 1.0;            // max global L2 norm of the gradients; 0 = no clipping
  LrSchedule schedule;               // AdamW's learning rate of each step; total_steps should equal `steps`
  OptimizerParams optimizer;         // Muon's rate follows the schedule's shape: muon_lr * schedule.at(step) / peak
  int64_t checkpoint_every = 100;    // 0 = only at the end (and when stopped or interrupted)
  int64_t log_every = 10;            // a metrics line every this many steps (and at the last)
  bool resume = false;               // continue from run_dir's latest checkpoint; false refuses a run_dir holding one
  // The settings that must not change across a resume (data, batch, schedule, optimizer): a JSON object whose
  // keys are compared one by one; a mismatch names each differing key.
  nlohmann::json fingerprint = nlohmann::json::object();
  bool progress = true;              // live progress line on stderr (rewritten in place on a TTY)
  double flops_per_token = 0.0;      // training FLOPs per token, for the progress line's GFLOP/s
  int64_t stop_after_step = -1;      // for tests: checkpoint this step and return, as if killed
  // Called after every step with its metrics (e.g. RL's collapse checks, which warn by themselves); what it
  // returns ends the progress line when one is shown: " | reward 0.41".
  std::function<std::string(int64_t step, const std::map<std::string, double>& metrics)> step_note;

  void validate() const;             // MuseError naming the field
};

struct TrainRunResult {
  int64_t steps = 0;                 // optimizer steps done, in all (before a resume too)
  int64_t tokens = 0;                // tokens trained on, in all
  double seconds = 0.0;              // training time, in all (kept in checkpoints)
  double tokens_per_second = 0.0;    // of this process
  double data_wait_share = 0.0;      // share of this process's training time spent waiting for micro-batches
  std::vector<double> losses;        // logged loss of every step this process ran
  bool finished = false;             // all steps done and model.safetensors written; false after stop_after_step
};

class Trainer {
 public:
  // Opens params.run_dir. With `resume`: checks config.json against the model's config, restores the latest
  // checkpoint (refusing different settings, naming each differing fingerprint key) and drops the metrics
  // lines past its step. Without: refuses a directory that already holds a run, and starts metrics afresh.
  // Then writes run_dir/config.json. MuseError names the file and the problem.
  Trainer(TrainerParams params, Transformer model);

  // Trains from the current step to params.steps, then writes run_dir/model.safetensors. Ctrl-C or SIGTERM
  // finishes the current step, checkpoints it and throws Interrupted.
  TrainRunResult run(const BatchSource& source, const PeriodicEval& eval = {});

  // Appends one line to metrics.jsonl (e.g. the final evaluation after run()).
  void log_metrics(const nlohmann::json& line);

  const CheckpointState& state() const { return state_; }
  const TrainerParams& params() const { return params_; }

 private:
  struct StepStats;
  struct Session;
  class MicroBatchQueue;

  void resume_from_checkpoint();
  void start_afresh();
  StepStats train_step(const BatchSource& source, MicroBatchQueue& batches);
  void record_step(const StepStats& stats, Session& session);
  void evaluate(const PeriodicEval& eval, Session& session);
  void save_checkpoint_now();

  TrainerParams params_;
  Transformer model_;
  Optimizer optimizer_;
  CheckpointState state_;
  std::string metrics_path_;
  std::ofstream metrics_;
};

// "batch_size was 4, now 8, schedule was \"cosine\", now \"wsd\"" for the keys whose values differ (a key one side
// lacks reads "(unset)"); empty when the fingerprints are equal.
std::string fingerprint_difference(const nlohmann::json& saved, const nlohmann::json& wanted);

}  // namespace muse
