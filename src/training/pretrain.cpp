#include "training/pretrain.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <sstream>

#include "data/jsonl.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/checkpoint.h"
#include "training/loss.h"
#include "training/lr_schedule.h"
#include "training/pretrain_data.h"
#include "util/atomic_file.h"
#include "util/error.h"

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
  if (lr < 0) throw MuseError("lr must be >= 0");
  if (warmup_steps < 0) throw MuseError("warmup_steps must be >= 0");
  if (eval_every < 0 || checkpoint_every < 0) throw MuseError("eval_every and checkpoint_every must be >= 0");
  LrSchedule{schedule}.validate();
  if (chat_share < 0 || chat_share > 1) throw MuseError("chat_share must be in [0, 1], got " + std::to_string(chat_share));
  if (budget_cut_share < 0 || budget_cut_share > 1)
    throw MuseError("budget_cut_share must be in [0, 1], got " + std::to_string(budget_cut_share));
  const auto entries = parse_mixture(mixture);
  const bool has_chat = std::any_of(entries.begin(), entries.end(), [](const MixtureEntry& m) { return m.task == "chat"; });
  if (!chat_files.empty() && !has_chat)
    throw MuseError("--chat files given but the mixture has no 'chat' entry to use them (e.g. --mixture chat:1:3,add:1-2)");
}

std::string PretrainParams::fingerprint() const {
  std::ostringstream s;
  s << "mixture=" << mixture << " steps=" << steps << " batch_size=" << batch_size << " seq_len=" << seq_len
    << " grad_accum=" << grad_accum << " prompt_loss=" << prompt_loss << " lr=" << lr << " schedule=" << schedule << " warmup=" << warmup_steps
    << " min_lr_ratio=" << min_lr_ratio << " wd=" << adamw.weight_decay << " betas=" << adamw.beta1 << ","
    << adamw.beta2 << " clip=" << grad_clip << " seed=" << seed << " text=";
  for (const auto& f : text_files) s << f << ";";
  // Fine-tuning settings, written only when used so earlier runs keep their fingerprints.
  if (!chat_files.empty() || chat_share > 0 || !init_from.empty()) {
    s << " chat_share=" << chat_share << " init_from=" << init_from << " chat=";
    for (const auto& f : chat_files) s << f << ";";
  }
  if (budget_cut_share > 0) s << " budget_cut_share=" << budget_cut_share;
  return s.str();
}

namespace {

// Ctrl-C or SIGTERM during training: finish the current step, checkpoint it, then stop (no work is lost).
volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void request_stop(int) { g_stop_requested = 1; }

// Installs the handlers for the training loop's lifetime and restores the previous ones afterwards.
class StopSignalGuard {
 public:
  StopSignalGuard() {
    g_stop_requested = 0;
    previous_int_ = std::signal(SIGINT, request_stop);
    previous_term_ = std::signal(SIGTERM, request_stop);
  }
  ~StopSignalGuard() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  bool requested() const { return g_stop_requested != 0; }

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

std::string format_duration(double seconds) {
  char buf[32];
  const int s = static_cast<int>(seconds);
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", s / 3600, (s / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  return buf;
}

// Drops metric lines past `step` so a resumed run's log reads as if it had never stopped.
void truncate_metrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A torn last line from a kill: drop it.
    }
  }
  write_file_atomic(path, kept);
}

double eval_loss(TransformerImpl& model, const PretrainData& data, const PretrainParams& p, const c10::Device& device) {
  torch::NoGradGuard no_grad;
  model.eval();
  double total = 0.0;
  for (int64_t i = 0; i < p.eval_batches; ++i) {
    const auto b = data.batch(p.seed ^ 0x5eed, i, 0, p.batch_size, p.seq_len);
    const auto logits = model.forward({b.tokens.to(device), b.positions.to(device), b.document_ids.to(device), b.patches.to(device)});
    total += language_model_loss(logits, b.targets.to(device), 0.0).cross_entropy.item<double>();
  }
  model.train();
  return total / static_cast<double>(std::max<int64_t>(1, p.eval_batches));
}

std::vector<TaskEvalResult> eval_tasks(Transformer& model, const Tokenizer& tok, const std::vector<MixtureEntry>& mix,
                                       const PretrainParams& p, const c10::Device& device, bool blind_baseline) {
  std::vector<TaskEvalResult> results;
  if (p.eval_problems <= 0) return results;
  Engine engine(model, device, EngineOptions::for_device(device));
  for (const auto& m : mix) {
    if (m.task == "text" || m.task == "chat") continue;
    const auto task = make_task(m.task);
    const int max_tokens = static_cast<int>(std::min<int64_t>(256, model->config().max_seq_len / 2));
    for (int d = m.min_difficulty; d <= m.max_difficulty; ++d) {
      results.push_back(evaluate_task(engine, tok, *task, d, p.eval_problems, p.seed, max_tokens));
      // The same prompts with blank images: the gap is what the model actually reads from the pixels.
      if (blind_baseline && task_has_images(*task, d))
        results.push_back(evaluate_task(engine, tok, *task, d, p.eval_problems, p.seed, max_tokens, true));
    }
  }
  model->train();
  return results;
}

// "batch_size=4 vs 8, lr=... vs ..." for the settings that differ between two fingerprints.
std::string fingerprint_difference(const std::string& saved, const std::string& wanted) {
  auto fields = [](const std::string& s) {
    std::map<std::string, std::string> out;
    std::istringstream in(s);
    std::string item;
    while (in >> item) {
      const auto eq = item.find('=');
      out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    return out;
  };
  const auto a = fields(saved), b = fields(wanted);
  std::string diff;
  for (const auto& [key, value] : b) {
    const auto it = a.find(key);
    const std::string old_value = it == a.end() ? "(unset)" : it->second;
    if (old_value != value) diff += (diff.empty() ? "" : ", ") + key + " was " + old_value + ", now " + value;
  }
  return diff.empty() ? "unknown difference" : diff;
}

nlohmann::json eval_json(const std::vector<TaskEvalResult>& evals) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : evals)
    j[r.task + "@" + std::to_string(r.difficulty) + (r.blank_images ? "/blind" : "")] = r.accuracy;
  return j;
}

}  // namespace

PretrainResult pretrain(const ModelConfig& config_in, const PretrainParams& p) {
  p.validate();
  const auto device = parse_device(p.device);
  ModelConfig config = config_in;
  const fs::path run(p.out_dir);
  const std::string tokenizer_path = (run / "tokenizer.model").string();
  if (!p.init_from.empty()) {
    // Fine-tuning keeps the base model's architecture and vocabulary: its config and tokenizer come along.
    const fs::path base(p.init_from);
    config = load_model_config((base / "config.json").string());
    if (!fs::exists(base / "model.safetensors")) throw file_error((base / "model.safetensors").string(), "missing");
    fs::create_directories(run);
    if (!fs::exists(tokenizer_path)) write_file_atomic(tokenizer_path, read_file((base / "tokenizer.model").string()));
  }
  if (!fs::exists(tokenizer_path))
    throw file_error(tokenizer_path, "missing: train a tokenizer first (muse tokenizer train --out " + p.out_dir + ")");
  const auto tokenizer = Tokenizer::load(tokenizer_path);
  config.vocab_size = tokenizer.vocab_size();
  if (config.sees_images()) config.patch_token_id = tokenizer.special(Special::ImagePatch);
  if (config.max_seq_len < p.seq_len) config.max_seq_len = p.seq_len;
  config.validate();

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
  PretrainData train_data(tokenizer, mixture, text_docs, chats, data_options);
  data_options.split = Split::Heldout;
  PretrainData heldout_data(tokenizer, mixture, text_docs, chats, data_options);

  torch::manual_seed(p.seed);
  Transformer model(config);
  model->to(device);
  model->train();
  if (!p.init_from.empty() && !p.resume)
    load_module_weights(*model, (fs::path(p.init_from) / "model.safetensors").string());
  AdamW optimizer(*model, p.adamw);
  LrSchedule schedule{p.schedule, p.lr > 0 ? p.lr : default_learning_rate(config), p.min_lr_ratio, p.warmup_steps,
                      p.steps};

  CheckpointState state;
  state.run_fingerprint = p.fingerprint();
  const std::string metrics_path = (run / "metrics.jsonl").string();
  if (p.resume) {
    const auto latest = latest_checkpoint(p.out_dir);
    if (!latest) throw file_error(p.out_dir, "--resume given but there is no checkpoint in " + p.out_dir + "/checkpoints");
    const auto saved = load_model_config((run / "config.json").string());
    if (nlohmann::json(saved) != nlohmann::json(config))
      throw file_error((run / "config.json").string(), "the checkpoint's model config differs from this run's");
    const auto loaded = load_checkpoint(*latest, *model, optimizer);
    if (loaded.run_fingerprint != state.run_fingerprint)
      throw file_error(*latest, "checkpoint is from a run with different settings (" +
                                    fingerprint_difference(loaded.run_fingerprint, state.run_fingerprint) +
                                    "); rerun with the original settings");
    state = loaded;
    if (state.step >= p.steps)
      throw file_error(p.out_dir, "this run already finished all " + std::to_string(p.steps) +
                                      " steps; nothing to resume");
    truncate_metrics(metrics_path, state.step);
    std::fprintf(stderr, "[pretrain] resumed from %s at step %lld\n", latest->c_str(), static_cast<long long>(state.step));
  } else {
    if (latest_checkpoint(p.out_dir))
      throw file_error(p.out_dir, "already holds a training run; pass --resume to continue it, or choose another --out");
    std::error_code ec;
    fs::remove(metrics_path, ec);
  }
  nlohmann::json config_file = {{"format", "muse-model-v1"}, {"model", config}};
  write_file_atomic((run / "config.json").string(), config_file.dump(2) + "\n");

  const double flops_per_token = config.train_flops_per_token(p.seq_len);
  std::fprintf(stderr, "[pretrain] %s | model %s: %.2fM params, %.1f MFLOP/token | %s\n",
               runtime_summary(device).c_str(), config.preset.c_str(), config.parameter_count() / 1e6,
               flops_per_token / 1e6, mixture_to_string(mixture).c_str());

  std::ofstream metrics(metrics_path, std::ios::app);
  PretrainResult result;
  const bool tty = isatty(STDERR_FILENO);
  const auto run_start = std::chrono::steady_clock::now();
  const double seconds_before = state.train_seconds;
  int64_t tokens_this_run = 0;
  double smoothed_loss = -1.0;

  // The next micro-batch is generated on a background thread while the model trains on this one. Batches are
  // pure functions of (seed, step, micro), so prefetching changes nothing but the time spent waiting for data.
  auto fetch = [&](int64_t step, int64_t micro) {
    return std::async(std::launch::async, [&train_data, &p, step, micro] {
      return train_data.batch(p.seed, step, micro, p.batch_size, p.seq_len);
    });
  };
  std::future<Batch> next_batch = fetch(state.step, 0);
  double data_wait_seconds = 0.0;
  std::optional<StopSignalGuard> stop_signal;  // only while training steps run; Ctrl-C elsewhere ends the process
  stop_signal.emplace();

  for (int64_t step = state.step; step < p.steps; ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    const double lr = schedule.at(step);
    double step_loss = 0.0;
    int64_t step_tokens = 0;
    for (int64_t micro = 0; micro < p.grad_accum; ++micro) {
      const auto wait_start = std::chrono::steady_clock::now();
      const Batch batch = next_batch.get();
      data_wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
      const bool last_micro = micro + 1 == p.grad_accum;
      if (!(last_micro && step + 1 == p.steps)) next_batch = fetch(last_micro ? step + 1 : step, last_micro ? 0 : micro + 1);
      const auto logits =
          model->forward({batch.tokens.to(device), batch.positions.to(device), batch.document_ids.to(device),
                          batch.patches.to(device)});
      const auto loss = language_model_loss(logits, batch.targets.to(device), config.z_loss);
      (loss.total / static_cast<double>(p.grad_accum)).backward();
      step_loss += loss.cross_entropy.item<double>() / static_cast<double>(p.grad_accum);
      step_tokens += p.batch_size * p.seq_len;
    }
    if (!std::isfinite(step_loss))
      throw MuseError("training diverged at step " + std::to_string(step) + " (loss " + std::to_string(step_loss) +
                      "); lower --lr or raise --warmup");
    const double grad_norm = clip_grad_norm(*model, p.grad_clip);
    optimizer.step(lr);
    optimizer.zero_grad();

    state.step = step + 1;
    state.tokens_seen += step_tokens;
    tokens_this_run += step_tokens;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    state.train_seconds = seconds_before + elapsed;
    const double step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    result.losses.push_back(step_loss);
    smoothed_loss = smoothed_loss < 0 ? step_loss : 0.9 * smoothed_loss + 0.1 * step_loss;
    const double tok_per_s = tokens_this_run / std::max(1e-9, elapsed);

    if (state.step % p.log_every == 0 || state.step == p.steps) {
      metrics << nlohmann::json{{"step", state.step}, {"loss", step_loss},      {"lr", lr},
                                {"grad_norm", grad_norm}, {"tokens", state.tokens_seen}, {"tok_per_s", tok_per_s},
                                {"step_seconds", step_seconds}, {"elapsed", state.train_seconds},
                                {"data_wait_share", data_wait_seconds / std::max(1e-9, elapsed)}}
                     .dump()
              << "\n";
      metrics.flush();
    }
    if (p.progress && (tty || state.step % p.log_every == 0 || state.step == p.steps)) {
      const double eta = static_cast<double>(p.steps - state.step) * elapsed / static_cast<double>(result.losses.size());
      std::fprintf(stderr, "%sstep %lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | %.1f GFLOP/s | ETA %s%s",
                   tty ? "\r" : "", static_cast<long long>(state.step), static_cast<long long>(p.steps), smoothed_loss,
                   lr, tok_per_s, tok_per_s * flops_per_token / 1e9, format_duration(eta).c_str(), tty ? "   " : "\n");
      std::fflush(stderr);
    }
    const bool last = state.step == p.steps;
    if (p.eval_every > 0 && state.step % p.eval_every == 0 && !last) {
      const double el = eval_loss(*model, heldout_data, p, device);
      const auto evals = eval_tasks(model, tokenizer, mixture, p, device, false);
      metrics << nlohmann::json{{"step", state.step}, {"eval_loss", el}, {"task_accuracy", eval_json(evals)}}.dump()
              << "\n";
      metrics.flush();
      if (p.progress) std::fprintf(stderr, "%s[eval] step %lld: eval loss %.4f %s\n", tty ? "\n" : "",
                                   static_cast<long long>(state.step), el, eval_json(evals).dump().c_str());
    }
    const bool interrupted = stop_signal->requested() && !last;
    if ((p.checkpoint_every > 0 && state.step % p.checkpoint_every == 0) || last ||
        state.step == p.stop_after_step || interrupted)
      save_checkpoint(p.out_dir, *model, optimizer, state);
    if (interrupted)
      throw Interrupted("interrupted at step " + std::to_string(state.step) + "/" + std::to_string(p.steps) +
                        "; checkpoint saved, continue with the same command plus --resume");
    if (state.step == p.stop_after_step) {
      result.steps = state.step;
      return result;
    }
  }
  stop_signal.reset();
  if (p.progress && tty) std::fprintf(stderr, "\n");

  save_module_weights(*model, (run / "model.safetensors").string(), {{"format", "muse-model-v1"}});
  result.steps = state.step;
  result.tokens = state.tokens_seen;
  result.seconds = state.train_seconds;
  result.tokens_per_second = tokens_this_run /
      std::max(1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count());
  result.data_wait_share =
      data_wait_seconds / std::max(1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count());
  result.final_train_loss = result.losses.empty() ? 0.0 : result.losses.back();
  const auto eval_start = std::chrono::steady_clock::now();
  result.final_eval_loss = eval_loss(*model, heldout_data, p, device);
  result.evals = eval_tasks(model, tokenizer, mixture, p, device, true);
  result.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
  metrics << nlohmann::json{{"step", state.step}, {"eval_loss", result.final_eval_loss},
                            {"task_accuracy", eval_json(result.evals)}, {"final", true}}
                 .dump()
          << "\n";
  return result;
}

}  // namespace muse
