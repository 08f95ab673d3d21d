#!/usr/bin/env bash
# Training throughput, C++ (bench_train) vs Python PyTorch (bench/reference_model.py), interleaved on one machine.
# Builds nothing: build first with
#   cmake -S . -B build -G Ninja && ninja -C build bench_gemm bench_train
# Usage: bench/compare_train.sh [BUILD_DIR]        (default: build next to this script's parent)
# Environment: ROUNDS (default 3), PYTHON (default /usr/bin/python3: Debian python3-torch 1.13),
#              LOG_DIR (raw JSON lines are kept there; default a fresh temp dir).
# Batches are packed rows with 4 documents each (bench_train/reference_model.py default --docs 4), as pretrain
# feeds the model. Prints a Markdown table: per run, tok/s at the median step time; per cell, the median over
# rounds (see docs/PERFORMANCE.md). Takes about 3 minutes with ROUNDS=3 on the 2-core machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
bin="$build/bin"
python="${PYTHON:-/usr/bin/python3}"
rounds="${ROUNDS:-3}"
log_dir="${LOG_DIR:-$(mktemp -d -t muse_compare_train.XXXXXX)}"
mkdir -p "$log_dir"

for exe in bench_train bench_gemm; do
  if [[ ! -x "$bin/$exe" ]]; then
    echo "compare_train.sh: $bin/$exe not found; build it first: ninja -C $build bench_gemm bench_train" >&2
    exit 1
  fi
done
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "compare_train.sh: $python cannot import torch (use Debian's /usr/bin/python3 with python3-torch)" >&2
  exit 1
fi

# GEMM peak: best square at::mm result, measured before and after the training runs.
gemm() {
  "$bin/bench_gemm" --benchmark_filter='^square/' --benchmark_min_time=0.2 --benchmark_format=json \
    >"$log_dir/gemm_$1.json" 2>/dev/null
}
echo "GEMM peak (bench_gemm square/256..1024) ..." >&2
gemm before

# preset batch seq_len warmup steps
cases=(
  "tiny 64 64 2 12"
  "small 16 128 2 8"
  "tiny 2 16 10 300"
)
results="$log_dir/train.jsonl"
: >"$results"
for round in $(seq 1 "$rounds"); do
  for c in "${cases[@]}"; do
    read -r preset batch seq warmup steps <<<"$c"
    args=(--preset "$preset" --batch "$batch" --seq-len "$seq" --warmup "$warmup" --steps "$steps")
    echo "round $round/$rounds: $preset B$batch T$seq: C++ ..." >&2
    "$bin/bench_train" "${args[@]}" | tee -a "$results" >/dev/null
    echo "round $round/$rounds: $preset B$batch T$seq: Python ..." >&2
    "$python" "$here/reference_model.py" --bench "${args[@]}" | tee -a "$results" >/dev/null
  done
done
gemm after

"$python" - "$log_dir" <<'EOF'
import json, statistics, sys
log_dir = sys.argv[1]
peak = 0.0
for tag in ("before", "after"):
    with open(f"{log_dir}/gemm_{tag}.json") as f:
        for b in json.load(f)["benchmarks"]:
            peak = max(peak, b["GFLOP"])
rows = {}
for line in open(f"{log_dir}/train.jsonl"):
    r = json.loads(line)
    # Per run: tok/s at the run's median step time (robust to bursts of other load); then the median over rounds.
    r["tok_s"] = r["batch"] * r["seq_len"] / (r["ms_per_step_median"] / 1e3)
    key = (r["preset"], r["batch"], r["seq_len"])
    rows.setdefault(key, {"cpp": [], "python": []})[r["impl"].split("+")[0]].append(r)
cores = sorted({r["blas_core"] for v in rows.values() for side in v.values() for r in side})
print(f"GEMM peak (best square fp32 at::mm): {peak:.1f} GFLOP/s; OpenBLAS kernels: {', '.join(cores)}; "
      f"raw results in {log_dir}\n")
print("| preset | batch | C++ tok/s (median) | Python tok/s (median) | C++/Py | C++ GFLOP/s | % of GEMM peak |")
print("|---|---|---:|---:|---:|---:|---:|")
spreads = []
for (preset, batch, seq), r in rows.items():
    cpp = [x["tok_s"] for x in r["cpp"]]
    py = [x["tok_s"] for x in r["python"]]
    mc, mp = statistics.median(cpp), statistics.median(py)
    gf = mc * r["cpp"][0]["flops_per_token"] / 1e9
    print(f"| {preset} | B{batch} T{seq} | {mc:,.0f} | {mp:,.0f} | {mc / mp:.2f} | {gf:.1f} | {100 * gf / peak:.0f}% |")
    spreads.append(f"{preset} B{batch} T{seq}: C++ " + " / ".join(f"{v:,.0f}" for v in cpp) +
                   "; Python " + " / ".join(f"{v:,.0f}" for v in py) +
                   f"; best C++/best Py {max(cpp) / max(py):.2f}")
print("\nPer round (tok/s at the median step, in run order):")
for s in spreads:
    print("- " + s)
EOF
