// How fast the task world renders training data: milliseconds per document for each task (with its images
// patchified and tokens rendered) and per packed batch of the default recipe's mixture. Compare with the
// training step time in docs/PERFORMANCE.md: the prefetch thread hides data work shorter than a step.
// Usage: bench_data [TOKENIZER_MODEL]   (default: models/default/tokenizer.model; --help)
#include <chrono>
#include <cstdio>
#include <string>

#include "bench_cli.h"
#include "runtime/runtime.h"
#include "training/pretrain_data.h"
#include "training/recipe.h"

using namespace muse;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) try {
  std::string tokenizer_path = "models/default/tokenizer.model";
  CLI::App app{"Data generation cost: ms per document for each task of the default recipe's mixture (images "
               "patchified, tokens rendered) and per packed batch; a Markdown table on stdout",
               "bench_data"};
  app.add_option("tokenizer", tokenizer_path, "the tokenizer.model to render tokens with")->capture_default_str();
  muse::bench::parse_command_line(app, argc, argv);
  configure_threads({1, 1});
  const auto tokenizer = Tokenizer::load(tokenizer_path);
  const auto recipe = recipe_by_name("default");
  std::printf("| source | documents or batches | ms each | tokens each |\n|---|---|---|---|\n");
  for (const auto& entry : parse_mixture(recipe.pretrain.mixture)) {
    PretrainData data(tokenizer, {entry}, {}, {}, {});
    Rng rng(1);
    const int n = 300;
    size_t tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) tokens += data.document(rng).size();
    std::printf("| %s:%d-%d | %d | %.3f | %.0f |\n", entry.task.c_str(), entry.min_difficulty, entry.max_difficulty, n,
                1e3 * seconds_since(start) / n, static_cast<double>(tokens) / n);
  }
  PretrainData data(tokenizer, parse_mixture(recipe.pretrain.mixture), {}, {}, {});
  const int batches = 20;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < batches; ++i) data.batch(1, i, 0, recipe.pretrain.batch_size, recipe.pretrain.seq_len);
  std::printf("| default mixture, batch %lldx%lld | %d | %.1f | %lld |\n", (long long)recipe.pretrain.batch_size,
              (long long)recipe.pretrain.seq_len, batches, 1e3 * seconds_since(start) / batches,
              (long long)(recipe.pretrain.batch_size * recipe.pretrain.seq_len));
  return 0;
} catch (const std::exception& e) {
  return muse::bench::report_error("bench_data", e);
}
