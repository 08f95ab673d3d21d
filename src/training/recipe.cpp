#include "training/recipe.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/jsonl.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/checkpoint.h"
#include "training/pretrain_data.h"
#include "training/sft.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;

std::vector<std::string> recipe_names() { return {"tiny", "default"}; }

Recipe recipe_by_name(const std::string& name) {
  Recipe r;
  r.name = name;
  if (name == "tiny") {
    // ~2 minutes on one CPU core: a ~1M model learns 1-2 digit addition with a fixed-width carry scratchpad.
    // QK-norm is what makes this reliable: without it the 2-digit lookup is learnt late or not at all
    // depending on the seed, and a higher learning rate diverges (docs/LOG.md).
    r.description = "tiny preset (+ QK-norm) on 1-2 digit addition (the end-to-end smoke test)";
    r.model = preset_config("tiny");
    r.model.qk_norm = true;
    r.model.max_seq_len = 128;
    r.tokenizer.vocab_size = 512;
    r.tokenizer_documents = 4000;
    r.pretrain.mixture = "add:1:1,add:2:4";
    r.pretrain.prompt_loss = false;  // prompts are uniformly random digits: nothing to learn there
    r.pretrain.steps = 800;
    r.pretrain.lr = 8e-3;
    r.pretrain.batch_size = 32;
    r.pretrain.seq_len = 64;
    r.pretrain.warmup_steps = 30;
    r.pretrain.checkpoint_every = 50;
    r.pretrain.log_every = 10;
    r.pretrain.eval_problems = 200;
  } else if (name == "default") {
    // ~2.8M parameters (11 MiB of fp32 weights). 3,450 steps: ~50 min at 0.8 s/step on the 2-core reference
    // machine, up to ~90 min on its slow days (docs/PERFORMANCE.md). Text, image and table tasks are mixed from
    // the first step (early fusion: one decoder, no separately trained vision encoder).
    r.description =
        "the shipped default: arithmetic, Countdown, and image and table tasks (count, read, chart, grid, table, "
        "mixed), answered with step-by-step reasoning";
    r.model = config_for_depth(5);
    r.model.max_seq_len = 384;
    r.tokenizer.vocab_size = 1024;
    r.tokenizer_documents = 20000;
    r.pretrain.mixture =
        "add:1-4:2,sub:1-4:1.5,mul:1-3:1.5,countdown:3-4:1.5,"
        "count:1-3:2,read:1-2:1,chart:1-3:2,grid:1-3:1.5,table:1-3:2,mixed:1-2:1.5";
    r.pretrain.prompt_loss = false;
    r.pretrain.steps = 3200;
    r.pretrain.batch_size = 16;
    r.pretrain.seq_len = 256;
    r.pretrain.warmup_steps = 100;
    r.pretrain.schedule = "wsd";
    r.pretrain.checkpoint_every = 100;
    r.pretrain.log_every = 25;
    r.pretrain.eval_problems = 100;
    r.sft.steps = 250;
    r.sft.chat_share = 0.5;
    r.sft.budget_cut_share = 0.2;
  } else {
    std::string known;
    for (const auto& n : recipe_names()) known += (known.empty() ? "" : ", ") + n;
    throw MuseError("unknown recipe '" + name + "' (known: " + known + ")");
  }
  return r;
}

void train_tokenizer_for_mixture(const std::string& mixture, const std::vector<std::string>& text_files,
                                 const TokenizerTrainParams& params, int documents, uint64_t seed,
                                 const std::string& out_dir) {
  std::vector<std::string> text_docs;
  for (const auto& f : text_files)
    for (auto& d : load_text_jsonl(f)) text_docs.push_back(std::move(d.text));
  fs::create_directories(out_dir);
  train_tokenizer(mixture_corpus(parse_mixture(mixture), text_docs, documents, seed), params,
                  (fs::path(out_dir) / "tokenizer.model").string());
}

namespace {

std::string git_commit() {
  FILE* pipe = popen("git rev-parse --short HEAD 2>/dev/null", "r");
  if (!pipe) return "unknown";
  char buf[64] = {0};
  const bool ok = fgets(buf, sizeof buf, pipe) != nullptr;
  pclose(pipe);
  std::string s = ok ? buf : "unknown";
  while (!s.empty() && (s.back() == '\n')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

std::string cpu_model() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "unknown";
  char line[512];
  std::string model = "unknown";
  while (std::fgets(line, sizeof line, f)) {
    std::string s = line;
    if (s.rfind("model name", 0) == 0) {
      model = s.substr(s.find(':') + 2);
      model.pop_back();
      break;
    }
  }
  std::fclose(f);
  return model;
}

nlohmann::json evals_json(const std::vector<TaskEvalResult>& results) {
  nlohmann::json evals = nlohmann::json::array();
  for (const auto& e : results)
    evals.push_back({{"task", e.task}, {"difficulty", e.difficulty}, {"problems", e.problems},
                     {"accuracy", e.accuracy}, {"mean_reward", e.mean_reward},
                     {"mean_thinking_tokens", e.mean_thinking_tokens}, {"mean_answer_tokens", e.mean_answer_tokens},
                     {"modality", e.modality}, {"blank_images", e.blank_images}, {"seconds", e.seconds}});
  return evals;
}

nlohmann::json stage_json(const PretrainResult& r, const PretrainParams& p) {
  return {{"steps", r.steps},
          {"tokens", r.tokens},
          {"seconds", r.seconds},
          {"tokens_per_second", r.tokens_per_second},
          {"data_wait_share", r.data_wait_share},
          {"final_train_loss", r.final_train_loss},
          {"final_eval_loss", r.final_eval_loss},
          {"eval_seconds", r.eval_seconds},
          {"batch_size", p.batch_size},
          {"seq_len", p.seq_len},
          {"schedule", p.schedule},
          {"mixture", p.mixture}};
}

// A finished stage's numbers, read back from its report.json (so a resumed recipe can skip it).
PretrainResult read_stage(const std::string& dir, double* tokenizer_seconds) {
  const std::string path = (fs::path(dir) / "report.json").string();
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    const auto& s = j.at("pretrain");
    PretrainResult r;
    r.steps = s.at("steps");
    r.tokens = s.at("tokens");
    r.tokens_per_second = s.at("tokens_per_second");
    r.data_wait_share = s.value("data_wait_share", 0.0);
    r.final_train_loss = s.at("final_train_loss");
    r.final_eval_loss = s.at("final_eval_loss");
    r.seconds = s.contains("seconds") ? s.at("seconds").get<double>() : j.at("stages").at("pretrain_seconds").get<double>();
    r.eval_seconds = s.contains("eval_seconds") ? s.at("eval_seconds").get<double>()
                                                : j.at("stages").value("eval_seconds", 0.0);
    if (tokenizer_seconds) *tokenizer_seconds = j.at("stages").value("tokenizer_seconds", 0.0);
    for (const auto& e : j.at("eval")) {
      TaskEvalResult t;
      t.task = e.at("task");
      t.difficulty = e.at("difficulty");
      t.problems = e.at("problems");
      t.accuracy = e.at("accuracy");
      t.mean_reward = e.at("mean_reward");
      t.mean_thinking_tokens = e.at("mean_thinking_tokens");
      t.mean_answer_tokens = e.at("mean_answer_tokens");
      t.modality = e.value("modality", std::string("text"));
      t.blank_images = e.value("blank_images", false);
      t.seconds = e.value("seconds", 0.0);
      r.evals.push_back(t);
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("not a stage report (") + e.what() + ")");
  }
}

// "| task | difficulty | pretrained | fine-tuned |" for the cells both stages evaluated (image-blind runs left out).
std::string stage_comparison_markdown(const std::vector<TaskEvalResult>& before, const std::vector<TaskEvalResult>& after) {
  std::string md = "| task | difficulty | pretrained | fine-tuned |\n|---|---|---|---|\n";
  char line[160];
  for (const auto& a : after) {
    if (a.blank_images) continue;
    for (const auto& b : before)
      if (!b.blank_images && b.task == a.task && b.difficulty == a.difficulty) {
        std::snprintf(line, sizeof line, "| %s | %d | %.1f%% | %.1f%% |\n", a.task.c_str(), a.difficulty,
                      100 * b.accuracy, 100 * a.accuracy);
        md += line;
      }
  }
  return md;
}

// The report card: environment, model, every stage's data, time and throughput, and held-out accuracy.
void write_report(const std::string& out_dir, const Recipe& recipe, const ModelConfig& config, double tokenizer_seconds,
                  const PretrainResult& base, const PretrainParams& base_params, const PretrainResult* sft,
                  const PretrainParams* sft_params, const c10::Device& device) {
  const PretrainResult& final_stage = sft ? *sft : base;
  nlohmann::json j = {
      {"recipe", recipe.name},
      {"environment", {{"cpu", cpu_model()}, {"runtime", runtime_summary(device)}, {"git_commit", git_commit()}}},
      {"model", config},
      {"parameters", config.parameter_count()},
      {"train_flops_per_token", config.train_flops_per_token(base_params.seq_len)},
      {"mixture", base_params.mixture},
      {"stages", {{"tokenizer_seconds", tokenizer_seconds}, {"pretrain_seconds", base.seconds},
                  {"eval_seconds", final_stage.eval_seconds}}},
      {"pretrain", stage_json(base, base_params)},
      {"eval", evals_json(final_stage.evals)}};
  if (sft) {
    j["stages"]["sft_seconds"] = sft->seconds;
    j["sft"] = stage_json(*sft, *sft_params);
    j["sft"]["chat_share"] = sft_params->chat_share;
    j["sft"]["budget_cut_share"] = sft_params->budget_cut_share;
    j["sft"]["init_from"] = sft_params->init_from;
    j["base_eval"] = evals_json(base.evals);
  }
  write_file_atomic((fs::path(out_dir) / "report.json").string(), j.dump(2) + "\n");

  char buf[2048];
  std::string md = "# Muse model report: recipe `" + recipe.name + "`\n\n" + recipe.description + "\n\n## Environment\n\n";
  md += "- CPU: " + cpu_model() + "\n- Runtime: " + runtime_summary(device) + "\n- Git commit: " + git_commit() + "\n\n";
  std::snprintf(buf, sizeof buf,
                "## Model\n\n- Preset `%s`: vocab %lld, d_model %lld, %lld layers, %lld heads (%lld kv), ffn %lld, "
                "context %lld, image patches %lldx%lld (up to %lld per view)\n- Parameters: %.2fM; training FLOPs/token: "
                "%.1fM\n\n",
                config.preset.c_str(), (long long)config.vocab_size, (long long)config.d_model,
                (long long)config.n_layers, (long long)config.n_heads, (long long)config.n_kv_heads,
                (long long)config.ffn_hidden, (long long)config.max_seq_len, (long long)config.patch_size,
                (long long)config.patch_size, (long long)config.max_image_patches, config.parameter_count() / 1e6,
                config.train_flops_per_token(base_params.seq_len) / 1e6);
  md += buf;
  auto stage_line = [&](const char* name, const PretrainResult& r, const PretrainParams& p) {
    std::snprintf(buf, sizeof buf,
                  "- %s: `%s`; %lld steps x %lld x %lld tokens = %.2fM tokens in %.1f min (%.0f tokens/s, %.1f%% of "
                  "it waiting for data), %s schedule; final train loss %.4f, held-out loss %.4f; evaluation %.1f min\n",
                  name, p.mixture.c_str(), (long long)r.steps, (long long)p.batch_size, (long long)p.seq_len,
                  r.tokens / 1e6, r.seconds / 60.0, r.tokens_per_second, 100.0 * r.data_wait_share, p.schedule.c_str(),
                  r.final_train_loss, r.final_eval_loss, r.eval_seconds / 60.0);
    return std::string(buf);
  };
  std::snprintf(buf, sizeof buf, "## Training\n\n- Tokenizer: %.1f s\n", tokenizer_seconds);
  md += buf;
  md += stage_line("Pretraining", base, base_params);
  if (sft) {
    md += stage_line("Fine-tuning (SFT)", *sft, *sft_params);
    std::snprintf(buf, sizeof buf,
                  "  - from the pretrained weights, %.0f%% of task examples dressed as chats (system prompt, earlier "
                  "turns), the rest single-turn; loss on the final reply only\n",
                  100 * sft_params->chat_share);
    md += buf;
    if (sft_params->budget_cut_share > 0) {
      std::snprintf(buf, sizeof buf,
                    "  - %.0f%% of task examples with their reasoning cut at a random point before the answer (how "
                    "a thinking budget ends thinking)\n",
                    100 * sft_params->budget_cut_share);
      md += buf;
    }
  }
  md += "\n## Held-out accuracy (greedy)\n\nPer modality:\n\n" + modality_table_markdown(final_stage.evals) +
        "\nPer task and difficulty. The image-blind column replays the same prompts with every image blanked: "
        "the gap is what the model reads from the pixels.\n\n" + eval_table_markdown(final_stage.evals);
  if (sft) md += "\n### Pretrained vs fine-tuned (single-turn prompts)\n\n" + stage_comparison_markdown(base.evals, sft->evals);
  md += "\nReproduce: `muse train --recipe " + recipe.name + " --out DIR`. Loss curves: `metrics.jsonl`" +
        std::string(sft ? " (fine-tuning) and `base/metrics.jsonl` (pretraining)" : "") + ".\n";
  write_file_atomic((fs::path(out_dir) / "report.md").string(), md);
}

}  // namespace

PretrainParams fine_tune_params(const std::string& base_dir, const std::string& out_dir, const FineTuneStage& stage,
                                const PretrainParams& like) {
  PretrainParams p = like;
  p.out_dir = out_dir;
  p.init_from = base_dir;
  p.steps = stage.steps;
  p.warmup_steps = stage.warmup_steps;
  p.schedule = "cosine";
  p.chat_share = stage.chat_share;
  p.budget_cut_share = stage.budget_cut_share;
  p.chat_files = stage.chat_files;
  p.prompt_loss = false;
  if (!stage.mixture.empty()) p.mixture = stage.mixture;
  const auto base_config = load_model_config((fs::path(base_dir) / "config.json").string());
  p.lr = stage.lr_scale * (like.lr > 0 ? like.lr : default_learning_rate(base_config));
  p.eval_problems = stage.eval_problems;
  p.eval_every = 0;
  return p;
}

PretrainResult run_recipe(const Recipe& recipe_in, const std::string& out_dir, const RecipeOverrides& overrides) {
  Recipe recipe = recipe_in;
  const bool fine_tune = recipe.sft.steps > 0;
  const std::string base_dir = fine_tune ? (fs::path(out_dir) / "base").string() : out_dir;
  recipe.pretrain.out_dir = base_dir;
  recipe.pretrain.device = overrides.device;
  recipe.pretrain.resume = overrides.resume;
  recipe.pretrain.progress = overrides.progress;
  if (overrides.steps > 0) recipe.pretrain.steps = overrides.steps;
  if (overrides.sft_steps >= 0 && fine_tune) recipe.sft.steps = std::max<int64_t>(1, overrides.sft_steps);
  const auto device = parse_device(overrides.device);
  if (!overrides.resume && (fs::exists(fs::path(out_dir) / "checkpoints") || fs::exists(fs::path(base_dir) / "checkpoints")))
    throw file_error(out_dir, "already holds a training run; pass --resume to continue it, or choose another --out");

  // Stage 1 and 2: tokenizer and pretraining (skipped when a resumed recipe finds them finished).
  const auto tokenizer_path = fs::path(base_dir) / "tokenizer.model";
  const bool base_done = fine_tune && overrides.resume && fs::exists(fs::path(base_dir) / "report.json") &&
                         fs::exists(fs::path(base_dir) / "model.safetensors");
  double tokenizer_seconds = 0.0;
  PretrainResult base;
  if (base_done) {
    base = read_stage(base_dir, &tokenizer_seconds);
    std::fprintf(stderr, "[recipe %s] pretraining already finished in %s\n", recipe.name.c_str(), base_dir.c_str());
  } else {
    if (!(overrides.resume && fs::exists(tokenizer_path))) {
      const auto start = std::chrono::steady_clock::now();
      std::fprintf(stderr, "[recipe %s] training tokenizer (vocab <= %d) on %d documents\n", recipe.name.c_str(),
                   recipe.tokenizer.vocab_size, recipe.tokenizer_documents);
      train_tokenizer_for_mixture(recipe.pretrain.mixture, recipe.pretrain.text_files, recipe.tokenizer,
                                  recipe.tokenizer_documents, recipe.pretrain.seed, base_dir);
      tokenizer_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    std::fprintf(stderr, "[recipe %s] pretraining\n", recipe.name.c_str());
    recipe.pretrain.resume = overrides.resume && latest_checkpoint(base_dir).has_value();
    base = pretrain(recipe.model, recipe.pretrain);
  }
  ModelConfig config = load_model_config((fs::path(base_dir) / "config.json").string());
  if (!fine_tune) {
    write_report(out_dir, recipe, config, tokenizer_seconds, base, recipe.pretrain, nullptr, nullptr, device);
    return base;
  }
  if (!base_done)  // the pretraining stage's own report card, also what a resumed recipe reads back
    write_report(base_dir, recipe, config, tokenizer_seconds, base, recipe.pretrain, nullptr, nullptr, device);

  // Stage 3: supervised fine-tuning from the pretrained weights.
  std::fprintf(stderr, "[recipe %s] fine-tuning\n", recipe.name.c_str());
  PretrainParams sft_params = fine_tune_params(base_dir, out_dir, recipe.sft, recipe.pretrain);
  sft_params.resume = overrides.resume && latest_checkpoint(out_dir).has_value();
  const auto fine_tuned = sft(sft_params);
  write_report(out_dir, recipe, config, tokenizer_seconds, base, recipe.pretrain, &fine_tuned, &sft_params, device);
  return fine_tuned;
}

}  // namespace muse
