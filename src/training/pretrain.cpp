#include "training/pretrain.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "data/jsonl.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/loss.h"
#include "training/lr_schedule.h"
#include "training/pretrain_data.h"
#include "training/sft.h"
#include "training/train_eval.h"
#include "training/trainer.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;

void PretrainParams::validate() const {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw MuseError(std::string(name) + " must be > 0, got " + std::to_string(v));
  };
  if (out_dir.empty()) throw MuseError("--out is required");
  positive(steps, "steps");
  positive(batch_size, "batch_size");
  positive(seq_len, "seq_len");
  positive(grad_accum, "grad_accum");
  positive(log_every, "log_every");
  if (lr < 0) throw MuseError("lr must be >= 0");
  if (warmup_steps < 0) throw MuseError("warmup_steps must be >= 0");
  if (eval_every < 0 || checkpoint_every < 0) throw MuseError("eval_every and checkpoint_every must be >= 0");
  LrSchedule{schedule}.validate();
  optimizer.validate();
  if (chat_share < 0 || chat_share > 1) throw MuseError("chat_share must be in [0, 1], got " + std::to_string(chat_share));
  if (budget_cut_share < 0 || budget_cut_share > 1)
    throw MuseError("budget_cut_share must be in [0, 1], got " + std::to_string(budget_cut_share));
  if (json_answer_share < 0 || json_answer_share > 1)
    throw MuseError("json_answer_share must be in [0, 1], got " + std::to_string(json_answer_share));
  const auto entries = parse_mixture(mixture);
  const bool has_chat = std::any_of(entries.begin(), entries.end(), [](const MixtureEntry& m) { return m.task == "chat"; });
  if (!chat_files.empty() && !has_chat)
    throw MuseError("--chat files given but the mixture has no 'chat' entry to use them (e.g. --mixture chat:1:3,add:1-2)");
}

nlohmann::json PretrainParams::fingerprint() const {
  nlohmann::json fp = {{"mixture", mixture},
          {"text_files", text_files},
          {"chat_files", chat_files},
          {"chat_share", chat_share},
          {"budget_cut_share", budget_cut_share},
          {"init_from", init_from},
          {"steps", steps},
          {"batch_size", batch_size},
          {"seq_len", seq_len},
          {"grad_accum", grad_accum},
          {"prompt_loss", prompt_loss},
          {"lr", lr},
          {"schedule", schedule},
          {"warmup_steps", warmup_steps},
          {"min_lr_ratio", min_lr_ratio},
          {"optimizer", optimizer_kind_name(optimizer.kind)},
          {"weight_decay", optimizer.adamw.weight_decay},
          {"beta1", optimizer.adamw.beta1},
          {"beta2", optimizer.adamw.beta2},
          {"adam_eps", optimizer.adamw.eps},
          {"muon_lr", optimizer.muon_lr},
          {"muon_momentum", optimizer.muon.momentum},
          {"muon_nesterov", optimizer.muon.nesterov},
          {"muon_ns_steps", optimizer.muon.ns_steps},
          {"muon_weight_decay", optimizer.muon.weight_decay},
          {"grad_clip", grad_clip},
          {"seed", seed}};
  // Only when on: checkpoints from before the option keep resuming.
  if (train_cut_think_end) fp["train_cut_think_end"] = true;
  if (json_answer_share > 0) fp["json_answer_share"] = json_answer_share;  // absent when off: older runs resume
  return fp;
}

namespace {

// Next-token cross-entropy on packed rows of the mixture; micro-batch (step, micro) is a pure function of the
// seed, so exact resume needs nothing but the step.
BatchSource next_token_batches(const PretrainData& data, const PretrainParams& p, const c10::Device& device,
                               double z_loss) {
  const uint64_t seed = p.seed;
  const int64_t batch_size = p.batch_size, seq_len = p.seq_len;
  return make_batch_source<Batch>(
      [&data, seed, batch_size, seq_len](int64_t step, int64_t micro) {
        return data.batch(seed, step, micro, batch_size, seq_len);
      },
      [device, z_loss, tokens = batch_size * seq_len](Transformer& model, const Batch& batch) {
        const auto logits = model->forward({batch.tokens.to(device), batch.positions.to(device),
                                            batch.document_ids.to(device), batch.patches.to(device)});
        const auto loss = language_model_loss(logits, batch.targets.to(device), z_loss);
        MicroBatchLoss out;
        out.loss = loss.total;
        out.value = loss.cross_entropy.item<double>();
        out.tokens = tokens;
        return out;
      });
}

// Mean cross-entropy over eval_batches held-out batches (no z-loss), always the same batches.
double heldout_loss(TransformerImpl& model, const PretrainData& data, const PretrainParams& p,
                    const c10::Device& device) {
  torch::NoGradGuard no_grad;
  model.eval();
  double total = 0.0;
  for (int64_t i = 0; i < p.eval_batches; ++i) {
    const auto b = data.batch(p.seed ^ 0x5eed, i, 0, p.batch_size, p.seq_len);
    const auto logits = model.forward(
        {b.tokens.to(device), b.positions.to(device), b.document_ids.to(device), b.patches.to(device)});
    total += language_model_loss(logits, b.targets.to(device), 0.0).cross_entropy.item<double>();
  }
  model.train();
  return total / static_cast<double>(std::max<int64_t>(1, p.eval_batches));
}

TrainerParams trainer_params(const PretrainParams& p, const ModelConfig& config, const char* log_tag) {
  TrainerParams t;
  t.run_dir = p.out_dir;
  t.log_tag = log_tag;
  t.steps = p.steps;
  t.grad_accum = p.grad_accum;
  t.grad_clip = p.grad_clip;
  t.schedule = LrSchedule{p.schedule, p.lr > 0 ? p.lr : default_learning_rate(config), p.min_lr_ratio, p.warmup_steps,
                          p.steps};
  t.optimizer = p.optimizer;
  t.checkpoint_every = p.checkpoint_every;
  t.log_every = p.log_every;
  t.resume = p.resume;
  t.fingerprint = p.fingerprint();
  t.progress = p.progress;
  t.flops_per_token = config.train_flops_per_token(p.seq_len);
  t.stop_after_step = p.stop_after_step;
  return t;
}

std::string format_eval_summary(double loss, const nlohmann::json& accuracy) {
  char text[64];
  std::snprintf(text, sizeof text, "eval loss %.4f ", loss);
  return text + accuracy.dump();
}

}  // namespace

ModelConfig fit_model_config(ModelConfig config, const Tokenizer& tokenizer, int64_t seq_len) {
  config.vocab_size = tokenizer.vocab_size();
  if (config.sees_images()) config.patch_token_id = tokenizer.special(Special::ImagePatch);
  if (config.max_seq_len < seq_len) config.max_seq_len = seq_len;
  config.validate();
  return config;
}

PretrainResult train_language_model(const ModelConfig& config, const Tokenizer& tokenizer, const PretrainParams& p,
                                    const std::string& init_weights, const char* log_tag) {
  const auto device = parse_device(p.device);
  std::vector<std::string> text_docs;
  for (const auto& f : p.text_files)
    for (auto& d : load_text_jsonl(f)) text_docs.push_back(std::move(d.text));
  std::vector<ChatConversation> chats;
  for (const auto& f : p.chat_files)
    for (auto& c : load_chat_jsonl(f)) chats.push_back(std::move(c));
  const auto mixture = parse_mixture(p.mixture);
  DataOptions data_options;
  data_options.prompt_loss = p.prompt_loss;
  data_options.vision = vision_params(config);
  data_options.chat_share = p.chat_share;
  data_options.budget_cut_share = p.budget_cut_share;
  data_options.json_answer_share = p.json_answer_share;
  data_options.train_cut_think_end = p.train_cut_think_end;
  const PretrainData train_data(tokenizer, mixture, text_docs, chats, data_options);
  data_options.split = Split::Heldout;
  const PretrainData heldout_data(tokenizer, mixture, text_docs, chats, data_options);

  torch::manual_seed(p.seed);
  Transformer model(config);
  model->to(device);
  model->train();
  if (!init_weights.empty() && !p.resume) load_module_weights(*model, init_weights);
  Trainer trainer(trainer_params(p, config, log_tag), model);
  log_info(log_tag, "%s | model %s: %.2fM params, %.1f MFLOP/token | %s", runtime_summary(device).c_str(),
           config.preset.c_str(), config.parameter_count() / 1e6, config.train_flops_per_token(p.seq_len) / 1e6,
           mixture_to_string(mixture).c_str());

  PeriodicEval periodic;
  periodic.every = p.eval_every;
  periodic.run = [&](Transformer& m, int64_t) {
    PeriodicEval::Outcome outcome;
    const double loss = heldout_loss(*m, heldout_data, p, device);
    const auto evals = evaluate_mixture(m, tokenizer, mixture, {p.eval_problems, p.seed, false}, device);
    const auto accuracy = task_accuracy_json(evals);
    outcome.metrics = {{"eval_loss", loss}, {"task_accuracy", accuracy}};
    outcome.summary = format_eval_summary(loss, accuracy);
    return outcome;
  };
  const TrainRunResult run = trainer.run(next_token_batches(train_data, p, device, config.z_loss), periodic);

  PretrainResult result;
  result.steps = run.steps;
  result.tokens = run.tokens;
  result.seconds = run.seconds;
  result.tokens_per_second = run.tokens_per_second;
  result.data_wait_share = run.data_wait_share;
  result.losses = run.losses;
  result.final_train_loss = run.losses.empty() ? 0.0 : run.losses.back();
  if (!run.finished) return result;  // stop_after_step: as if killed, no final evaluation

  const auto eval_start = std::chrono::steady_clock::now();
  result.final_eval_loss = heldout_loss(*model, heldout_data, p, device);
  result.evals = evaluate_mixture(model, tokenizer, mixture, {p.eval_problems, p.seed, true, true, true}, device);
  result.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
  trainer.log_metrics({{"step", run.steps},
                       {"eval_loss", result.final_eval_loss},
                       {"task_accuracy", task_accuracy_json(result.evals)},
                       {"final", true}});
  return result;
}

PretrainResult pretrain(const ModelConfig& config, const PretrainParams& p) {
  if (!p.init_from.empty()) return sft(p);
  p.validate();
  parse_device(p.device);  // a bad device fails before any work
  const std::string tokenizer_path = (fs::path(p.out_dir) / "tokenizer.model").string();
  if (!fs::exists(tokenizer_path))
    throw file_error(tokenizer_path, "missing: train a tokenizer first (muse tokenizer train --out " + p.out_dir + ")");
  const auto tokenizer = Tokenizer::load(tokenizer_path);
  return train_language_model(fit_model_config(config, tokenizer, p.seq_len), tokenizer, p, "", "pretrain");
}

}  // namespace muse
