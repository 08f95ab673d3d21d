#include "training/rl/rl.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include <torch/torch.h>

#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/sft.h"
#include "training/train_eval.h"
#include "training/trainer.h"
#include "training/rl/curves.h"
#include "training/rl/watch.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;

OptimizerParams RlParams::default_optimizer() {
  OptimizerParams o;
  o.kind = OptimizerKind::AdamW;
  o.adamw.weight_decay = 0.0;
  return o;
}

void RlParams::validate() const {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw MuseError(std::string(name) + " must be > 0, got " + std::to_string(v));
  };
  if (init_from.empty()) throw MuseError("RL needs the model directory to start from (--model)");
  if (out_dir.empty()) throw MuseError("--out is required");
  if (fs::exists(init_from) && fs::exists(out_dir) && fs::equivalent(init_from, out_dir))
    throw MuseError("--out must differ from --model: RL writes a new model directory (got " + out_dir + " for both)");
  positive(steps, "steps");
  positive(epochs, "epochs");
  positive(micro_batches, "micro_batches");
  positive(log_every, "log_every");
  if (!(lr > 0)) throw MuseError("lr must be > 0, got " + std::to_string(lr));
  if (warmup_steps < 0) throw MuseError("warmup_steps must be >= 0, got " + std::to_string(warmup_steps));
  if (eval_every < 0 || checkpoint_every < 0) throw MuseError("eval_every and checkpoint_every must be >= 0");
  if (eval_problems < 0) throw MuseError("eval_problems must be >= 0, got " + std::to_string(eval_problems));
  rollout.validate();
  reward.validate();
  loss.validate();
  optimizer.validate();
}

nlohmann::json RlParams::fingerprint() const {
  return {{"init_from", init_from},
          {"tasks", rollout.tasks},
          {"prompts", rollout.prompts},
          {"group_size", rollout.group_size},
          {"temperature", rollout.temperature},
          {"top_p", rollout.top_p},
          {"max_tokens", rollout.max_tokens},
          {"tools", rollout.tool_use.enabled},
          {"penalty", length_penalty_name(reward.penalty)},
          {"penalty_coefficient", reward.coefficient},
          {"penalty_free_tokens", reward.free_tokens},
          {"max_penalty", reward.max_penalty},
          {"penalty_weight", reward.weight},
          {"cap_start", reward.cap_start},
          {"cap_end", reward.cap_end},
          {"cap_steps", reward.cap_steps},
          {"penalty_warmup", reward.warmup_steps},
          {"penalty_gate", reward.gate_accuracy},
          {"tool_bonus", reward.tool_bonus},
          {"divide_by_std", advantage.divide_by_std},
          {"drop_uniform_groups", advantage.drop_uniform_groups},
          {"aggregation", loss_aggregation_name(loss.aggregation)},
          {"clip_low", loss.clip_low},
          {"clip_high", loss.clip_high},
          {"kl_beta", loss.kl_beta},
          {"mask_truncated", mask_truncated},
          {"steps", steps},
          {"epochs", epochs},
          {"micro_batches", micro_batches},
          {"lr", lr},
          {"warmup_steps", warmup_steps},
          {"optimizer", optimizer_kind_name(optimizer.kind)},
          {"weight_decay", optimizer.adamw.weight_decay},
          {"muon_lr", optimizer.muon_lr},
          {"grad_clip", grad_clip},
          {"seed", seed}};
}

std::map<std::string, double> round_metrics(const std::vector<Rollout>& rollouts, const std::vector<double>& rewards,
                                            const std::vector<bool>& uniform_group) {
  std::map<std::string, double> m;
  const double n = std::max<size_t>(1, rollouts.size());
  double reward = 0, right = 0, think_right = 0, think_wrong = 0, think = 0, generated = 0, truncated = 0,
         repetitive = 0, tool_use = 0, calls = 0;
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const auto& r = rollouts[i];
    reward += rewards[i];
    think += r.score.thinking_tokens;
    (r.score.correct() ? think_right : think_wrong) += r.score.thinking_tokens;
    right += r.score.correct() ? 1 : 0;
    generated += r.generated_tokens();
    truncated += r.truncated ? 1 : 0;
    repetitive += r.repetitive ? 1 : 0;
    tool_use += r.score.tool_calls > 0 ? 1 : 0;
    calls += r.score.tool_calls;
  }
  const double wrong = static_cast<double>(rollouts.size()) - right;
  m["reward"] = reward / n;
  m["accuracy"] = right / n;
  m["thinking_tokens"] = think / n;
  // NaN would break JSON: a side with no answers reports -1.
  m["thinking_right"] = right > 0 ? think_right / right : -1.0;
  m["thinking_wrong"] = wrong > 0 ? think_wrong / wrong : -1.0;
  m["generated_tokens"] = generated / n;
  m["truncation_rate"] = truncated / n;
  m["repetition_rate"] = repetitive / n;
  m["tool_use"] = tool_use / n;
  m["tool_calls"] = calls / n;
  const double groups = std::max<size_t>(1, uniform_group.size());
  m["zero_variance_groups"] = std::count(uniform_group.begin(), uniform_group.end(), true) / groups;
  return m;
}

namespace {

// One round of rollouts, ready for the loss: its micro-batches and the statistics every step of it logs.
struct Round {
  int64_t index = -1;
  std::vector<PolicyBatch> batches;
  std::map<std::string, double> metrics;
  int64_t trained_tokens = 0;
};

struct RlMicroBatch {
  PolicyBatch batch;
  std::map<std::string, double> metrics;
  double token_share = 0.0;  // of the round's trained tokens
};

// A stable digest of what the round sampled (tokens of every rollout): equal digests = equal rollouts.
double rollout_digest(const std::vector<Rollout>& rollouts) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& r : rollouts)
    for (int t : r.tokens) h = (h ^ static_cast<uint64_t>(t + 1)) * 1099511628211ull;
  return static_cast<double>(h >> 12);  // exact in a double
}

Round build_round(Transformer& model, Transformer* reference, const c10::Device& device, const Tokenizer& tokenizer,
                  const std::vector<MixtureEntry>& tasks, const RlParams& p, int64_t index) {
  const auto start = std::chrono::steady_clock::now();
  const auto rollouts = generate_rollouts(model, device, tokenizer, tasks, p.rollout, p.seed, index);
  const int64_t step = index * p.epochs;
  const auto G = static_cast<size_t>(p.rollout.group_size);
  std::vector<double> rewards(rollouts.size(), 0.0);
  std::vector<bool> uniform;
  std::vector<PolicySequence> sequences;
  for (size_t g = 0; g * G < rollouts.size(); ++g) {
    std::vector<RolloutScore> scores;
    for (size_t i = g * G; i < (g + 1) * G; ++i) scores.push_back(rollouts[i].score);
    const auto group = group_rewards(scores, p.reward, step);
    const auto advantages = group_advantages(group, p.advantage);
    uniform.push_back(advantages.uniform);
    for (size_t k = 0; k < G; ++k) rewards[g * G + k] = group[k];
    if (advantages.uniform && p.advantage.drop_uniform_groups) continue;
    for (size_t k = 0; k < G; ++k) {
      const auto& r = rollouts[g * G + k];
      if (p.mask_truncated && r.truncated) continue;
      if (r.finish_reason == FinishReason::Error || r.finish_reason == FinishReason::Cancelled) continue;
      PolicySequence s;
      s.tokens = r.tokens;
      s.positions = r.positions;
      s.patches = r.patches;
      s.trained = r.sampled;
      s.advantage = advantages.advantages[k];
      sequences.push_back(std::move(s));
    }
  }
  Round round;
  round.index = index;
  round.batches = make_policy_batches(sequences, p.micro_batches, p.loss.aggregation, p.rollout.max_tokens);
  for (auto& b : round.batches) {
    round.trained_tokens += b.trained_tokens;
    if (b.trained_tokens == 0) continue;
    if (p.epochs > 1) b.old_logprobs = target_logprobs(model, b, p.loss.temperature);
    if (reference) b.ref_logprobs = target_logprobs(*reference, b, p.loss.temperature);
  }
  model->train();
  round.metrics = round_metrics(rollouts, rewards, uniform);
  round.metrics["trained_rollouts"] = static_cast<double>(sequences.size());
  round.metrics["rollout_digest"] = rollout_digest(rollouts);
  if (p.reward.penalty == LengthPenalty::Cap) round.metrics["thinking_cap"] = thinking_cap(p.reward, step);
  round.metrics["rollout_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return round;
}

// Rounds reused for several steps are saved, so a resumed run continues on the very same round (its weights at
// the round's start are gone by then). Undefined tensors are stored as empty ones.
std::string round_path(const std::string& run_dir) { return (fs::path(run_dir) / "rollouts" / "round.pt").string(); }

void save_round(const Round& round, const std::string& path) {
  std::vector<torch::Tensor> tensors;
  auto put = [&](const at::Tensor& t) { tensors.push_back(t.defined() ? t : torch::empty({0})); };
  put(torch::tensor({static_cast<double>(round.index), static_cast<double>(round.trained_tokens)}, torch::kFloat64));
  for (const auto& b : round.batches) {
    put(b.tokens), put(b.positions), put(b.patches), put(b.targets), put(b.weights), put(b.advantages);
    put(b.old_logprobs), put(b.ref_logprobs);
    put(torch::tensor({static_cast<double>(b.trained_tokens), b.loss_scale}, torch::kFloat64));
  }
  std::ostringstream bytes;
  torch::save(tensors, bytes);
  fs::create_directories(fs::path(path).parent_path());
  write_file_atomic(path, bytes.str());
  write_file_atomic(path + ".json", nlohmann::json(round.metrics).dump());
}

// The saved round if it is round `index`, else nothing.
std::optional<Round> load_round(const std::string& path, int64_t index) {
  if (!fs::exists(path) || !fs::exists(path + ".json")) return std::nullopt;
  std::vector<torch::Tensor> tensors;
  std::istringstream bytes(read_file(path));
  try {
    torch::load(tensors, bytes);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("unreadable saved round (delete it to regenerate the round): ") + e.what());
  }
  if (tensors.empty() || (tensors.size() - 1) % 9 != 0) throw file_error(path, "not a saved round");
  if (static_cast<int64_t>(tensors[0][0].item<double>()) != index) return std::nullopt;
  Round round;
  round.index = index;
  round.trained_tokens = static_cast<int64_t>(tensors[0][1].item<double>());
  auto get = [](const torch::Tensor& t) { return t.numel() == 0 && t.dim() == 1 ? at::Tensor() : t; };
  for (size_t i = 1; i < tensors.size(); i += 9) {
    PolicyBatch b;
    b.tokens = get(tensors[i]), b.positions = get(tensors[i + 1]), b.patches = get(tensors[i + 2]);
    b.targets = get(tensors[i + 3]), b.weights = get(tensors[i + 4]), b.advantages = get(tensors[i + 5]);
    b.old_logprobs = get(tensors[i + 6]), b.ref_logprobs = get(tensors[i + 7]);
    b.trained_tokens = static_cast<int64_t>(tensors[i + 8][0].item<double>());
    b.loss_scale = tensors[i + 8][1].item<double>();
    round.batches.push_back(std::move(b));
  }
  round.metrics = nlohmann::json::parse(read_file(path + ".json")).get<std::map<std::string, double>>();
  return round;
}

// Held-out accuracy and thinking tokens, greedy and as the policy samples (at the rollouts' temperature).
struct HeldoutEval {
  std::vector<TaskEvalResult> greedy, sampled;
};

HeldoutEval evaluate_heldout(Transformer& model, const Tokenizer& tokenizer, const std::vector<MixtureEntry>& tasks,
                             const RlParams& p, const c10::Device& device) {
  MixtureEvalParams eval;
  eval.problems = p.eval_problems;
  eval.tools_off_baseline = false;
  HeldoutEval out;
  out.greedy = evaluate_mixture(model, tokenizer, tasks, eval, device);
  eval.temperature = p.rollout.temperature;
  out.sampled = evaluate_mixture(model, tokenizer, tasks, eval, device);
  return out;
}

// Means over the cells, for metrics.jsonl: heldout_accuracy / heldout_thinking (greedy), sampled_accuracy /
// sampled_thinking (one sample per problem), and every cell's accuracy.
nlohmann::json heldout_metrics(const HeldoutEval& e) {
  auto means = [](const std::vector<TaskEvalResult>& results) {
    double accuracy = 0, thinking = 0;
    for (const auto& r : results) accuracy += r.accuracy, thinking += r.mean_thinking_tokens;
    const double n = std::max<size_t>(1, results.size());
    return std::make_pair(accuracy / n, thinking / n);
  };
  const auto [greedy, greedy_thinking] = means(e.greedy);
  const auto [sampled, sampled_thinking] = means(e.sampled);
  return {{"heldout_accuracy", greedy}, {"heldout_thinking", greedy_thinking},
          {"sampled_accuracy", sampled}, {"sampled_thinking", sampled_thinking},
          {"task_accuracy", task_accuracy_json(e.greedy)}, {"sampled_task_accuracy", task_accuracy_json(e.sampled)}};
}

std::string heldout_summary(const HeldoutEval& e) {
  std::string out;
  char text[160];
  for (size_t i = 0; i < e.greedy.size(); ++i) {
    const auto& r = e.greedy[i];
    const double sampled = i < e.sampled.size() ? e.sampled[i].accuracy : 0.0;
    std::snprintf(text, sizeof text, "%s%s@%d %.1f%% greedy, %.1f%% sampled (%.0f thinking tokens)",
                  out.empty() ? "" : ", ", r.task.c_str(), r.difficulty, 100.0 * r.accuracy, 100.0 * sampled,
                  r.mean_thinking_tokens);
    out += text;
  }
  return out;
}

}  // namespace

RlResult rl(const RlParams& p) {
  p.validate();
  const auto device = parse_device(p.device);
  const fs::path run(p.out_dir);
  const auto base = start_from_model_dir(p.init_from, p.out_dir);
  const ModelConfig& config = base.config;
  const std::string& base_weights = base.weights;
  const Tokenizer& tokenizer = base.tokenizer;
  const auto tasks = parse_mixture(p.rollout.tasks);
  for (const auto& t : tasks) make_task(t.task);  // an unknown task fails before any work

  torch::manual_seed(p.seed);
  Transformer model(config);
  model->to(device);
  model->train();
  if (!p.resume) load_module_weights(*model, base_weights);
  std::unique_ptr<Transformer> reference;
  if (p.loss.kl_beta > 0) {
    reference = std::make_unique<Transformer>(config);
    (*reference)->to(device);
    load_module_weights(**reference, base_weights);
    (*reference)->eval();
    for (auto& param : (*reference)->parameters()) param.set_requires_grad(false);
  }

  TrainerParams t;
  t.run_dir = p.out_dir;
  t.log_tag = "rl";
  t.steps = p.steps;
  t.grad_accum = p.micro_batches;
  t.grad_clip = p.grad_clip;
  t.schedule = LrSchedule{"wsd", p.lr, 1.0, p.warmup_steps, p.steps};  // constant after warmup
  t.optimizer = p.optimizer;
  t.checkpoint_every = p.checkpoint_every;
  t.log_every = p.log_every;
  t.resume = p.resume;
  t.fingerprint = p.fingerprint();
  t.progress = p.progress;
  t.flops_per_token = config.train_flops_per_token(config.max_seq_len);
  t.stop_after_step = p.stop_after_step;
  auto watch = std::make_shared<CollapseWatch>();
  t.step_note = [watch](int64_t step, const std::map<std::string, double>& m) {
    auto get = [&](const char* key) {
      const auto it = m.find(key);
      return it == m.end() ? 0.0 : it->second;
    };
    char text[160];
    std::snprintf(text, sizeof text, " | reward %.3f | right %.0f%% | thinking %.0f | entropy %.2f", get("reward"),
                  100.0 * get("accuracy"), get("thinking_tokens"), get("entropy"));
    std::string note = text;
    for (const auto& warning : watch->update(m)) {
      log_warn("rl", "step %lld: %s", static_cast<long long>(step), warning.c_str());
      note += " | WARNING " + warning;
    }
    return note;
  };
  Trainer trainer(t, model);
  log_info("rl", "%s | from %s: %.2fM params | %s, %d problems x %d samples per round, %d epoch(s)",
           runtime_summary(device).c_str(), p.init_from.c_str(), config.parameter_count() / 1e6,
           mixture_to_string(tasks).c_str(), p.rollout.prompts, p.rollout.group_size, p.epochs);

  RlResult result;
  if (!p.resume && p.eval_problems > 0) {
    const auto before = evaluate_heldout(model, tokenizer, tasks, p, device);
    result.before = before.greedy;
    result.before_sampled = before.sampled;
    auto line = heldout_metrics(before);
    line["step"] = 0;
    trainer.log_metrics(line);
    log_info("rl", "before RL: %s", heldout_summary(before).c_str());
  }

  auto round = std::make_shared<Round>();
  const std::string saved = round_path(p.out_dir);
  auto fetch = [&, round](int64_t step, int64_t micro) {
    const int64_t index = step / p.epochs;
    if (round->index != index) {
      std::optional<Round> loaded = p.epochs > 1 ? load_round(saved, index) : std::nullopt;
      *round = loaded ? std::move(*loaded) : build_round(model, reference.get(), device, tokenizer, tasks, p, index);
      if (p.epochs > 1 && !loaded) save_round(*round, saved);
    }
    RlMicroBatch mb;
    mb.batch = round->batches.at(static_cast<size_t>(micro));
    mb.metrics = round->metrics;
    mb.token_share = round->trained_tokens > 0 ? static_cast<double>(mb.batch.trained_tokens) / round->trained_tokens
                                               : 0.0;
    return mb;
  };
  auto loss = [&p](Transformer& m, const RlMicroBatch& mb) {
    const auto part = policy_loss(m, mb.batch, p.loss);
    MicroBatchLoss out;
    out.loss = part.loss;
    out.value = part.value;
    out.tokens = mb.batch.trained_tokens;
    out.metrics = mb.metrics;
    if (mb.metrics.count("trained_rollouts") && mb.metrics.at("trained_rollouts") > 0) {
      // The trainer averages over micro-batches; weighting by each one's share of tokens gives the token mean.
      const double w = mb.token_share * static_cast<double>(p.micro_batches);
      out.metrics["entropy"] = part.entropy * w;
      out.metrics["kl"] = part.kl * w;
      out.metrics["clip_fraction"] = part.clip_fraction * w;
      out.metrics["ratio"] = part.ratio_mean * w;
    }
    return out;
  };
  PeriodicEval periodic;
  periodic.every = p.eval_problems > 0 ? p.eval_every : 0;
  periodic.run = [&](Transformer& m, int64_t) {
    PeriodicEval::Outcome outcome;
    const auto results = evaluate_heldout(m, tokenizer, tasks, p, device);
    outcome.metrics = heldout_metrics(results);
    outcome.summary = heldout_summary(results);
    return outcome;
  };
  const TrainRunResult done =
      trainer.run(make_batch_source<RlMicroBatch>(fetch, loss, /*prefetch=*/false), periodic);
  result.steps = done.steps;
  result.seconds = done.seconds;
  result.finished = done.finished;
  if (!done.finished) return result;
  if (p.epochs > 1) {
    std::error_code ec;
    fs::remove(saved, ec);
    fs::remove(saved + ".json", ec);
  }
  if (p.eval_problems > 0) {
    const auto after = evaluate_heldout(model, tokenizer, tasks, p, device);
    result.after = after.greedy;
    result.after_sampled = after.sampled;
    auto line = heldout_metrics(after);
    line["step"] = done.steps;
    line["final"] = true;
    trainer.log_metrics(line);
    log_info("rl", "after RL: %s", heldout_summary(after).c_str());
    std::string report = "# RL run " + p.out_dir + "\n\nFrom `" + p.init_from + "`, " + std::to_string(done.steps) +
                         " steps on " + mixture_to_string(tasks) + ". Held-out problems, greedy:\n\n";
    report += eval_table_markdown(result.after, result.before, "before RL");
    char line_text[64];
    std::snprintf(line_text, sizeof line_text, "\nOne sample per problem at temperature %.2f:\n\n",
                  p.rollout.temperature);
    report += line_text + eval_table_markdown(result.after_sampled, result.before_sampled, "before RL");
    report += "\nCurves: `curves/reward.svg`, `curves/thinking.svg`, `curves/health.svg` (muse report " + p.out_dir +
              ").\n";
    write_file_atomic((run / "report.md").string(), report);
  }
  write_rl_curves(p.out_dir);
  return result;
}

}  // namespace muse
