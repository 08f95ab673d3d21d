#!/usr/bin/env bash
# The equal-wall-time ablation of the training recipe (docs/LOG.md, "Learning per CPU-minute"): the default
# recipe's pretraining mixture and model (depth 5, B16 x T256, reply-only loss, WSD), trained once per row for the
# same planned wall time, two rows side by side at a time (one torch thread + one OpenBLAS thread each, so both
# rows of a pair see the same machine). A row's step count is the planned minutes divided by its step time, measured
# in the first pair of real runs (current vs all: 1.41 vs 1.71 s/step; Muon's Newton–Schulz iterations cost ~0.17 s
# of a step at one thread, QK-norm ~0.05 s). Report the rows' actual times (bench/ablate_summary.py) next to them.
#
# Usage: bench/ablate_train.sh WORK_DIR [ROW ...]      (default rows: all of them, in pairs as listed)
# Environment: MUSE (default build/bin/muse), EVAL_PROBLEMS (50 per task and difficulty), WARMUP (30).
# Each row writes WORK_DIR/ROW/{metrics.jsonl,train.log}; the final line of metrics.jsonl holds the held-out loss
# and the task accuracy. Summarise with bench/ablate_summary.py WORK_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
muse="${MUSE:-$root/build/bin/muse}"
work="${1:?usage: bench/ablate_train.sh WORK_DIR [ROW ...]}"
shift
problems="${EVAL_PROBLEMS:-50}"
warmup="${WARMUP:-30}"
mixture="add:1-4:2,sub:1-4:1.5,mul:1-3:1.5,countdown:3-4:1.5,count:1-3:2,read:1-2:1,chart:1-3:2,grid:1-3:1.5,table:1-3:2,mixed:1-2:1.5"

# row -> steps and flags. Steps = 10 planned minutes / step time at one thread (adamw 1.41 s, + QK-norm ~1.46 s,
# + Muon ~1.60 s, + both 1.71 s).
declare -A steps flags batch warm
steps[current]=425;      flags[current]="--optimizer adamw --no-qk-norm"
steps[qknorm]=410;       flags[qknorm]="--optimizer adamw --qk-norm"
steps[muon]=375;         flags[muon]="--optimizer muon --no-qk-norm"
steps[zeroinit]=425;     flags[zeroinit]="--optimizer adamw --no-qk-norm --zero-init-projections"
steps[softcap]=420;      flags[softcap]="--optimizer adamw --no-qk-norm --logit-softcap 15"
steps[qknorm_lr2]=410;   flags[qknorm_lr2]="--optimizer adamw --qk-norm --lr 4.9e-3"
steps[all]=350;          flags[all]="--optimizer muon --qk-norm --zero-init-projections --logit-softcap 15"
steps[all_muonlr04]=350; flags[all_muonlr04]="--optimizer muon --qk-norm --zero-init-projections --logit-softcap 15 --muon-lr 0.04"
steps[current_2x]=850;   flags[current_2x]="--optimizer adamw --no-qk-norm"
steps[muon_qk]=350;      flags[muon_qk]="--optimizer muon --qk-norm"
steps[muon_qk_zero]=350; flags[muon_qk_zero]="--optimizer muon --qk-norm --zero-init-projections"
steps[all_2x]=700;       flags[all_2x]="--optimizer muon --qk-norm --zero-init-projections --logit-softcap 15"
# The second round, against the new default (muon_qk_zero) side by side: ReLU^2 at equal parameters (hidden x 1.5),
# tied embeddings, Muon's rate halved, twice the batch at half the steps, no warmup.
base="--optimizer muon --qk-norm --zero-init-projections"
steps[relu2]=350;        flags[relu2]="$base --ffn-activation relu2"
steps[tied]=350;         flags[tied]="$base --tie-embeddings"
steps[muon_lr01]=350;    flags[muon_lr01]="$base --muon-lr 0.01"
steps[batch32]=175;      flags[batch32]="$base";  batch[batch32]=32
steps[warmup0]=350;      flags[warmup0]="$base";  warm[warmup0]=0
rows=("$@")
[[ ${#rows[@]} -gt 0 ]] || rows=(current all qknorm muon zeroinit softcap qknorm_lr2 all_muonlr04 muon_qk muon_qk_zero
                                current_2x all_2x relu2 tied muon_lr01 batch32 warmup0)

mkdir -p "$work"
if [[ ! -f "$work/tokenizer/tokenizer.model" ]]; then
  "$muse" tokenizer train --out "$work/tokenizer" --mixture "$mixture" --vocab 1024 --documents 20000 --seed 1
fi

run_row() {
  local row="$1" dir="$work/$1"
  [[ -n "${steps[$row]:-}" ]] || { echo "ablate_train.sh: unknown row '$row'" >&2; return 1; }
  if [[ -f "$dir/model.safetensors" ]]; then echo "$row: done already" >&2; return 0; fi
  local resume=""
  if [[ -d "$dir/checkpoints" ]]; then resume="--resume"; else mkdir -p "$dir"; cp "$work/tokenizer/tokenizer.model" "$dir/"; fi
  # shellcheck disable=SC2086
  "$muse" pretrain --out "$dir" --depth 5 --context 384 --mixture "$mixture" --no-prompt-loss \
    --steps "${steps[$row]}" --batch-size "${batch[$row]:-16}" --seq-len 256 --warmup "${warm[$row]:-$warmup}" --schedule wsd \
    --eval-problems "$problems" --checkpoint-every 100 --log-every 25 --seed 1 \
    --threads 1 --blas-threads 1 ${flags[$row]} $resume >>"$dir/train.log" 2>&1
  echo "$row: finished" >&2
}

for ((i = 0; i < ${#rows[@]}; i += 2)); do
  run_row "${rows[i]}" &
  first=$!
  if ((i + 1 < ${#rows[@]})); then run_row "${rows[i + 1]}"; fi
  wait "$first"
done
