// Writes what Muse computes for fixed weights and tokens, for bench/reference_model.py --check:
//   OUT/weights.safetensors  the model's parameters (save_module_weights), before any step
//   OUT/io.safetensors       tokens, targets, positions [B,T,3], document_ids [B,T] (with --docs), logits
//                            (before training), loss and grad_norm (of the first step), logits_after (after
//                            --train-steps real training steps);
//                            metadata: config (JSON), lr, train_steps
// usage: dump_logits --out DIR [--preset tiny] [--batch 2] [--seq-len 16] [--kv-heads H] [--qk-norm]
//                    [--mrope] [--docs N] [--train-steps 3] [--seed 7]   (--help)
// The zero-initialised lm_head is replaced by random weights and the norm gains are perturbed, so every
// parameter shapes the logits. --mrope gives distinct (t, row, col) positions so all M-RoPE sections matter;
// --docs N packs N documents per row (document_ids set: attention stays inside a document, positions restart).
#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_cli.h"
#include "model/config.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/adamw.h"
#include "training/loss.h"

int main(int argc, char** argv) try {
  std::string out_dir, preset = "tiny";
  int64_t batch = 2, seq_len = 16, kv_heads = 0, train_steps = 3, seed = 7, docs = 0;
  bool qk_norm = false, mrope = false;
  CLI::App app{"Writes Muse's weights, a batch, its logits, the first training step's loss and grad norm, and the "
               "logits after --train-steps steps, for bench/reference_model.py --check",
               "dump_logits"};
  const auto positive = CLI::Range(int64_t{1}, int64_t{1} << 20);
  app.add_option("--out", out_dir, "folder to write weights.safetensors and io.safetensors into")->required();
  app.add_option("--preset", preset, "model preset")->capture_default_str()
      ->check(CLI::IsMember(muse::preset_names()));
  app.add_option("--batch", batch, "rows")->capture_default_str()->check(positive);
  app.add_option("--seq-len", seq_len, "tokens per row")->capture_default_str()->check(positive);
  app.add_option("--kv-heads", kv_heads, "grouped-query attention: kv heads (0 = the preset's)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--qk-norm", qk_norm, "RMSNorm on queries and keys");
  app.add_flag("--mrope", mrope, "distinct (t, row, col) positions, so every M-RoPE section matters");
  app.add_option("--docs", docs, "documents packed per row (document_ids set; 0 or 1 = none)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--train-steps", train_steps, "real training steps before logits_after")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed)->capture_default_str();
  app.callback([&] {
    if (docs > seq_len)
      throw CLI::ValidationError("--docs", std::to_string(docs) + " documents do not fit a row of --seq-len " +
                                               std::to_string(seq_len));
  });
  muse::bench::parse_command_line(app, argc, argv);
  muse::configure_threads({1, 0});
  auto config = muse::preset_config(preset);
  if (kv_heads > 0) config.n_kv_heads = kv_heads;
  config.qk_norm = qk_norm;
  config.max_seq_len = std::max(config.max_seq_len, seq_len);
  config.validate();

  torch::manual_seed(static_cast<uint64_t>(seed));
  muse::Transformer model(config);
  model->train();
  {
    torch::NoGradGuard no_grad;
    model->lm_head->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(config.d_model)));
    for (auto& item : model->named_parameters())
      if (item.key().find("norm") != std::string::npos) item.value().add_(at::randn_like(item.value()) * 0.1);
  }
  std::filesystem::create_directories(out_dir);
  muse::save_module_weights(*model, out_dir + "/weights.safetensors");

  const auto row = at::randint(0, config.vocab_size, {batch, seq_len + 1}, at::kLong);
  const auto tokens = row.narrow(1, 0, seq_len).clone();
  auto targets = row.narrow(1, 1, seq_len).clone();  // own storage: the fill_ below must not touch tokens
  targets.select(1, 0).fill_(-1);  // exercise ignore_index
  // t restarts at each document start; row/col are random with --mrope, equal to t otherwise (text).
  at::Tensor document_ids;
  auto t_ids = at::arange(seq_len, at::kLong).expand({batch, seq_len}).clone();
  if (docs > 1) {
    document_ids = at::zeros({batch, seq_len}, at::kLong);
    for (int64_t r = 0; r < batch; ++r) {
      const auto cuts = std::get<0>(at::sort(at::randperm(seq_len - 1, at::kLong).narrow(0, 0, docs - 1) + 1));
      int64_t id = 0, start = 0, next_cut = 0;
      for (int64_t t = 0; t < seq_len; ++t) {
        if (next_cut < docs - 1 && cuts[next_cut].item<int64_t>() == t) ++id, start = t, ++next_cut;
        document_ids[r][t] = id;
        t_ids[r][t] = t - start;
        if (t > 0 && document_ids[r][t].item<int64_t>() != document_ids[r][t - 1].item<int64_t>())
          targets[r][t - 1] = -1;
      }
    }
  } else if (docs == 1) {
    document_ids = at::zeros({batch, seq_len}, at::kLong);
  }
  const auto positions =
      mrope ? at::stack({t_ids, at::randint(0, 8, {batch, seq_len}, at::kLong),
                         at::randint(0, 8, {batch, seq_len}, at::kLong)}, -1).contiguous()
            : t_ids.unsqueeze(-1).expand({batch, seq_len, 3}).contiguous();
  const muse::ModelInput input{tokens, positions, document_ids};

  at::Tensor logits_before;
  {
    torch::NoGradGuard no_grad;
    logits_before = model->forward(input).clone();
  }
  muse::AdamW optimizer(*model, muse::AdamWParams{});
  const double lr = muse::default_learning_rate(config);
  double first_loss = 0, first_norm = 0;
  for (int64_t s = 0; s < train_steps; ++s) {
    const auto logits = model->forward(input);
    const auto loss = muse::language_model_loss(logits, targets, config.z_loss);
    loss.total.backward();
    const double l = loss.cross_entropy.item<double>();
    const double norm = muse::clip_grad_norm(*model, 1.0);
    if (s == 0) first_loss = l, first_norm = norm;
    optimizer.step(lr);
    optimizer.zero_grad();
  }
  at::Tensor logits_after;
  {
    torch::NoGradGuard no_grad;
    logits_after = model->forward(input);
  }
  nlohmann::json config_json = config;
  char lr_text[32];
  std::snprintf(lr_text, sizeof lr_text, "%.17g", lr);
  std::map<std::string, at::Tensor> io = {{"tokens", tokens},
                         {"targets", targets},
                         {"positions", positions},
                         {"logits", logits_before},
                         {"logits_after", logits_after},
                         {"loss", at::tensor({first_loss}, at::kFloat)},
                         {"grad_norm", at::tensor({first_norm}, at::kFloat)}};
  if (document_ids.defined()) io["document_ids"] = document_ids;
  muse::save_tensor_map(io, out_dir + "/io.safetensors",
                        {{"config", config_json.dump()},
                         {"lr", lr_text},
                         {"train_steps", std::to_string(train_steps)}});
  std::printf("wrote %s/weights.safetensors and %s/io.safetensors (%s, B%lld T%lld, loss %.6f, grad norm %.6f)\n",
              out_dir.c_str(), out_dir.c_str(), config.preset.c_str(), static_cast<long long>(batch),
              static_cast<long long>(seq_len), first_loss, first_norm);
  return 0;
} catch (const std::exception& e) {
  return muse::bench::report_error("dump_logits", e);
}
