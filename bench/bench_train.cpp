// Training-step throughput of the real Muse step on random tokens; prints one JSON line.
//   bench_train [--preset tiny|small|base] [--batch B] [--seq-len T] [--warmup W] [--steps N]
//               [--depth D] [--qk-norm] [--optimizer adamw|muon] [--profile TRACE.json]
//               [--docs N] [--kv-heads H] [--seed S] [--torch-threads N] [--blas-threads N]   (--help)
// One step is exactly what pretrain() does per step with grad_accum 1: forward, language_model_loss,
// backward, loss.item(), clip_grad_norm(1.0), optimizer step (AdamW by default, as the Python reference; --optimizer
// muon: Muon on the hidden matrices, timed separately as ms_optimizer_median), zero_grad. Batches are generated before timing and
// look like pretrain's packed rows: --docs N documents per row (default 4) at random boundaries, positions
// restarting per document, document_ids set (attention stays inside a document), target -1 where the next
// token belongs to another document. --docs 0: no document_ids (plain causal mask), positions 0..T-1.
// bench/reference_model.py --bench prints the same JSON for the same model in Python PyTorch.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bench_cli.h"
#include "model/config.h"
#include "model/fused_ops.h"
#include "model/transformer.h"
#include "runtime/runtime.h"
#include "training/optimizer.h"
#include "training/loss.h"
#include "util/error.h"

extern "C" int openblas_get_num_threads(void);
extern "C" char* openblas_get_corename(void);

namespace {

struct Args {
  std::string preset = "tiny";
  int depth = 0;  // > 0: config_for_depth(depth) instead of the preset
  bool qk_norm = false;
  std::string optimizer = "adamw";
  bool fused = true;
  std::string profile;  // chrome-trace JSON of the timed steps (bench/profile_summary.py reads it)
  int64_t batch = 64, seq_len = 64, warmup = 3, steps = 10, docs = 4, kv_heads = 0, seed = 1234;
  muse::ThreadParams threads{1, 0};
};

Args parse(int argc, char** argv) {
  Args a;
  CLI::App app{"Training-step throughput of the real Muse step (forward, loss, backward, clip, AdamW) on random "
               "packed rows; prints one JSON line",
               "bench_train"};
  const auto positive = CLI::Range(int64_t{1}, int64_t{1} << 30);
  app.add_option("--preset", a.preset, "model preset")->capture_default_str()
      ->check(CLI::IsMember(muse::preset_names()));
  app.add_option("--depth", a.depth, "model from the depth dial instead of --preset (0 = use the preset)")
      ->capture_default_str()->check(CLI::Range(0, 48));
  app.add_flag("--qk-norm", a.qk_norm, "RMSNorm on queries and keys");
  app.add_option("--optimizer", a.optimizer, "adamw | muon")->capture_default_str()
      ->check(CLI::IsMember({"adamw", "muon"}));
  app.add_flag("!--no-fused", a.fused, "composite ATen RMSNorm and SwiGLU instead of the fused CPU kernels");
  app.add_option("--profile", a.profile, "write a chrome trace of the timed steps to this file");
  app.add_option("--batch", a.batch, "rows per step")->capture_default_str()->check(positive);
  app.add_option("--seq-len", a.seq_len, "tokens per row")->capture_default_str()->check(positive);
  app.add_option("--warmup", a.warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--steps", a.steps, "timed steps")->capture_default_str()->check(positive);
  app.add_option("--docs", a.docs, "documents packed per row (0 = plain causal rows, no document_ids)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--kv-heads", a.kv_heads, "grouped-query attention: kv heads (0 = the preset's)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--seed", a.seed)->capture_default_str();
  app.add_option("--torch-threads", a.threads.torch_threads, "torch intra-op threads")->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--blas-threads", a.threads.blas_threads, "OpenBLAS threads (0 = all cores)")->capture_default_str()
      ->check(CLI::Range(0, 256));
  app.callback([&a] {
    if (a.docs > a.seq_len)
      throw CLI::ValidationError("--docs", std::to_string(a.docs) + " documents do not fit a row of --seq-len " +
                                               std::to_string(a.seq_len));
  });
  muse::bench::parse_command_line(app, argc, argv);
  return a;
}

struct Batch {
  at::Tensor tokens, targets, positions, document_ids;
};

// Random packed rows like PretrainData::batch: `docs` documents per row with random lengths.
Batch random_batch(int64_t vocab, int64_t B, int64_t T, int64_t docs) {
  Batch b;
  const auto row = at::randint(0, vocab, {B, T + 1}, at::kLong);
  b.tokens = row.narrow(1, 0, T).clone();
  b.targets = row.narrow(1, 1, T).clone();
  if (docs == 0) {
    b.positions = muse::text_positions(0, T, torch::kCPU).expand({B, T, 3}).contiguous();
    return b;
  }
  b.document_ids = at::empty({B, T}, at::kLong);
  b.positions = at::empty({B, T, 3}, at::kLong);
  auto* doc = b.document_ids.data_ptr<int64_t>();
  auto* pos = b.positions.data_ptr<int64_t>();
  auto* tgt = b.targets.data_ptr<int64_t>();
  for (int64_t r = 0; r < B; ++r) {
    // docs-1 distinct cut points in 1..T-1: a document starts at each.
    std::vector<bool> starts(static_cast<size_t>(T), false);
    const auto cuts = at::randperm(T - 1, at::kLong).narrow(0, 0, docs - 1) + 1;
    for (int64_t i = 0; i < docs - 1; ++i) starts[static_cast<size_t>(cuts[i].item<int64_t>())] = true;
    int64_t id = 0, start = 0;
    for (int64_t t = 0; t < T; ++t) {
      if (starts[static_cast<size_t>(t)]) ++id, start = t;
      const int64_t k = r * T + t;
      doc[k] = id;
      pos[3 * k] = pos[3 * k + 1] = pos[3 * k + 2] = t - start;
      if (t + 1 < T && starts[static_cast<size_t>(t + 1)]) tgt[k] = -1;  // next token starts another document
    }
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  muse::configure_threads(args.threads);
  muse::set_fused_ops_enabled(args.fused);

  auto config = args.depth > 0 ? muse::config_for_depth(args.depth) : muse::preset_config(args.preset);
  config.qk_norm = args.qk_norm;
  if (args.kv_heads > 0) config.n_kv_heads = args.kv_heads;
  config.max_seq_len = std::max(config.max_seq_len, args.seq_len);
  config.validate();

  torch::manual_seed(static_cast<uint64_t>(args.seed));
  muse::Transformer model(config);
  model->train();
  muse::OptimizerParams optimizer_params;
  optimizer_params.kind = muse::parse_optimizer_kind(args.optimizer);
  muse::Optimizer optimizer(*model, optimizer_params);
  const double lr = muse::default_learning_rate(config);
  const double grad_clip = 1.0;

  const int64_t B = args.batch, T = args.seq_len;
  std::vector<Batch> batches;
  for (int64_t i = 0; i < args.warmup + args.steps; ++i)
    batches.push_back(random_batch(config.vocab_size, B, T, args.docs));

  std::vector<double> step_ms, optimizer_ms;
  std::vector<double> losses;
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profiler;
  for (int64_t i = 0; i < args.warmup + args.steps; ++i) {
    if (i == args.warmup && !args.profile.empty())
      profiler = std::make_unique<torch::autograd::profiler::RecordProfile>(args.profile);
    const auto start = std::chrono::steady_clock::now();
    const auto& b = batches[static_cast<size_t>(i)];
    const auto logits = model->forward({b.tokens, b.positions, b.document_ids});
    const auto loss = muse::language_model_loss(logits, b.targets, config.z_loss);
    loss.total.backward();
    losses.push_back(loss.cross_entropy.item<double>());
    muse::clip_grad_norm(*model, grad_clip);
    const auto optimizer_start = std::chrono::steady_clock::now();
    optimizer.step(lr, optimizer_params.muon_lr);
    optimizer.zero_grad();
    const auto end = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(end - start).count();
    if (i >= args.warmup) {
      step_ms.push_back(ms);
      optimizer_ms.push_back(std::chrono::duration<double, std::milli>(end - optimizer_start).count());
    }
  }

  profiler.reset();  // writes the trace
  double total_ms = 0;
  for (double ms : step_ms) total_ms += ms;
  auto sorted = step_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median_ms = sorted[sorted.size() / 2];
  std::sort(optimizer_ms.begin(), optimizer_ms.end());
  const double optimizer_median_ms = optimizer_ms[optimizer_ms.size() / 2];
  const double tokens_per_s = static_cast<double>(B * T * args.steps) / (total_ms / 1e3);
  const double flops_per_token = config.train_flops_per_token(T);
  nlohmann::json out = {{"impl", "cpp"},
                        {"preset", config.preset},
                        {"batch", B},
                        {"seq_len", T},
                        {"docs", args.docs},
                        {"n_kv_heads", config.n_kv_heads},
                        {"params", config.parameter_count()},
                        {"flops_per_token", flops_per_token},
                        {"warmup", args.warmup},
                        {"steps", args.steps},
                        {"tokens_per_s", tokens_per_s},
                        {"ms_per_step", total_ms / static_cast<double>(args.steps)},
                        {"ms_per_step_median", median_ms},
                        {"optimizer", args.optimizer},
                        {"fused", args.fused},
                        {"ms_optimizer_median", optimizer_median_ms},
                        {"gflops", tokens_per_s * flops_per_token / 1e9},
                        {"loss_first", losses.front()},
                        {"loss_last", losses.back()},
                        {"torch_threads", at::get_num_threads()},
                        {"blas_threads", openblas_get_num_threads()},
                        {"blas_core", openblas_get_corename()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  return muse::bench::report_error("bench_train", e);
}
