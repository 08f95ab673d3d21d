// fp32 GEMM throughput through at::mm (OpenBLAS underneath), the ceiling for everything the model does.
//   bench_gemm [--torch-threads N] [--blas-threads N] [google-benchmark flags]   (--help)
// "square/N": N x N x N in fp32 (compare_train.sh takes the best as the GEMM peak).
// "square_bf16/N": the same in bf16 (oneDNN, not OpenBLAS: what CPU autocast would run).
// "train/<preset>/<layer>/<kind>": the matrix products of one training step of tiny (B64 T64) and small
//   (B16 T128): linear forward x·Wᵀ, backward-data g·W, backward-weight gᵀ·x; "attn_scores" is q·kᵀ per head.
// "train_bf16/small/...": the small forward products in bf16.
// Each reports a rate counter "GFLOP" (printed as GFLOP=…/s; in --benchmark_format=json its value is GFLOP/s),
// counting 2·M·N·K per product. Wall time (UseRealTime), because OpenBLAS runs its own threads.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_cli.h"
#include "model/config.h"
#include "runtime/runtime.h"

namespace {

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP"] = benchmark::Counter(flops_per_iter / 1e9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

void BM_square(benchmark::State& state, int64_t n, at::ScalarType dtype) {
  const auto a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype);
  auto c = at::empty({n, n}, dtype);
  for (auto _ : state) {
    at::mm_out(c, a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_flops(state, 2.0 * n * n * n);
}

// kind 0: forward   y[M,N]  = x[M,K] · W[N,K]ᵀ   (what Linear does: W stored [out, in])
// kind 1: bwd data  gx[M,K] = g[M,N] · W[N,K]
// kind 2: bwd weight gW[N,K] = g[M,N]ᵀ · x[M,K]
void BM_linear(benchmark::State& state, int64_t m, int64_t k, int64_t n, int kind, at::ScalarType dtype) {
  const auto x = at::randn({m, k}).to(dtype), w = at::randn({n, k}).to(dtype), g = at::randn({m, n}).to(dtype);
  for (auto _ : state) {
    at::Tensor out;
    if (kind == 0) out = at::mm(x, w.t());
    else if (kind == 1) out = at::mm(g, w);
    else out = at::mm(g.t(), x);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_flops(state, 2.0 * m * n * k);
}

// Attention scores q·kᵀ per (batch, head): [BH, T, hd] x [BH, hd, T].
void BM_attention_scores(benchmark::State& state, int64_t bh, int64_t t, int64_t hd) {
  const auto q = at::randn({bh, t, hd}), k = at::randn({bh, t, hd});
  for (auto _ : state) {
    auto s = at::bmm(q, k.transpose(1, 2));
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_flops(state, 2.0 * bh * t * t * hd);
}

void register_benchmarks() {
  for (int64_t n : {256, 384, 512, 768, 1024})
    benchmark::RegisterBenchmark(("square/" + std::to_string(n)).c_str(), BM_square, n, at::kFloat)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  // bf16 goes through oneDNN (AVX512-BF16 where the CPU has it) instead of OpenBLAS: what autocast would use.
  for (int64_t n : {256, 512, 1024})
    benchmark::RegisterBenchmark(("square_bf16/" + std::to_string(n)).c_str(), BM_square, n, at::kBFloat16)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  struct Shape {
    const char* preset;
    int64_t batch, seq;
  };
  const char* kinds[] = {"fwd", "bwd_data", "bwd_weight"};
  for (const Shape s : {Shape{"tiny", 64, 64}, Shape{"small", 16, 128}}) {
    const auto c = muse::preset_config(s.preset);
    const int64_t m = s.batch * s.seq, d = c.d_model, hd = c.head_dim();
    struct Layer {
      const char* name;
      int64_t k, n;
    };
    const std::vector<Layer> layers = {{"wq", d, c.n_heads * hd},
                                       {"w_gate", d, c.ffn_hidden},
                                       {"w_down", c.ffn_hidden, d},
                                       {"lm_head", d, c.vocab_size}};
    for (const auto& l : layers)
      for (int kind = 0; kind < 3; ++kind) {
        const std::string name = std::string("train/") + s.preset + "/" + l.name + "/" + kinds[kind] + "/M" +
                                 std::to_string(m) + "_K" + std::to_string(l.k) + "_N" + std::to_string(l.n);
        benchmark::RegisterBenchmark(name.c_str(), BM_linear, m, l.k, l.n, kind, at::kFloat)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        if (kind == 0 && std::string(s.preset) == "small")
          benchmark::RegisterBenchmark(("train_bf16" + name.substr(5)).c_str(), BM_linear, m, l.k, l.n, kind,
                                       at::kBFloat16)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
      }
    const std::string name = std::string("train/") + s.preset + "/attn_scores/BH" +
                             std::to_string(s.batch * c.n_heads) + "_T" + std::to_string(s.seq) + "_hd" +
                             std::to_string(hd);
    benchmark::RegisterBenchmark(name.c_str(), BM_attention_scores, s.batch * c.n_heads, s.seq, hd)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) try {
  muse::ThreadParams threads{1, 0};
  CLI::App app{"fp32 (and bf16) GEMM throughput through at::mm: square sizes and the model's real training shapes "
               "(Google Benchmark; GFLOP/s as the GFLOP rate counter)",
               "bench_gemm"};
  app.add_option("--torch-threads", threads.torch_threads, "torch intra-op threads")->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--blas-threads", threads.blas_threads, "OpenBLAS threads (0 = all cores)")->capture_default_str()
      ->check(CLI::Range(0, 256));
  app.footer("Google Benchmark's own flags (--benchmark_*=VALUE, --v=N) pass through, e.g.\n"
             "  bench_gemm --benchmark_filter='^square/' --benchmark_format=json\n");
  muse::bench::CommandLineOptions options;
  options.passthrough_prefixes = {"--benchmark_", "--v="};
  options.after_help = [] {
    std::printf("\nGoogle Benchmark flags:\n");
    std::fflush(stdout);
    benchmark::PrintDefaultHelp();
  };
  const auto passthrough = muse::bench::parse_command_line(app, argc, argv, options);
  muse::configure_threads(threads);
  // Google Benchmark wants a mutable argv: our own flags already taken out, its flags after the program name.
  std::vector<std::string> benchmark_args = {argv[0]};
  benchmark_args.insert(benchmark_args.end(), passthrough.begin(), passthrough.end());
  std::vector<char*> rest;
  for (auto& arg : benchmark_args) rest.push_back(arg.data());
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
} catch (const std::exception& e) {
  return muse::bench::report_error("bench_gemm", e);
}
