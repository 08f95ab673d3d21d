#include "training/recipe.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/jsonl.h"
#include "runtime/runtime.h"
#include "training/pretrain_data.h"
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
    // ~40 min on the 2-core reference machine; ~2.6M parameters (10 MiB of fp32 weights). Text, image and table
    // tasks are mixed from the first step (early fusion: one decoder, no separately trained vision encoder).
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

void write_report(const std::string& out_dir, const Recipe& recipe, const ModelConfig& config,
                  const PretrainResult& result, double tokenizer_seconds, const c10::Device& device) {
  const auto& p = recipe.pretrain;
  nlohmann::json evals = nlohmann::json::array();
  for (const auto& e : result.evals)
    evals.push_back({{"task", e.task}, {"difficulty", e.difficulty}, {"problems", e.problems},
                     {"accuracy", e.accuracy}, {"mean_reward", e.mean_reward},
                     {"mean_thinking_tokens", e.mean_thinking_tokens}, {"mean_answer_tokens", e.mean_answer_tokens},
                     {"modality", e.modality}, {"blank_images", e.blank_images}});
  const nlohmann::json j = {
      {"recipe", recipe.name},
      {"environment", {{"cpu", cpu_model()}, {"runtime", runtime_summary(device)}, {"git_commit", git_commit()}}},
      {"model", config},
      {"parameters", config.parameter_count()},
      {"train_flops_per_token", config.train_flops_per_token(p.seq_len)},
      {"mixture", p.mixture},
      {"stages", {{"tokenizer_seconds", tokenizer_seconds}, {"pretrain_seconds", result.seconds},
                  {"eval_seconds", result.eval_seconds}}},
      {"pretrain", {{"steps", result.steps}, {"tokens", result.tokens}, {"tokens_per_second", result.tokens_per_second},
                    {"data_wait_share", result.data_wait_share},
                    {"final_train_loss", result.final_train_loss}, {"final_eval_loss", result.final_eval_loss},
                    {"batch_size", p.batch_size}, {"seq_len", p.seq_len}, {"schedule", p.schedule}}},
      {"eval", evals}};
  write_file_atomic((fs::path(out_dir) / "report.json").string(), j.dump(2) + "\n");

  char buf[2048];
  std::string md = "# Muse model report: recipe `" + recipe.name + "`\n\n" + recipe.description + "\n\n## Environment\n\n";
  md += "- CPU: " + cpu_model() + "\n- Runtime: " + runtime_summary(device) + "\n- Git commit: " + git_commit() + "\n\n";
  std::snprintf(buf, sizeof buf,
                "## Model\n\n- Preset `%s`: vocab %lld, d_model %lld, %lld layers, %lld heads (%lld kv), ffn %lld, "
                "context %lld\n- Parameters: %.2fM; training FLOPs/token: %.1fM\n\n",
                config.preset.c_str(), (long long)config.vocab_size, (long long)config.d_model,
                (long long)config.n_layers, (long long)config.n_heads, (long long)config.n_kv_heads,
                (long long)config.ffn_hidden, (long long)config.max_seq_len, config.parameter_count() / 1e6,
                config.train_flops_per_token(p.seq_len) / 1e6);
  md += buf;
  std::snprintf(buf, sizeof buf,
                "## Training\n\n- Mixture: `%s`\n- Tokenizer: %.2f s\n- Pretraining: %lld steps x %lld x %lld tokens = "
                "%.2fM tokens in %.1f min (%.0f tokens/s, %.1f%% of it waiting for data), %s schedule\n- Final train loss %.4f, "
                "held-out loss %.4f\n- Final evaluation: %.1f min\n\n",
                p.mixture.c_str(), tokenizer_seconds, (long long)result.steps, (long long)p.batch_size,
                (long long)p.seq_len, result.tokens / 1e6, result.seconds / 60.0, result.tokens_per_second,
                100.0 * result.data_wait_share, p.schedule.c_str(), result.final_train_loss, result.final_eval_loss,
                result.eval_seconds / 60.0);
  md += buf;
  md += "## Held-out accuracy (greedy)\n\nPer modality:\n\n" + modality_table_markdown(result.evals) +
        "\nPer task and difficulty. The image-blind column replays the same prompts with every image blanked: "
        "the gap is what the model reads from the pixels.\n\n" + eval_table_markdown(result.evals) +
        "\nReproduce: `muse train --recipe " + recipe.name + " --out DIR`. Loss curve: `metrics.jsonl`.\n";
  write_file_atomic((fs::path(out_dir) / "report.md").string(), md);
}

}  // namespace

PretrainResult run_recipe(const Recipe& recipe_in, const std::string& out_dir, const RecipeOverrides& overrides) {
  Recipe recipe = recipe_in;
  recipe.pretrain.out_dir = out_dir;
  recipe.pretrain.device = overrides.device;
  recipe.pretrain.resume = overrides.resume;
  recipe.pretrain.progress = overrides.progress;
  if (overrides.steps > 0) recipe.pretrain.steps = overrides.steps;
  const auto device = parse_device(overrides.device);

  const auto tokenizer_path = fs::path(out_dir) / "tokenizer.model";
  double tokenizer_seconds = 0.0;
  if (!(overrides.resume && fs::exists(tokenizer_path))) {
    if (!overrides.resume && fs::exists(fs::path(out_dir) / "checkpoints"))
      throw file_error(out_dir, "already holds a training run; pass --resume to continue it, or choose another --out");
    const auto start = std::chrono::steady_clock::now();
    std::fprintf(stderr, "[recipe %s] training tokenizer (vocab <= %d) on %d documents\n", recipe.name.c_str(),
                 recipe.tokenizer.vocab_size, recipe.tokenizer_documents);
    train_tokenizer_for_mixture(recipe.pretrain.mixture, recipe.pretrain.text_files, recipe.tokenizer,
                                recipe.tokenizer_documents, recipe.pretrain.seed, out_dir);
    tokenizer_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::fprintf(stderr, "[recipe %s] pretraining\n", recipe.name.c_str());
  const auto result = pretrain(recipe.model, recipe.pretrain);
  ModelConfig config = recipe.model;
  const auto tokenizer = Tokenizer::load(tokenizer_path.string());
  config.vocab_size = tokenizer.vocab_size();
  if (config.sees_images()) config.patch_token_id = tokenizer.special(Special::ImagePatch);
  write_report(out_dir, recipe, config, result, tokenizer_seconds, device);
  return result;
}

}  // namespace muse
