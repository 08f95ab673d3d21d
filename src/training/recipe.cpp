#include "training/recipe.h"

#include <chrono>
#include <filesystem>

#include "data/jsonl.h"
#include "model/weights.h"
#include "runtime/environment.h"
#include "runtime/runtime.h"
#include "training/checkpoint.h"
#include "training/pretrain_data.h"
#include "training/report.h"
#include "training/sft.h"
#include "training/train_eval.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;

std::vector<std::string> recipe_names() { return {"tiny", "default"}; }

Recipe recipe_by_name(const std::string& name) {
  Recipe r;
  r.name = name;
  if (name == "tiny") {
    // ~1 minute on one CPU core: a ~1M model learns 1-2 digit addition with a fixed-width carry scratchpad.
    // QK-norm makes this reliable (without it the 2-digit lookup is learnt late or not at all depending on the
    // seed); Muon learns it in 250 steps where AdamW needed 800 (at 200 steps: 100% vs 31%, docs/LOG.md).
    r.description = "tiny preset (QK-norm, Muon) on 1-2 digit addition (the end-to-end smoke test)";
    r.model = preset_config("tiny");
    r.model.max_seq_len = 128;
    r.tokenizer.vocab_size = 512;
    r.tokenizer_documents = 4000;
    r.pretrain.mixture = "add:1:1,add:2:4";
    r.pretrain.prompt_loss = false;  // prompts are uniformly random digits: nothing to learn there
    r.pretrain.steps = 250;
    r.pretrain.lr = 8e-3;
    r.pretrain.batch_size = 32;
    r.pretrain.seq_len = 64;
    r.pretrain.warmup_steps = 30;
    r.pretrain.checkpoint_every = 100;
    r.pretrain.log_every = 10;
    r.pretrain.eval_problems = 200;
  } else if (name == "default") {
    // ~2.8M parameters (11 MiB of fp32 weights). Text, image and table tasks are mixed from the first step (early
    // fusion: one decoder, no separately trained vision encoder). Muon + QK-norm + zero-initialised projections
    // (the model and optimizer defaults) reach in 10 minutes a held-out loss that AdamW without QK-norm does not
    // reach in 20 (docs/LOG.md, 2026-12-01). Sized to finish, evaluation included, within an hour on the 2-core
    // machine (~4.2k tokens/s there): 2400 steps of 12 x 384 tokens (11M tokens). Rows of 384 keep the longest table problems
    // whole; grid weighs less (long traces, far from its goal), tables more (open vocabularies). Tool use: calc
    // (arithmetic past the in-head range, by the calculator) and read 2-3 (digits only a zoom makes legible);
    // every other task is solved without a tool, which teaches when not to call one.
    r.description =
        "the shipped default: arithmetic, Countdown, and image and table tasks (count, read, chart, grid, table, "
        "mixed), and sums of products it splits among sub-agents, answered with step-by-step reasoning";
    r.model = config_for_depth(5);
    r.model.max_seq_len = 384;
    // The second equal-time ablation round (docs/LOG.md, 2026-12-02): tied embeddings (held-out loss 0.698 ->
    // 0.657) and Muon at 0.01 (-> 0.675) each won alone at 350 steps; ReLU^2 tied with SwiGLU. Together they
    // were not run: the next retrain of the default measures the pair.
    r.model.tie_embeddings = true;
    r.pretrain.optimizer.muon_lr = 0.01;
    r.tokenizer.vocab_size = 1024;
    r.tokenizer_documents = 20000;
    r.pretrain.mixture =
        "add:1-4:2,sub:1-4:2,mul:1-3:2,calc:1-3:1.5,countdown:3-4:1.5,"
        "count:1-3:2,read:1-3:1.25,chart:1-3:2,grid:1-3:1,table:1-3:2.5,mixed:1-2:1,products:1-3:1";
    r.pretrain.prompt_loss = false;
    r.pretrain.steps = 2400;
    r.pretrain.batch_size = 12;
    r.pretrain.seq_len = 384;
    r.pretrain.warmup_steps = 100;
    r.pretrain.schedule = "wsd";
    r.pretrain.checkpoint_every = 100;
    r.pretrain.log_every = 25;
    r.pretrain.eval_problems = 100;
    r.sft.steps = 250;
    r.sft.chat_share = 0.5;
    r.sft.budget_cut_share = 0.2;
    r.sft.eval_problems = 100;
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

// The report card of the pretraining stage (what a recipe without fine-tuning reports).
RecipeReport pretraining_report(const Recipe& recipe, const ModelConfig& config, double tokenizer_seconds,
                                const PretrainResult& base, const PretrainParams& base_params,
                                const c10::Device& device) {
  RecipeReport report;
  report.recipe = recipe.name;
  report.description = recipe.description;
  report.environment = probe_environment(device);
  report.model = config;
  report.parameters = config.parameter_count();
  report.train_flops_per_token = config.train_flops_per_token(base_params.seq_len);
  report.mixture = base_params.mixture;
  report.stages.tokenizer_seconds = tokenizer_seconds;
  report.stages.pretrain_seconds = base.seconds;
  report.stages.eval_seconds = base.eval_seconds;
  report.pretrain = stage_report(base, base_params);
  report.eval = eval_cells(base.evals);
  return report;
}

// The fine-tuned model becomes the report's final model; the pretrained one's accuracy moves to base_eval.
void add_fine_tuning(RecipeReport& report, const PretrainResult& sft, const PretrainParams& sft_params) {
  report.sft = stage_report(sft, sft_params);
  report.stages.sft_seconds = sft.seconds;
  report.stages.eval_seconds = sft.eval_seconds;
  report.base_eval = report.eval;
  report.eval = eval_cells(sft.evals);
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
  p.json_answer_share = stage.json_answer_share;
  p.train_cut_think_end = stage.train_cut_think_end;
  p.chat_files = stage.chat_files;
  p.prompt_loss = false;
  if (!stage.mixture.empty()) p.mixture = stage.mixture;
  const auto base_config = load_model_config((fs::path(base_dir) / "config.json").string());
  p.lr = stage.lr_scale * (like.lr > 0 ? like.lr : default_learning_rate(base_config));
  p.optimizer.muon_lr = stage.lr_scale * like.optimizer.muon_lr;
  p.eval_problems = stage.eval_problems;
  p.eval_every = 0;
  return p;
}

namespace {

// The other model answers exactly the held-out problems the final model was scored on (same mixture, seed and
// count), in the trained wordings and one step beyond the trained difficulties.
void add_comparison(RecipeReport& report, const std::string& model_dir, const PretrainParams& scored,
                    const c10::Device& device) {
  log_info("recipe", "scoring %s on the same held-out problems", model_dir.c_str());
  LoadedModel other = load_model_dir(model_dir, device);
  MixtureEvalParams params;
  params.problems = scored.eval_problems;
  params.seed = scored.seed;
  params.beyond_training = true;
  report.previous_model = model_dir;
  report.previous_eval = eval_cells(evaluate_mixture(other.model, other.tokenizer, parse_mixture(scored.mixture),
                                                     params, device));
}

}  // namespace

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
  const std::string tag = "recipe " + recipe.name;
  if (!overrides.resume && (fs::exists(fs::path(out_dir) / "checkpoints") || fs::exists(fs::path(base_dir) / "checkpoints")))
    throw file_error(out_dir, "already holds a training run; pass --resume to continue it, or choose another --out");

  // Stage 1 and 2: tokenizer and pretraining (skipped when a resumed recipe finds them finished).
  const auto tokenizer_path = fs::path(base_dir) / "tokenizer.model";
  const bool base_done = fine_tune && overrides.resume && fs::exists(fs::path(base_dir) / "report.json") &&
                         fs::exists(fs::path(base_dir) / "model.safetensors");
  double tokenizer_seconds = 0.0;
  PretrainResult base;
  if (base_done) {
    const RecipeReport finished = read_report(base_dir);
    base = stage_result(finished.pretrain, finished.eval);
    tokenizer_seconds = finished.stages.tokenizer_seconds;
    log_info(tag.c_str(), "pretraining already finished in %s", base_dir.c_str());
  } else {
    if (!(overrides.resume && fs::exists(tokenizer_path))) {
      const auto start = std::chrono::steady_clock::now();
      log_info(tag.c_str(), "training tokenizer (vocab <= %d) on %d documents", recipe.tokenizer.vocab_size,
               recipe.tokenizer_documents);
      train_tokenizer_for_mixture(recipe.pretrain.mixture, recipe.pretrain.text_files, recipe.tokenizer,
                                  recipe.tokenizer_documents, recipe.pretrain.seed, base_dir);
      tokenizer_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    log_info(tag.c_str(), "pretraining");
    recipe.pretrain.resume = overrides.resume && latest_checkpoint(base_dir).has_value();
    base = pretrain(recipe.model, recipe.pretrain);
  }
  const ModelConfig config = load_model_config((fs::path(base_dir) / "config.json").string());
  RecipeReport report = pretraining_report(recipe, config, tokenizer_seconds, base, recipe.pretrain, device);
  if (!fine_tune) {
    if (!overrides.compare_with.empty()) add_comparison(report, overrides.compare_with, recipe.pretrain, device);
    write_report(out_dir, report);
    return base;
  }
  if (!base_done) write_report(base_dir, report);  // the pretraining stage's own card, what a resume reads back

  // Stage 3: supervised fine-tuning from the pretrained weights.
  log_info(tag.c_str(), "fine-tuning");
  PretrainParams sft_params = fine_tune_params(base_dir, out_dir, recipe.sft, recipe.pretrain);
  sft_params.resume = overrides.resume && latest_checkpoint(out_dir).has_value();
  const auto fine_tuned = sft(sft_params);
  add_fine_tuning(report, fine_tuned, sft_params);
  if (!overrides.compare_with.empty()) add_comparison(report, overrides.compare_with, sft_params, device);
  write_report(out_dir, report);
  return fine_tuned;
}

}  // namespace muse
