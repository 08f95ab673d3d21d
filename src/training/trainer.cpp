#include "training/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <set>

#include "model/weights.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;
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

// The live progress line. Not a log line: on a TTY it is rewritten in place with "\r"; elsewhere (a pipe, a
// file) it is printed as a plain line every log_every steps.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}
  ~ProgressLine() { end_line(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool due(bool log_step) const { return enabled_ && (tty_ || log_step); }
  void show(const std::string& text) {
    std::fprintf(stderr, "%s%s%s", tty_ ? "\r" : "", text.c_str(), tty_ ? "   " : "\n");
    std::fflush(stderr);
    mid_line_ = tty_;
  }
  // Moves past a line left open on the TTY, so what is written next starts on its own line.
  void end_line() {
    if (!mid_line_) return;
    std::fputc('\n', stderr);
    std::fflush(stderr);
    mid_line_ = false;
  }

 private:
  bool enabled_;
  bool tty_;
  bool mid_line_ = false;
};

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

}  // namespace

void TrainerParams::validate() const {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw MuseError(std::string(name) + " must be > 0, got " + std::to_string(v));
  };
  if (run_dir.empty()) throw MuseError("the training run directory (--out) is required");
  positive(steps, "steps");
  positive(grad_accum, "grad_accum");
  positive(log_every, "log_every");
  if (checkpoint_every < 0) throw MuseError("checkpoint_every must be >= 0, got " + std::to_string(checkpoint_every));
  if (grad_clip < 0) throw MuseError("grad_clip must be >= 0 (0 = off), got " + std::to_string(grad_clip));
  if (!fingerprint.is_object()) throw MuseError("the run fingerprint must be a JSON object", ErrorKind::Internal);
  schedule.validate();
}

std::string fingerprint_difference(const nlohmann::json& saved, const nlohmann::json& wanted) {
  std::set<std::string> keys;
  for (const auto& item : saved.items()) keys.insert(item.key());
  for (const auto& item : wanted.items()) keys.insert(item.key());
  auto shown = [](const nlohmann::json& side, const std::string& key) {
    return side.contains(key) ? side.at(key).dump() : std::string("(unset)");
  };
  std::string diff;
  for (const auto& key : keys) {
    const std::string before = shown(saved, key), now = shown(wanted, key);
    if (before != now) diff += (diff.empty() ? "" : ", ") + key + " was " + before + ", now " + now;
  }
  return diff;
}

// The micro-batches in training order. With a prefetching source the next one is generated on a background
// thread while the model trains on this one; batches are pure functions of (step, micro), so this changes
// nothing but the time spent waiting for data.
class Trainer::MicroBatchQueue {
 public:
  MicroBatchQueue(const BatchSource& source, int64_t grad_accum, int64_t total_steps, int64_t first_step)
      : source_(source), grad_accum_(grad_accum), total_steps_(total_steps) {
    if (source_.prefetch && first_step < total_steps_) next_ = launch(first_step, 0);
  }

  // Micro-batch (step, micro), which must be the one after the previous call's.
  std::any take(int64_t step, int64_t micro) {
    const auto wait_start = Clock::now();
    std::any batch = source_.prefetch ? next_.get() : source_.fetch(step, micro);
    wait_seconds_ += seconds_since(wait_start);
    const bool last_micro = micro + 1 == grad_accum_;
    const int64_t next_step = last_micro ? step + 1 : step;
    if (source_.prefetch && next_step < total_steps_) next_ = launch(next_step, last_micro ? 0 : micro + 1);
    return batch;
  }
  double wait_seconds() const { return wait_seconds_; }

 private:
  std::future<std::any> launch(int64_t step, int64_t micro) {
    const BatchSource& source = source_;
    return std::async(std::launch::async, [&source, step, micro] { return source.fetch(step, micro); });
  }

  const BatchSource& source_;
  int64_t grad_accum_;
  int64_t total_steps_;
  std::future<std::any> next_;
  double wait_seconds_ = 0.0;
};

struct Trainer::StepStats {
  double loss = 0.0;  // mean over the micro-batches of MicroBatchLoss::value
  double lr = 0.0;
  double grad_norm = 0.0;
  double seconds = 0.0;
  int64_t tokens = 0;
  std::map<std::string, double> metrics;  // means over the micro-batches
};

// This process's part of the run: its clock, throughput, losses and the progress line.
struct Trainer::Session {
  Session(bool progress_enabled, double seconds_before) : seconds_before(seconds_before), progress(progress_enabled) {}
  double elapsed() const { return seconds_since(start); }

  Clock::time_point start = Clock::now();
  double seconds_before;  // training time of earlier processes of this run (from the checkpoint)
  int64_t tokens = 0;
  double smoothed_loss = -1.0;
  double data_wait_seconds = 0.0;
  std::vector<double> losses;
  ProgressLine progress;
};

Trainer::Trainer(TrainerParams params, Transformer model)
    : params_(std::move(params)), model_(std::move(model)), optimizer_(*model_, params_.optimizer) {
  params_.validate();
  const fs::path run(params_.run_dir);
  fs::create_directories(run);
  metrics_path_ = (run / "metrics.jsonl").string();
  state_.run_fingerprint = params_.fingerprint;
  if (params_.resume) resume_from_checkpoint();
  else start_afresh();
  const nlohmann::json config_file = {{"format", "muse-model-v1"}, {"model", model_->config()}};
  write_file_atomic((run / "config.json").string(), config_file.dump(2) + "\n");
  metrics_.open(metrics_path_, std::ios::app);
  if (!metrics_) throw file_error(metrics_path_, "cannot be opened for writing");
}

void Trainer::resume_from_checkpoint() {
  const fs::path run(params_.run_dir);
  const auto latest = latest_checkpoint(params_.run_dir);
  if (!latest)
    throw file_error(params_.run_dir,
                     "--resume given but there is no checkpoint in " + params_.run_dir + "/checkpoints");
  const std::string config_path = (run / "config.json").string();
  if (nlohmann::json(load_model_config(config_path)) != nlohmann::json(model_->config()))
    throw file_error(config_path, "the checkpoint's model config differs from this run's");
  // Settings first: a checkpoint of another run (another optimizer, say) is refused by name, not by a tensor.
  const std::string difference =
      fingerprint_difference(read_checkpoint_state(*latest).run_fingerprint, state_.run_fingerprint);
  if (!difference.empty())
    throw file_error(*latest, "checkpoint is from a run with different settings (" + difference +
                                  "); rerun with the original settings");
  state_ = load_checkpoint(*latest, *model_, optimizer_);
  if (state_.step >= params_.steps)
    throw file_error(params_.run_dir, "this run already finished all " + std::to_string(params_.steps) +
                                          " steps; nothing to resume");
  truncate_metrics(metrics_path_, state_.step);
  log_info(params_.log_tag.c_str(), "resumed from %s at step %lld", latest->c_str(),
           static_cast<long long>(state_.step));
}

void Trainer::start_afresh() {
  if (latest_checkpoint(params_.run_dir))
    throw file_error(params_.run_dir,
                     "already holds a training run; pass --resume to continue it, or choose another --out");
  std::error_code ec;
  fs::remove(metrics_path_, ec);
}

void Trainer::log_metrics(const nlohmann::json& line) {
  metrics_ << line.dump() << "\n";
  metrics_.flush();
}

void Trainer::save_checkpoint_now() { save_checkpoint(params_.run_dir, *model_, optimizer_, state_); }

TrainRunResult Trainer::run(const BatchSource& source, const PeriodicEval& eval) {
  if (!source.fetch || !source.loss) throw MuseError("a batch source needs both fetch and loss", ErrorKind::Internal);
  Session session(params_.progress, state_.train_seconds);
  MicroBatchQueue batches(source, params_.grad_accum, params_.steps, state_.step);
  bool finished = true;
  {
    StopSignalGuard stop_signal;  // only while steps run; Ctrl-C elsewhere ends the process
    while (state_.step < params_.steps) {
      const StepStats stats = train_step(source, batches);
      session.data_wait_seconds = batches.wait_seconds();
      record_step(stats, session);
      const bool last = state_.step == params_.steps;
      if (eval.run && eval.every > 0 && state_.step % eval.every == 0 && !last) evaluate(eval, session);
      const bool interrupted = stop_signal.requested() && !last;
      const bool stop_here = state_.step == params_.stop_after_step;
      const bool checkpoint_due = params_.checkpoint_every > 0 && state_.step % params_.checkpoint_every == 0;
      if (checkpoint_due || last || stop_here || interrupted) save_checkpoint_now();
      if (interrupted)
        throw Interrupted("interrupted at step " + std::to_string(state_.step) + "/" + std::to_string(params_.steps) +
                          "; checkpoint saved, continue with the same command plus --resume");
      if (stop_here) {
        finished = false;
        break;
      }
    }
  }
  session.progress.end_line();
  if (finished) save_module_weights(*model_, (fs::path(params_.run_dir) / "model.safetensors").string(),
                                    {{"format", "muse-model-v1"}});
  TrainRunResult result;
  result.steps = state_.step;
  result.tokens = state_.tokens_seen;
  result.seconds = state_.train_seconds;
  result.tokens_per_second = static_cast<double>(session.tokens) / std::max(1e-9, session.elapsed());
  result.data_wait_share = session.data_wait_seconds / std::max(1e-9, session.elapsed());
  result.losses = std::move(session.losses);
  result.finished = finished;
  return result;
}

// One optimizer step: every micro-batch's forward and backward, then clipping and the optimizer's update.
Trainer::StepStats Trainer::train_step(const BatchSource& source, MicroBatchQueue& batches) {
  const auto start = Clock::now();
  const int64_t step = state_.step;
  const auto micro_batches = static_cast<double>(params_.grad_accum);
  StepStats stats;
  stats.lr = params_.schedule.at(step);
  const double muon_lr = params_.optimizer.muon_lr * stats.lr / params_.schedule.peak;
  for (int64_t micro = 0; micro < params_.grad_accum; ++micro) {
    const std::any batch = batches.take(step, micro);
    const MicroBatchLoss part = source.loss(model_, batch);
    (part.loss / micro_batches).backward();
    stats.loss += part.value / micro_batches;
    stats.tokens += part.tokens;
    for (const auto& [name, value] : part.metrics) stats.metrics[name] += value / micro_batches;
  }
  if (!std::isfinite(stats.loss))
    throw MuseError("training diverged at step " + std::to_string(step) + " (loss " + std::to_string(stats.loss) +
                    "); lower --lr or raise --warmup");
  stats.grad_norm = clip_grad_norm(*model_, params_.grad_clip);
  optimizer_.step(stats.lr, muon_lr);
  optimizer_.zero_grad();
  stats.seconds = seconds_since(start);
  return stats;
}

// Advances the run's state past the step just taken, logs it to metrics.jsonl and shows the progress line.
void Trainer::record_step(const StepStats& stats, Session& session) {
  state_.step += 1;
  state_.tokens_seen += stats.tokens;
  session.tokens += stats.tokens;
  const double elapsed = session.elapsed();
  state_.train_seconds = session.seconds_before + elapsed;
  session.losses.push_back(stats.loss);
  session.smoothed_loss = session.smoothed_loss < 0 ? stats.loss : 0.9 * session.smoothed_loss + 0.1 * stats.loss;
  const double tok_per_s = static_cast<double>(session.tokens) / std::max(1e-9, elapsed);

  const std::string note = params_.step_note ? params_.step_note(state_.step, stats.metrics) : "";
  const bool log_step = state_.step % params_.log_every == 0 || state_.step == params_.steps;
  if (log_step) {
    nlohmann::json line = {{"step", state_.step}, {"loss", stats.loss}, {"lr", stats.lr},
                           {"grad_norm", stats.grad_norm}, {"tokens", state_.tokens_seen}, {"tok_per_s", tok_per_s},
                           {"step_seconds", stats.seconds}, {"elapsed", state_.train_seconds},
                           {"data_wait_share", session.data_wait_seconds / std::max(1e-9, elapsed)}};
    for (const auto& [name, value] : stats.metrics) line[name] = value;
    log_metrics(line);
  }
  if (session.progress.due(log_step)) {
    const double eta = static_cast<double>(params_.steps - state_.step) * elapsed /
                       static_cast<double>(session.losses.size());
    char text[256];
    std::snprintf(text, sizeof text, "step %lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | %.1f GFLOP/s | ETA %s",
                  static_cast<long long>(state_.step), static_cast<long long>(params_.steps), session.smoothed_loss,
                  stats.lr, tok_per_s, tok_per_s * params_.flops_per_token / 1e9, format_duration(eta).c_str());
    session.progress.show(text + note);
  }
}

void Trainer::evaluate(const PeriodicEval& eval, Session& session) {
  PeriodicEval::Outcome outcome = eval.run(model_, state_.step);
  model_->train();  // evaluations switch the model to inference mode
  nlohmann::json line = {{"step", state_.step}};
  line.update(outcome.metrics);
  log_metrics(line);
  session.progress.end_line();
  log_info("eval", "step %lld: %s", static_cast<long long>(state_.step), outcome.summary.c_str());
}

}  // namespace muse
