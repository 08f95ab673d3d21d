// Serving-engine throughput on random weights; prints markdown tables.
//   bench_engine [--shapes 1M,6M,31M] [--decode-steps N] [--concurrency 1,4,16,64] [--prompt N] [--fused 0|1]
//                [--temperature T] [--top-p P] [--torch-threads N] [--blas-threads N] [--threads N]   (--help)
//   --threads: the fused decoder's threads (EngineOptions::threads); default: --blas-threads when given, else all
//   cores.
// 1. prefill tokens/s: one 256-token prompt, one chunk;
// 2. n = 8 continuations of a 200-token prompt: one prompt + fork(7) vs 8 independent sequences (prefill time,
//    prefill tokens, prompt KV bytes after the prefill step and peak KV bytes, all measured from the engine/pool);
// 3. decode tokens/s at 1/4/16/64 concurrent sequences, the step time split into model compute (forward passes
//    incl. the logits' copy) and engine overhead (planning, slot tables, sampling, bookkeeping);
//    with --fused 1 also through the fused CPU decode path (src/engine/cpu_decode.h).
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "anchor_shapes.h"
#include "bench_cli.h"
#include "engine/engine.h"
#include "model/config.h"
#include "model/transformer.h"
#include "runtime/runtime.h"
#include "util/error.h"
#include "util/rng.h"

using namespace muse;
using muse::bench::AnchorShape;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Transformer random_model(const ModelConfig& c) {
  torch::manual_seed(1);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.05);
  model->eval();
  return model;
}

std::vector<int> random_tokens(Rng& rng, int64_t n, int64_t vocab) {
  std::vector<int> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int>(rng.uniform_int(0, vocab - 1));
  return t;
}

// Room for `sequences` requests of prompt + max_tokens tokens, rounded up to blocks, plus slack.
int g_threads = 0;  // EngineOptions::threads for every engine

EngineOptions options_for(const ModelConfig& c, int64_t sequences, int64_t tokens, bool fused) {
  EngineOptions o;
  o.threads = g_threads;
  o.block_size = 16;
  const int64_t per_token = 2 * c.n_layers * c.n_kv_heads * c.head_dim() * 4;
  o.kv_mem = (sequences * ((tokens + 15) / 16) + 4) * 16 * per_token;
  o.max_step_tokens = 4096;
  o.fused_cpu_decode = fused;
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  std::vector<std::string> shape_names = {"1M", "6M", "31M"};
  std::vector<int64_t> concurrency = {1, 4, 16, 64};
  int64_t decode_steps = 16, prompt_len = 32;
  bool fused = true;
  double temperature = 0.8, top_p = 0.95;
  ThreadParams threads{1, 0};
  constexpr int64_t kMaxSeqLen = 512;  // the models' context
  CLI::App app{"Serving-engine throughput on random weights: prefill tok/s, forks vs independent sequences, and "
               "decode tok/s by concurrency; Markdown tables on stdout",
               "bench_engine"};
  app.add_option("--shapes", shape_names, "model shapes (comma-separated)")->delimiter(',')->capture_default_str()
      ->check(muse::bench::anchor_shape_name());
  app.add_option("--decode-steps", decode_steps, "timed decode steps per concurrency level")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  app.add_option("--concurrency", concurrency, "concurrent sequences to decode (comma-separated)")->delimiter(',')
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{4096}));
  app.add_option("--prompt", prompt_len, "prompt tokens of each decoding sequence")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxSeqLen));
  app.add_option("--fused", fused, "also decode through the fused CPU path (0 or 1)")->capture_default_str();
  app.add_option("--temperature", temperature, "sampling temperature")->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-p", top_p, "nucleus sampling")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--torch-threads", threads.torch_threads, "torch intra-op threads")->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--blas-threads", threads.blas_threads, "OpenBLAS threads (0 = all cores)")->capture_default_str()
      ->check(CLI::Range(0, 256));
  int decoder_threads = -1;
  app.add_option("--threads", decoder_threads,
                 "the fused decoder's threads (-1: --blas-threads when given, else all cores)")
      ->capture_default_str()->check(CLI::Range(-1, 256));
  app.callback([&] {
    if (prompt_len + decode_steps + 4 > kMaxSeqLen)
      throw CLI::ValidationError("--prompt + --decode-steps", std::to_string(prompt_len + decode_steps) +
                                                                 " tokens (+ 4 of slack), over the models' " +
                                                                 std::to_string(kMaxSeqLen) + "-token context");
  });
  muse::bench::parse_command_line(app, argc, argv);
  configure_threads(threads);
  g_threads = decoder_threads >= 0 ? decoder_threads : threads.blas_threads;
  std::printf("%s; fused decoder threads %d\n\n", runtime_summary(torch::kCPU).c_str(), g_threads);

  std::vector<AnchorShape> shapes;
  for (const auto& name : shape_names) shapes.push_back(*muse::bench::find_anchor_shape(name));  // --shapes checked

  std::printf("| model | params | prefill tok/s (256-token prompt) |\n|---|---|---|\n");
  for (const auto& shape : shapes) {
    const auto c = muse::bench::config_of(shape, 512);
    auto model = random_model(c);
    Engine engine(model, torch::kCPU, options_for(c, 1, 258, false));
    Rng rng(1);
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      RequestParams p;
      p.sampling.max_tokens = 1;
      const auto before = engine.stats();
      engine.add(Prompt::of(random_tokens(rng, 256, c.vocab_size)), p);
      engine.run_until_idle();
      const auto after = engine.stats();
      best = std::max(best, static_cast<double>(after.prefill_tokens - before.prefill_tokens) /
                                (after.model_seconds - before.model_seconds));
    }
    std::printf("| %s | %.2fM | %.0f |\n", shape.name.c_str(), static_cast<double>(c.parameter_count()) / 1e6, best);
  }

  std::printf("\n8 continuations of one 200-token prompt, 16 new tokens each (measured from the engine and pool)\n\n");
  std::printf("| model | setup | prefill tokens | prefill step s | prompt KV after prefill | peak KV | total s |\n"
              "|---|---|---|---|---|---|---|\n");
  for (const auto& shape : shapes) {
    const auto c = muse::bench::config_of(shape, 512);
    auto model = random_model(c);
    Rng rng(2);
    const auto prompt = random_tokens(rng, 200, c.vocab_size);
    for (int forked = 1; forked >= 0; --forked) {
      Engine engine(model, torch::kCPU, options_for(c, 8, 216, false));
      RequestParams p;
      p.sampling.temperature = 1.0;
      p.sampling.max_tokens = 16;
      const auto start = Clock::now();
      if (forked) {
        const SeqId parent = engine.add(Prompt::of(prompt), p);
        engine.fork(parent, 7);
      } else {
        for (int i = 0; i < 8; ++i) {
          p.sampling.seed = static_cast<uint64_t>(i);
          engine.add(Prompt::of(prompt), p);
        }
      }
      engine.step();  // the prefill step (4096-token budget: everything in one step)
      const double prefill_s = seconds_since(start);
      const auto s1 = engine.stats();
      engine.run_until_idle();
      const double total = seconds_since(start);
      const auto s2 = engine.stats();
      std::printf("| %s | %s | %lld | %.3f | %.2f MiB | %.2f MiB | %.3f |\n", shape.name.c_str(),
                  forked ? "1 prompt + fork(7)" : "8 independent", static_cast<long long>(s1.prefill_tokens),
                  prefill_s, static_cast<double>(s1.kv_bytes_in_use) / (1 << 20),
                  static_cast<double>(s2.kv_peak_bytes) / (1 << 20), total);
    }
  }

  for (int use_fused = 0; use_fused <= (fused ? 1 : 0); ++use_fused) {
    std::printf("\nDecode, %s path: %lld-token prompts, %lld timed steps after the prefill, temperature %g, "
                "top-p %g\n\n",
                use_fused ? "fused CPU decode" : "libtorch (paged attention in TransformerImpl)",
                static_cast<long long>(prompt_len), static_cast<long long>(decode_steps), temperature, top_p);
    std::printf("| model | concurrent | decode tok/s | ms/step | model ms/step | engine ms/step | engine %% |\n"
                "|---|---|---|---|---|---|---|\n");
    for (const auto& shape : shapes) {
      const auto c = muse::bench::config_of(shape, 512);
      auto model = random_model(c);
      for (int64_t n : concurrency) {
        const int64_t max_tokens = decode_steps + 4;
        Engine engine(model, torch::kCPU, options_for(c, n, prompt_len + max_tokens, use_fused == 1));
        Rng rng(3);
        for (int64_t i = 0; i < n; ++i) {
          RequestParams p;
          p.sampling.temperature = temperature;
          p.sampling.top_p = top_p;
          p.sampling.seed = static_cast<uint64_t>(i);
          p.sampling.max_tokens = static_cast<int>(max_tokens);
          engine.add(Prompt::of(random_tokens(rng, prompt_len, c.vocab_size)), p);
        }
        engine.step();  // prefill + first token
        engine.step();  // warm-up decode step
        const auto before = engine.stats();
        const auto start = Clock::now();
        for (int64_t s = 0; s < decode_steps; ++s) engine.step();
        const double wall = seconds_since(start);
        const auto after = engine.stats();
        const double steps = static_cast<double>(after.steps - before.steps);
        const double model_s = after.model_seconds - before.model_seconds;
        const double step_s = after.step_seconds - before.step_seconds;
        const double tokens = static_cast<double>(after.decode_tokens - before.decode_tokens);
        std::printf("| %s | %lld | %.0f | %.2f | %.2f | %.2f | %.1f%% |\n", shape.name.c_str(),
                    static_cast<long long>(n), tokens / wall, 1e3 * step_s / steps, 1e3 * model_s / steps,
                    1e3 * (step_s - model_s) / steps, 100.0 * (step_s - model_s) / step_s);
        engine.run_until_idle();
      }
    }
  }
  return 0;
} catch (const std::exception& e) {
  return muse::bench::report_error("bench_engine", e);
}
