// Training-step throughput of the real Muse step on random tokens; prints one JSON line.
//   bench_train [--preset tiny|small|base] [--batch B] [--seq-len T] [--warmup W] [--steps N]
//               [--docs N] [--kv-heads H] [--seed S] [--torch-threads N] [--blas-threads N]
// One step is exactly what pretrain() does per step with grad_accum 1: forward, language_model_loss,
// backward, loss.item(), clip_grad_norm(1.0), AdamW step, zero_grad. Batches are generated before timing and
// look like pretrain's packed rows: --docs N documents per row (default 4) at random boundaries, positions
// restarting per document, document_ids set (attention stays inside a document), target -1 where the next
// token belongs to another document. --docs 0: no document_ids (plain causal mask), positions 0..T-1.
// bench/reference_model.py --bench prints the same JSON for the same model in Python PyTorch.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/transformer.h"
#include "runtime/runtime.h"
#include "training/adamw.h"
#include "training/loss.h"
#include "util/error.h"

extern "C" int openblas_get_num_threads(void);
extern "C" char* openblas_get_corename(void);

namespace {

struct Args {
  std::string preset = "tiny";
  int64_t batch = 64, seq_len = 64, warmup = 3, steps = 10, docs = 4, kv_heads = 0, seed = 1234;
  muse::ThreadParams threads{1, 0};
};

[[noreturn]] void usage(const std::string& error) {
  std::fprintf(stderr,
               "bench_train: %s\nusage: bench_train [--preset tiny|small|base] [--batch B] [--seq-len T] "
               "[--warmup W] [--steps N] [--docs N] [--kv-heads H] [--seed S] [--torch-threads N] [--blas-threads N]\n",
               error.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    const auto eq = flag.find('=');
    if (eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--help" || flag == "-h") {
      usage("help");
    } else {
      if (i + 1 >= argc) usage("missing value for " + flag);
      value = argv[++i];
    }
    auto integer = [&]() -> int64_t {
      char* end = nullptr;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0') usage("not an integer for " + flag + ": " + value);
      return v;
    };
    if (flag == "--preset") a.preset = value;
    else if (flag == "--batch") a.batch = integer();
    else if (flag == "--seq-len") a.seq_len = integer();
    else if (flag == "--warmup") a.warmup = integer();
    else if (flag == "--steps") a.steps = integer();
    else if (flag == "--docs") a.docs = integer();
    else if (flag == "--kv-heads") a.kv_heads = integer();
    else if (flag == "--seed") a.seed = integer();
    else if (flag == "--torch-threads") a.threads.torch_threads = static_cast<int>(integer());
    else if (flag == "--blas-threads") a.threads.blas_threads = static_cast<int>(integer());
    else usage("unknown flag " + flag);
  }
  if (a.batch <= 0 || a.seq_len <= 0 || a.steps <= 0 || a.warmup < 0) usage("batch, seq-len, steps must be > 0");
  if (a.docs < 0 || a.docs > a.seq_len) usage("--docs must be in [0, seq-len]");
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

  auto config = muse::preset_config(args.preset);
  if (args.kv_heads > 0) config.n_kv_heads = args.kv_heads;
  config.max_seq_len = std::max(config.max_seq_len, args.seq_len);
  config.validate();

  torch::manual_seed(static_cast<uint64_t>(args.seed));
  muse::Transformer model(config);
  model->train();
  muse::AdamW optimizer(*model, muse::AdamWParams{});
  const double lr = muse::default_learning_rate(config);
  const double grad_clip = 1.0;

  const int64_t B = args.batch, T = args.seq_len;
  std::vector<Batch> batches;
  for (int64_t i = 0; i < args.warmup + args.steps; ++i)
    batches.push_back(random_batch(config.vocab_size, B, T, args.docs));

  std::vector<double> step_ms;
  std::vector<double> losses;
  for (int64_t i = 0; i < args.warmup + args.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto& b = batches[static_cast<size_t>(i)];
    const auto logits = model->forward({b.tokens, b.positions, b.document_ids});
    const auto loss = muse::language_model_loss(logits, b.targets, config.z_loss);
    loss.total.backward();
    losses.push_back(loss.cross_entropy.item<double>());
    muse::clip_grad_norm(*model, grad_clip);
    optimizer.step(lr);
    optimizer.zero_grad();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= args.warmup) step_ms.push_back(ms);
  }

  double total_ms = 0;
  for (double ms : step_ms) total_ms += ms;
  auto sorted = step_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median_ms = sorted[sorted.size() / 2];
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
                        {"gflops", tokens_per_s * flops_per_token / 1e9},
                        {"loss_first", losses.front()},
                        {"loss_last", losses.back()},
                        {"torch_threads", at::get_num_threads()},
                        {"blas_threads", openblas_get_num_threads()},
                        {"blas_core", openblas_get_corename()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train: %s\n", e.what());
  return 1;
}
