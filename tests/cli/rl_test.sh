#!/usr/bin/env bash
# muse rl and muse report as a user runs them: a tiny model, two RL steps with a thinking penalty, then the run
# directory is a model directory with its curves and report, muse report draws the curves again, and a second
# run into the same directory without --resume is refused.
# Usage: rl_test.sh PATH/TO/muse [SOURCE_DIR]
set -u
MUSE=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_cli_rl.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2
fail() {
  echo "FAIL: $*"
  cat "$WORK/log" 2>/dev/null | tail -20
  exit 1
}

"$MUSE" tokenizer train --out base --vocab 400 --documents 200 --mixture add:1 >"$WORK/log" 2>&1 ||
  fail "tokenizer train"
"$MUSE" pretrain --out base --preset tiny --mixture add:1 --steps 5 --batch-size 4 --seq-len 64 --context 64 \
  --eval-problems 1 >"$WORK/log" 2>&1 || fail "pretrain"

"$MUSE" --log-level warn rl --model base --out rl --tasks add:1 --steps 2 --prompts 2 --group 2 --max-tokens 16 \
  --penalty linear --eval-problems 2 --eval-every 1 >"$WORK/log" 2>&1 || fail "muse rl exited non-zero"
for f in model.safetensors config.json tokenizer.model metrics.jsonl report.md curves/reward.svg \
  curves/thinking.svg curves/health.svg; do
  [[ -f rl/$f ]] || fail "rl/$f missing"
done
grep -q '"rollout_digest"' rl/metrics.jsonl || fail "no RL step lines in metrics.jsonl"
grep -q '"sampled_accuracy"' rl/metrics.jsonl || fail "no held-out evaluation lines in metrics.jsonl"
grep -q "before RL" rl/report.md || fail "report.md lacks the before/after table"

"$MUSE" report rl >"$WORK/log" 2>&1 || fail "muse report"
grep -q "wrote rl/curves/reward.svg" "$WORK/log" || fail "muse report did not say what it wrote"

# The RL model answers like any model directory.
"$MUSE" generate --model rl -p "2+3" --max-tokens 8 >"$WORK/log" 2>&1 || fail "generate from the RL model"

if "$MUSE" rl --model base --out rl --tasks add:1 --steps 2 >"$WORK/log" 2>&1; then
  fail "a second run into a finished run directory without --resume was accepted"
fi
echo "ok: muse rl, muse report, the RL model directory"
