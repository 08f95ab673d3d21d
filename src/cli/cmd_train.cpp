// muse tokenizer train | muse pretrain | muse train --recipe
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "model/config.h"
#include "training/recipe.h"
#include "training/sft.h"

namespace muse::cli {
namespace {

struct ModelChoice {
  std::string preset = "tiny";
  int depth = 0;
  int64_t context = 0;
  int64_t kv_heads = 0;
  bool qk_norm = ModelConfig{}.qk_norm;
  bool zero_init_projections = ModelConfig{}.zero_init_projections;
  double logit_softcap = 0.0;
  double z_loss = 0.0;
  std::string ffn_activation = ffn_activation_name(ModelConfig{}.ffn_activation);
  int64_t ffn_hidden = 0;  // 0: the preset's width, x 1.5 for ReLU2 (equal parameters to SwiGLU)
  bool tie_embeddings = ModelConfig{}.tie_embeddings;
  bool patch_position_embeddings = ModelConfig{}.patch_position_embeddings;

  ModelConfig resolve() const {
    ModelConfig c = depth > 0 ? config_for_depth(depth) : preset_config(preset);
    if (context > 0) c.max_seq_len = context;
    if (kv_heads > 0) c.n_kv_heads = kv_heads;
    c.qk_norm = qk_norm;
    c.zero_init_projections = zero_init_projections;
    c.logit_softcap = logit_softcap;
    c.z_loss = z_loss;
    c.ffn_activation = parse_ffn_activation(ffn_activation);
    if (ffn_hidden > 0) c.ffn_hidden = ffn_hidden;
    else if (c.ffn_activation == FfnActivation::ReLU2) c.ffn_hidden = c.ffn_hidden * 3 / 2;
    c.tie_embeddings = tie_embeddings;
    c.patch_position_embeddings = patch_position_embeddings;
    return c;
  }
};

}  // namespace

void add_train_commands(CLI::App& app) {
  // muse tokenizer train
  auto* tokenizer = app.add_subcommand("tokenizer", "Tokenizer tools");
  tokenizer->require_subcommand(1);
  auto* tok_train = tokenizer->add_subcommand("train", "Train a SentencePiece BPE tokenizer on the task corpus");
  struct TokOpts {
    std::string out, mixture = "add:1-2";
    std::vector<std::string> text;
    TokenizerTrainParams params;
    int documents = 20000;
    uint64_t seed = 1;
  };
  auto tok = std::make_shared<TokOpts>();
  tok_train->add_option("--out", tok->out, "directory to write tokenizer.model into")->required();
  tok_train->add_option("--mixture", tok->mixture, "task mixture, e.g. add:1-4,countdown:3-4")->capture_default_str();
  tok_train->add_option("--text", tok->text, "JSONL files of {\"text\": ...} documents")->check(CLI::ExistingFile);
  tok_train->add_option("--vocab", tok->params.vocab_size, "vocabulary size (upper bound)")->capture_default_str()
      ->check(CLI::Range(kMinVocabSize, 1 << 20));
  tok_train->add_option("--documents", tok->documents, "generated task documents")->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  tok_train->add_option("--seed", tok->seed)->capture_default_str();
  tok_train->callback([tok] {
    train_tokenizer_for_mixture(tok->mixture, tok->text, tok->params, tok->documents, tok->seed, tok->out);
    std::printf("wrote %s/tokenizer.model\n", tok->out.c_str());
  });

  // muse pretrain
  auto* pre = app.add_subcommand("pretrain", "Pretrain a model on a task mixture (needs OUT/tokenizer.model)");
  auto params = std::make_shared<PretrainParams>();
  auto model = std::make_shared<ModelChoice>();
  auto runtime = std::make_shared<RuntimeOptions>();
  auto optimizer_name = std::make_shared<std::string>(optimizer_kind_name(params->optimizer.kind));
  pre->add_option("--out", params->out_dir, "run directory (becomes a model directory)")->required();
  pre->add_option("--preset", model->preset, "tiny | small | base")->capture_default_str();
  pre->add_option("--depth", model->depth, "derive the model from a depth dial instead of a preset")
      ->check(CLI::Range(1, 48));
  pre->add_option("--context", model->context, "max sequence length");
  pre->add_option("--kv-heads", model->kv_heads, "grouped-query attention: kv heads");
  pre->add_flag("--qk-norm,!--no-qk-norm", model->qk_norm, "RMSNorm on queries and keys (default on)");
  pre->add_flag("--zero-init-projections,!--no-zero-init-projections", model->zero_init_projections,
                "start the blocks' output projections (wo, w_down) at zero (default on)");
  pre->add_flag("--patch-position-embeddings,!--no-patch-position-embeddings", model->patch_position_embeddings,
                "learned row/column embeddings added to image patches (default off: no gain measured)");
  pre->add_option("--logit-softcap", model->logit_softcap, "cap * tanh(logits / cap); 0 = off")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  pre->add_option("--z-loss", model->z_loss, "z-loss coefficient (e.g. 1e-4)");
  pre->add_option("--ffn-activation", model->ffn_activation,
                  "swiglu | relu2 (relu2 widens the hidden layer 1.5x unless --ffn-hidden: equal parameters)")
      ->capture_default_str()->check(CLI::IsMember({"swiglu", "relu2"}));
  pre->add_option("--ffn-hidden", model->ffn_hidden, "feed-forward inner width (default: the preset's)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  pre->add_flag("--tie-embeddings,!--no-tie-embeddings", model->tie_embeddings,
                "the LM head reuses the token embedding matrix (default off)");
  pre->add_option("--mixture", params->mixture, "task mixture TASK[:MIN-MAX][:WEIGHT],...")->capture_default_str();
  pre->add_option("--text", params->text_files, "JSONL text documents (use 'text' in the mixture)")
      ->check(CLI::ExistingFile);
  pre->add_option("--steps", params->steps)->capture_default_str();
  pre->add_option("--batch-size", params->batch_size)->capture_default_str();
  pre->add_option("--seq-len", params->seq_len)->capture_default_str();
  pre->add_option("--grad-accum", params->grad_accum)->capture_default_str();
  pre->add_flag("--prompt-loss,!--no-prompt-loss", params->prompt_loss,
                "train task examples on their (random) prompts too; default: on the reply only");
  pre->add_option("--lr", params->lr, "peak learning rate (0 = derived from width)")->capture_default_str();
  pre->add_option("--schedule", params->schedule, "cosine | wsd")->capture_default_str();
  pre->add_option("--warmup", params->warmup_steps)->capture_default_str();
  pre->add_option("--optimizer", *optimizer_name, "muon (hidden matrices; AdamW for the rest) | adamw")
      ->capture_default_str()->check(CLI::IsMember({"muon", "adamw"}));
  pre->add_option("--muon-lr", params->optimizer.muon_lr, "Muon's peak learning rate")->capture_default_str()
      ->check(CLI::Range(1e-6, 10.0));
  pre->add_option("--weight-decay", params->optimizer.adamw.weight_decay, "AdamW's decoupled weight decay")
      ->capture_default_str();
  pre->add_option("--grad-clip", params->grad_clip)->capture_default_str();
  pre->add_option("--eval-every", params->eval_every)->capture_default_str();
  pre->add_option("--eval-problems", params->eval_problems)->capture_default_str();
  pre->add_option("--checkpoint-every", params->checkpoint_every)->capture_default_str();
  pre->add_option("--log-every", params->log_every)->capture_default_str()->check(CLI::Range(1, 1000000));
  pre->add_option("--seed", params->seed)->capture_default_str();
  pre->add_flag("--resume", params->resume, "continue from the run's latest checkpoint");
  add_runtime_options(*pre, *runtime);
  pre->callback([params, model, runtime, optimizer_name] {
    apply_runtime_options(*runtime);
    params->optimizer.kind = parse_optimizer_kind(*optimizer_name);
    params->device = runtime->device;
    const auto result = pretrain(model->resolve(), *params);
    std::printf("pretrained %lld steps, %.2fM tokens, %.0f tok/s, final loss %.4f, held-out loss %.4f\n",
                static_cast<long long>(result.steps), result.tokens / 1e6, result.tokens_per_second,
                result.final_train_loss, result.final_eval_loss);
    std::printf("%s", eval_table_markdown(result.evals).c_str());
  });

  // muse sft
  auto* sft = app.add_subcommand(
      "sft", "Supervised fine-tuning of a model directory: task examples dressed as chats, and your JSONL chats");
  struct SftOpts {
    std::string base, out;
    FineTuneStage stage;
    PretrainParams like;  // batch shape, seed, logging
    double lr = 0.0, muon_lr = 0.0;
    bool resume = false;
    RuntimeOptions runtime;
  };
  auto so = std::make_shared<SftOpts>();
  so->stage.steps = 400;
  so->stage.mixture = recipe_by_name("default").pretrain.mixture;
  so->like.batch_size = 16;
  so->like.seq_len = 256;
  so->like.checkpoint_every = 50;
  so->like.log_every = 10;
  sft->add_option("--model", so->base, "the pretrained model directory to start from")->required()
      ->check(CLI::ExistingDirectory);
  sft->add_option("--out", so->out, "run directory (becomes the fine-tuned model directory)")->required();
  sft->add_option("--mixture", so->stage.mixture,
                  "what to train on: tasks, plus 'chat' for --chat files (e.g. chat:1:3,add:1-4)")
      ->capture_default_str();
  sft->add_option("--chat", so->stage.chat_files,
                  "JSONL conversations: {\"messages\": [{\"role\": \"user\", \"content\": ...}, {\"role\": "
                  "\"assistant\", \"thinking\": ..., \"content\": ...}]} per line (~10% held out by hash)")
      ->check(CLI::ExistingFile);
  sft->add_option("--chat-share", so->stage.chat_share, "share of task examples dressed as multi-turn chats")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  sft->add_option("--budget-cut-share", so->stage.budget_cut_share,
                  "share of task examples whose reasoning is cut short before the answer (thinking budgets)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  sft->add_option("--json-answer-share", so->stage.json_answer_share,
                  "share of chat-dressed examples that ask for and answer {\"answer\": value} (API response_format)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  sft->add_flag("--train-cut-think-end", so->stage.train_cut_think_end,
                "ablation: train the forced </think> of budget-cut examples too (by default it has no loss, so the "
                "model does not learn to stop thinking early by choice)");
  sft->add_option("--steps", so->stage.steps)->capture_default_str()->check(CLI::Range(1, 100000000));
  sft->add_option("--lr-scale", so->stage.lr_scale, "peak learning rate as a multiple of the pretraining default")
      ->capture_default_str();
  sft->add_option("--lr", so->lr, "AdamW's peak learning rate (overrides --lr-scale)");
  sft->add_option("--muon-lr", so->muon_lr, "Muon's peak learning rate (overrides --lr-scale)")
      ->check(CLI::Range(1e-6, 10.0));
  sft->add_option("--warmup", so->stage.warmup_steps)->capture_default_str();
  sft->add_option("--batch-size", so->like.batch_size)->capture_default_str();
  sft->add_option("--seq-len", so->like.seq_len)->capture_default_str();
  sft->add_option("--eval-problems", so->stage.eval_problems)->capture_default_str();
  sft->add_option("--checkpoint-every", so->like.checkpoint_every)->capture_default_str();
  sft->add_option("--log-every", so->like.log_every)->capture_default_str()->check(CLI::Range(1, 1000000));
  sft->add_option("--seed", so->like.seed)->capture_default_str();
  sft->add_flag("--resume", so->resume, "continue from the run's latest checkpoint");
  add_runtime_options(*sft, so->runtime);
  sft->callback([so] {
    apply_runtime_options(so->runtime);
    auto params = fine_tune_params(so->base, so->out, so->stage, so->like);
    if (so->lr > 0) params.lr = so->lr;
    if (so->muon_lr > 0) params.optimizer.muon_lr = so->muon_lr;
    params.resume = so->resume;
    params.device = so->runtime.device;
    const auto result = muse::sft(params);
    std::printf("fine-tuned %lld steps, %.2fM tokens, %.0f tok/s, final loss %.4f, held-out loss %.4f\n",
                static_cast<long long>(result.steps), result.tokens / 1e6, result.tokens_per_second,
                result.final_train_loss, result.final_eval_loss);
    std::printf("%s", eval_table_markdown(result.evals).c_str());
  });

  // muse train --recipe
  auto* train = app.add_subcommand("train", "Run a whole named recipe: tokenizer -> pretrain -> SFT -> report");
  struct TrainOpts {
    std::string recipe = "tiny", out;
    RecipeOverrides overrides;
    RuntimeOptions runtime;
  };
  auto t = std::make_shared<TrainOpts>();
  train->add_option("--recipe", t->recipe, "tiny | default")->capture_default_str();
  train->add_option("--out", t->out, "output model directory (default: runs/RECIPE)");
  train->add_option("--steps", t->overrides.steps, "override the recipe's pretraining step count");
  train->add_option("--sft-steps", t->overrides.sft_steps, "override the recipe's fine-tuning step count");
  train->add_flag("--resume", t->overrides.resume, "continue an interrupted run in --out");
  train->add_option("--compare-with", t->overrides.compare_with,
                    "a model directory scored on the same held-out problems at the end (report: previous model)")
      ->check(CLI::ExistingDirectory);
  add_runtime_options(*train, t->runtime);
  train->callback([t] {
    apply_runtime_options(t->runtime);
    t->overrides.device = t->runtime.device;
    const auto recipe = recipe_by_name(t->recipe);
    const std::string out = t->out.empty() ? "runs/" + t->recipe : t->out;
    const auto start = std::chrono::steady_clock::now();
    const auto result = run_recipe(recipe, out, t->overrides);
    const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
    std::printf("recipe %s done in %.1f min (this run, all stages): %s (report: %s/report.md)\n%s",
                recipe.name.c_str(), minutes, out.c_str(), out.c_str(), eval_table_markdown(result.evals).c_str());
  });
}

}  // namespace muse::cli
