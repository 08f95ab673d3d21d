// Decode throughput: libtorch eager (Transformer::forward with its KVCache) vs the fused CPU path (CpuDecoder
// over a paged pool), for random-weight models of the ~1M, ~6M and ~31M shapes that ../shared/ANCHORS.md measures
// llama.cpp on. Each sequence starts with --context tokens in cache and decodes --steps more (64 -> 128 by
// default). Variants run interleaved, --repeats times, with OpenBLAS on 1 and on 2 threads; the table shows
// medians, the fused/eager ratio, the ratio to llama.cpp's anchors and where the fused path's time goes.
//   bench_decode [--shapes 1M,6M,31M] [--batches 1,4,16,64] [--context 64] [--steps 64] [--repeats 5]  (--help)
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <ctime>
#include <vector>

#include "anchor_shapes.h"
#include "bench_cli.h"
#include "engine/cpu_decode.h"
#include "model/transformer.h"
#include "runtime/runtime.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

using namespace muse;
using muse::bench::AnchorShape;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

using Clock = std::chrono::steady_clock;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Tokens per wall-clock second, and per CPU-second of this process (all its threads). On a shared machine the
// second shows what a single-threaded variant would do with a core to itself (less cache and memory contention).
struct Rate {
  double wall = 0, cpu = 0;
};

struct Timer {
  Clock::time_point wall = Clock::now();
  double cpu = process_cpu_seconds();
  Rate rate(double tokens) const {
    return {tokens / std::chrono::duration<double>(Clock::now() - wall).count(), tokens / (process_cpu_seconds() - cpu)};
  }
};

// One batch size of one shape: the eager cache and the pool both hold the same prefilled context.
struct Bench {
  ModelConfig config;
  Transformer model;
  int64_t n, context, steps;
  KVCache cache;
  std::vector<torch::Tensor> eager_tokens, eager_positions;  // per step: [n, 1], [n, 1, 3]
  std::vector<std::vector<int64_t>> step_tokens;              // per step: n ids
  std::vector<torch::Tensor> pool_keys, pool_values;
  KVPoolView pool;
  std::vector<SequenceKV> seqs;
  CpuDecoder decoder;
  CpuDecoder decoder2;  // 2 threads

  Bench(const ModelConfig& c, Transformer m, int64_t n_, int64_t context_, int64_t steps_, std::mt19937& rng)
      : config(c), model(std::move(m)), n(n_), context(context_), steps(steps_), decoder(*model), decoder2(*model, 2) {
    torch::NoGradGuard no_grad;
    std::uniform_int_distribution<int64_t> token(0, c.vocab_size - 1);
    const int64_t total = context + steps;
    cache = KVCache::allocate(c, n, total, torch::kCPU);
    auto prompt = torch::randint(c.vocab_size, {n, context}, torch::kInt64);
    model->forward({prompt, text_positions(0, context, torch::kCPU).expand({n, context, 3}).contiguous()}, &cache);
    for (int64_t i = 0; i < steps; ++i) {
      std::vector<int64_t> ids;
      for (int64_t s = 0; s < n; ++s) ids.push_back(token(rng));
      eager_tokens.push_back(torch::tensor(ids, torch::kInt64).view({n, 1}));
      eager_positions.push_back(text_positions(context + i, 1, torch::kCPU).expand({n, 1, 3}).contiguous());
      step_tokens.push_back(ids);
    }
    // Pool blocks interleaved across sequences (sequence s owns blocks s, s + n, s + 2n, ...): non-contiguous.
    const int64_t block_size = 16, per_seq = (total + block_size - 1) / block_size;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      pool_keys.push_back(torch::zeros({n * per_seq, block_size, c.n_kv_heads, c.head_dim()}));
      pool_values.push_back(torch::zeros({n * per_seq, block_size, c.n_kv_heads, c.head_dim()}));
    }
    pool = KVPoolView::of(pool_keys, pool_values);
    seqs.resize(static_cast<size_t>(n));
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t b = 0; b < per_seq; ++b) seqs[s].block_table.push_back(static_cast<int32_t>(b * n + s));
      store_kv_cache(cache, s, context, seqs[s], pool);
    }
  }

  // GB/s of a plain sequential read (sum) of the keys/values the fused path's attention reads per step: the
  // memory-speed reference for its attention.
  double stream_read() {
    const auto start = Clock::now();
    float sum = 0.0f;
    for (int64_t i = 0; i < steps; ++i)
      for (int64_t l = 0; l < config.n_layers; ++l)
        for (const auto* t : {&pool_keys[l], &pool_values[l]}) {
          const float* p = t->data_ptr<float>();
          const int64_t count = t->numel() * (context + i) / (context + steps);  // about the filled part
          float acc[16] = {};
          for (int64_t j = 0; j + 16 <= count; j += 16)
            for (int k = 0; k < 16; ++k) acc[k] += p[j + k];
          for (float a : acc) sum += a;
        }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (sum == 12345.0f) std::fprintf(stderr, " ");  // keeps the loop
    return attention_bytes() / seconds * 1e-9;
  }
  // Bytes of keys and values attention reads over one run (all steps).
  double attention_bytes() const {
    double tokens = 0;
    for (int64_t i = 0; i < steps; ++i) tokens += static_cast<double>(context + i + 1);
    return tokens * static_cast<double>(n * config.n_layers * 2 * config.n_kv_heads * config.head_dim() * 4);
  }

  Rate eager() {
    torch::NoGradGuard no_grad;
    cache.length = context;
    const Timer timer;
    for (int64_t i = 0; i < steps; ++i) model->forward({eager_tokens[i], eager_positions[i]}, &cache);
    return timer.rate(static_cast<double>(n * steps));
  }

  Rate fused(CpuDecoder& decoder) {
    for (auto& s : seqs) s.length = context;
    std::vector<DecodeRequest> requests(static_cast<size_t>(n));
    const Timer timer;
    for (int64_t i = 0; i < steps; ++i) {
      for (int64_t s = 0; s < n; ++s) {
        const int64_t p = context + i;
        requests[s] = {step_tokens[i][s], {p, p, p}, &seqs[s], nullptr};
      }
      decoder.step(requests.data(), n, pool);
      for (auto& s : seqs) s.length += 1;
    }
    return timer.rate(static_cast<double>(n * steps));
  }
};

}  // namespace

int main(int argc, char** argv) try {
  std::vector<std::string> shapes = {"1M", "6M", "31M"};
  std::vector<int64_t> batches = {1, 4, 16, 64};
  int64_t context = 64, steps = 64, repeats = 5;
  constexpr int64_t kMaxSeqLen = 1024;  // the models' context
  CLI::App app{"Decode tok/s on random weights: libtorch eager vs the fused CPU path, per shape and batch size, "
               "with OpenBLAS on 1 and 2 threads; Markdown tables on stdout (minutes with the defaults)",
               "bench_decode"};
  app.add_option("--shapes", shapes, "model shapes (comma-separated)")->delimiter(',')->capture_default_str()
      ->check(muse::bench::anchor_shape_name());
  app.add_option("--batches", batches, "concurrent sequences per run (comma-separated)")->delimiter(',')
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{4096}));
  app.add_option("--context", context, "tokens already in the cache when decoding starts")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxSeqLen - 1));
  app.add_option("--steps", steps, "tokens decoded per sequence")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxSeqLen - 1));
  app.add_option("--repeats", repeats, "interleaved repeats (the table shows medians)")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  app.callback([&] {
    if (context + steps > kMaxSeqLen)
      throw CLI::ValidationError("--context + --steps", std::to_string(context + steps) +
                                                             " tokens, over the models' " +
                                                             std::to_string(kMaxSeqLen) + "-token context");
  });
  muse::bench::parse_command_line(app, argc, argv);
  configure_threads({1, 0});
  std::printf("OpenBLAS core: %s; context %lld -> %lld tokens; medians of %lld interleaved repeats\n\n",
              openblas_get_corename(), static_cast<long long>(context), static_cast<long long>(context + steps),
              static_cast<long long>(repeats));

  // Variants, run interleaved in this order in every repeat.
  struct Variant {
    std::string name;
    bool fused;
    int blas_threads;
    int64_t kernel_max_rows;  // fused only: the built-in GEMM kernel up to this many rows, OpenBLAS above; -1:
                              // measured per product and batch size (CpuDecoder::kernel_max_rows)
    int threads = 1;          // fused only: the decoder's own threads
  };
  const std::vector<Variant> variants = {
      {"eager, BLAS 1 thr", false, 1, 0},      {"eager, BLAS 2 thr", false, 2, 0},
      {"fused, kernel (1 thr)", true, 1, 1 << 30}, {"fused, BLAS 1 thr", true, 1, 0},
      {"fused, BLAS 2 thr", true, 2, 0},
      {"fused, measured 1 thr", true, 1, -1, 1},  {"fused, measured 2 thr", true, 1, -1, 2},
  };
  const size_t kEager1 = 0, kEager2 = 1, kKernel = 2, kBlas1 = 3, kBlas2 = 4, kMeasured1 = 5, kMeasured2 = 6;
  struct Row {
    std::string shape;
    int64_t n;
    std::vector<double> tok_s, cpu_tok_s;  // per variant, medians
    std::vector<DecodeTimings> split;    // per variant, summed over repeats (fused only)
    double gflop_per_token, attention_gbs, stream_gbs;
    const AnchorShape* anchor;
  };
  std::vector<Row> rows;
  std::mt19937 rng(1234);
  for (const auto& name : shapes) {
    const AnchorShape* it = muse::bench::find_anchor_shape(name);  // known: --shapes checks the names
    const auto config = muse::bench::config_of(*it, 1024);
    torch::manual_seed(7);
    Transformer model(config);
    {
      torch::NoGradGuard no_grad;
      model->lm_head->weight.normal_(0.0, 0.02);  // the init zeroes it
    }
    for (const int64_t n : batches) {
      Bench bench(config, model, n, context, steps, rng);
      std::vector<std::vector<double>> tok_s(variants.size()), cpu_tok_s(variants.size());
      std::vector<DecodeTimings> split(variants.size());
      std::vector<double> stream;
      for (int64_t r = -1; r < repeats; ++r) {  // r = -1: warm-up
        for (size_t v = 0; v < variants.size(); ++v) {
          const auto& variant = variants[v];
          openblas_set_num_threads(variant.blas_threads);
          Rate t;
          if (variant.fused) {
            CpuDecoder& decoder = variant.threads == 2 ? bench.decoder2 : bench.decoder;
            // Measured variants: the warm-up run (r = -1) makes the choices, the timed ones use them.
            decoder.kernel_max_rows = variant.kernel_max_rows;
            decoder.profile = true;
            decoder.timings = {};
            t = bench.fused(decoder);
            if (r >= 0) {
              auto& acc = split[v];
              const auto& d = decoder.timings;
              acc.gemm_s += d.gemm_s, acc.attention_s += d.attention_s, acc.other_s += d.other_s;
              acc.steps += d.steps, acc.tokens += d.tokens;
            }
          } else {
            t = bench.eager();
          }
          if (r >= 0) tok_s[v].push_back(t.wall), cpu_tok_s[v].push_back(t.cpu);
        }
        if (r >= 0) stream.push_back(bench.stream_read());
      }
      std::fprintf(stderr, "%s N=%lld measured choices (1 thread):\n%s%s N=%lld measured choices (2 threads):\n%s",
                   name.c_str(), static_cast<long long>(n), bench.decoder.kernel_choices().c_str(), name.c_str(),
                   static_cast<long long>(n), bench.decoder2.kernel_choices().c_str());
      Row row{name, n, {}, {}, split, 0.0, 0.0, median(stream), it};
      for (auto& v : tok_s) row.tok_s.push_back(median(v));
      for (auto& v : cpu_tok_s) row.cpu_tok_s.push_back(median(v));
      // Weight FLOPs (all but the embedding lookup) + attention over the average context.
      const double weights = static_cast<double>(config.parameter_count() - config.vocab_size * config.d_model);
      row.gflop_per_token = (2.0 * weights + 4.0 * config.n_layers * config.d_model * (context + steps / 2.0)) * 1e-9;
      row.attention_gbs = bench.attention_bytes() * static_cast<double>(repeats) / split[kKernel].attention_s * 1e-9;
      rows.push_back(row);
      std::fprintf(stderr, "%s N=%lld:", name.c_str(), static_cast<long long>(n));
      for (size_t v = 0; v < variants.size(); ++v) std::fprintf(stderr, "  %s %.0f", variants[v].name.c_str(), row.tok_s[v]);
      std::fprintf(stderr, " tok/s\n");
    }
  }

  std::printf("Decode tok/s (all sequences together):\n\n| shape | N |");
  for (const auto& v : variants) std::printf(" %s |", v.name.c_str());
  std::printf(" best fused / best eager | fused GFLOP/s | llama.cpp 1 / 2 thr | fused / llama.cpp, 1 thr | "
              "fused / llama.cpp, 2 thr |\n|---|---:|");
  for (size_t v = 0; v < variants.size(); ++v) std::printf("---:|");
  std::printf("---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    const double best_eager = std::max(r.tok_s[kEager1], r.tok_s[kEager2]);
    const double best_fused1 = std::max({r.tok_s[kKernel], r.tok_s[kBlas1], r.tok_s[kMeasured1]});  // one thread
    const double best_fused = std::max({best_fused1, r.tok_s[kBlas2], r.tok_s[kMeasured2]});
    const double* llama = r.n == 1 ? r.anchor->llama_1seq : (r.n == 16 ? r.anchor->llama_16seq : nullptr);
    char anchor[64] = "-", ratio1[32] = "-", ratio2[32] = "-";
    if (llama) {
      std::snprintf(anchor, sizeof anchor, "%.0f / %.0f", llama[0], llama[1]);
      std::snprintf(ratio1, sizeof ratio1, "%.2f", best_fused1 / llama[0]);
      std::snprintf(ratio2, sizeof ratio2, "%.2f", best_fused / llama[1]);
    }
    std::printf("| %s | %lld |", r.shape.c_str(), static_cast<long long>(r.n));
    for (double t : r.tok_s) std::printf(" %.0f |", t);
    std::printf(" %.2f | %.1f | %s | %s | %s |\n", best_fused / best_eager, best_fused * r.gflop_per_token, anchor,
                ratio1, ratio2);
  }
  std::printf("\nThe 1-thread variants per CPU-second of the process (what a core to itself would give; tok/s):\n\n"
              "| shape | N | eager | fused, kernel | fused, BLAS | fused kernel / eager | kernel / llama.cpp 1 thr |\n"
              "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    const double* llama = r.n == 1 ? r.anchor->llama_1seq : (r.n == 16 ? r.anchor->llama_16seq : nullptr);
    char ratio[32] = "-";
    if (llama) std::snprintf(ratio, sizeof ratio, "%.2f", r.cpu_tok_s[kKernel] / llama[0]);
    std::printf("| %s | %lld | %.0f | %.0f | %.0f | %.2f | %s |\n", r.shape.c_str(), static_cast<long long>(r.n),
                r.cpu_tok_s[kEager1], r.cpu_tok_s[kKernel], r.cpu_tok_s[kBlas1], r.cpu_tok_s[kKernel] / r.cpu_tok_s[kEager1],
                ratio);
  }
  std::printf("\nFused path, where a token's time goes (us per token; GEMM / attention / rest):\n\n"
              "| shape | N | kernel (1 thr) | BLAS 1 thr | BLAS 2 thr | measured 1 thr | measured 2 thr | "
              "attention reads KV at GB/s (plain read) |\n|---|---:|---|---|---|---|---|---:|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %lld |", r.shape.c_str(), static_cast<long long>(r.n));
    for (size_t v : {kKernel, kBlas1, kBlas2, kMeasured1, kMeasured2}) {
      const auto& t = r.split[v];
      const double us = 1e6 / std::max<double>(static_cast<double>(t.tokens), 1.0);
      std::printf(" %.1f / %.1f / %.1f |", t.gemm_s * us, t.attention_s * us, t.other_s * us);
    }
    std::printf(" %.1f (%.1f) |\n", r.attention_gbs, r.stream_gbs);
  }
  return 0;
} catch (const std::exception& e) {
  return muse::bench::report_error("bench_decode", e);
}
