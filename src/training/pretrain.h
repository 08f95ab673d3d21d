// Pretraining: next-token training of a freshly initialised model on a task mixture (and user text), built on
// the Trainer (training/trainer.h): AdamW, warmup + cosine/WSD, gradient clipping and accumulation, periodic
// eval loss and task accuracy, a progress line, metrics as JSONL, atomic checkpoints and exact resume.
// Fine-tuning from a model directory is sft() (training/sft.h); both take PretrainParams.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/task_eval.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"
#include "training/optimizer.h"

namespace muse {

struct PretrainParams {
  std::string out_dir;                   // run directory; holds tokenizer.model and becomes a model directory
  std::string mixture = "add:1-2";       // see parse_mixture()
  std::vector<std::string> text_files;   // user JSONL {"text": ...} documents (mixture entry "text")
  std::vector<std::string> chat_files;   // user JSONL {"messages": [...]} conversations (mixture entry "chat")
  double chat_share = 0.0;               // share of task examples dressed as chats (system prompt, earlier turns)
  // Share of task examples whose reasoning is cut at a random point before the (unchanged) answer: what the
  // model sees when a thinking budget forces the end of thinking, so it learns to answer from partial work.
  double budget_cut_share = 0.0;
  // Share of the chat-dressed task examples whose system prompt asks for JSON and whose answer is
  // {"answer": VALUE}: what an API client's response_format asks of the model (DataOptions::json_answer_share).
  double json_answer_share = 0.0;
  bool train_cut_think_end = false;      // DataOptions::train_cut_think_end (an ablation; off = no loss there)
  std::string init_from;                 // sft(): start from this model directory's weights and tokenizer
  int64_t steps = 1000;
  int64_t batch_size = 32;               // rows per micro-batch
  int64_t seq_len = 128;                 // tokens per row
  int64_t grad_accum = 1;                // micro-batches per optimizer step
  // true: task examples train on their prompts too. Off by default: task prompts are uniformly random, so their
  // loss is noise that teaches nothing and takes a share of the gradient from the replies.
  bool prompt_loss = false;
  double lr = 0.0;                       // AdamW's peak; 0 = default_learning_rate(model)
  std::string schedule = "cosine";       // cosine | wsd
  int64_t warmup_steps = 50;
  double min_lr_ratio = 0.1;
  OptimizerParams optimizer;             // muon (hidden matrices) + adamw (the rest), or adamw alone
  double grad_clip = 1.0;                // 0 = off
  int64_t eval_every = 0;                // 0 = only at the end
  int64_t eval_batches = 4;              // held-out batches for eval loss
  int eval_problems = 100;               // held-out problems per task and difficulty for accuracy
  int64_t checkpoint_every = 100;        // 0 = only at the end
  int64_t log_every = 10;
  uint64_t seed = 1;
  std::string device = "cpu";
  bool resume = false;                   // continue from out_dir's latest checkpoint
  bool progress = true;                  // live progress line on stderr
  int64_t stop_after_step = -1;          // for tests: return right after this step's checkpoint, as if killed

  void validate() const;                 // MuseError naming the field
  // The settings that must not change across a resume (data, batch, schedule, optimizer), one key each.
  nlohmann::json fingerprint() const;
};

struct PretrainResult {
  int64_t steps = 0;
  int64_t tokens = 0;
  double seconds = 0.0;
  double tokens_per_second = 0.0;
  double data_wait_share = 0.0;          // share of this process's training time spent waiting for batches
  double eval_seconds = 0.0;             // final held-out loss and task accuracy
  double final_train_loss = 0.0;
  double final_eval_loss = 0.0;
  std::vector<double> losses;            // training loss of every step run in this process
  std::vector<TaskEvalResult> evals;     // final task accuracy
};

// Trains `config` on the mixture. out_dir/tokenizer.model must exist (muse tokenizer train). With `init_from`
// set this is sft(params) (the config then comes from init_from): the older way to fine-tune, kept for callers.
PretrainResult pretrain(const ModelConfig& config, const PretrainParams& params);

// `config` fitted to the tokenizer (its vocabulary and image patch token) with a context of at least seq_len;
// MuseError if the result is not a valid model.
ModelConfig fit_model_config(ModelConfig config, const Tokenizer& tokenizer, int64_t seq_len);

// What pretrain() and sft() share once the model's config and tokenizer are settled (the tokenizer already in
// out_dir): seeds and builds the model, loads `init_weights` unless resuming (empty = random initialisation),
// trains it on the mixture with the Trainer and evaluates the result. `log_tag` names the stage on stderr.
PretrainResult train_language_model(const ModelConfig& config, const Tokenizer& tokenizer, const PretrainParams& params,
                                    const std::string& init_weights, const char* log_tag);

}  // namespace muse
