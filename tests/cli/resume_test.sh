#!/usr/bin/env bash
# Exact resume as a user meets it: a run killed with SIGKILL mid-training, then `--resume`, must log the
# same loss at every step as a run that never stopped.
# Usage: resume_test.sh PATH/TO/muse [SOURCE_DIR]
set -u
MUSE=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_cli_resume.XXXXXX")
trap 'kill -9 $pid 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2
pid=""

# Waits until DIR/metrics.jsonl has logged at least N training steps.
wait_for_logged_steps() {
  local dir=$1 n=$2 logged
  for _ in $(seq 1 1200); do
    logged=$(grep -c '"loss"' "$dir/metrics.jsonl" 2>/dev/null)
    [[ ${logged:-0} -ge $n ]] && return 0
    sleep 0.02
  done
  return 1
}

"$MUSE" tokenizer train --out straight --vocab 400 --documents 300 >/dev/null || exit 1
mkdir -p killed && cp straight/tokenizer.model killed/
ARGS=(--preset tiny --mixture add:1-2 --steps 60 --batch-size 8 --seq-len 32 --checkpoint-every 5 --log-every 1
      --eval-problems 0 --threads 1 --blas-threads 1)

"$MUSE" pretrain --out straight "${ARGS[@]}" >/dev/null 2>&1 || { echo "uninterrupted run failed"; exit 1; }

"$MUSE" pretrain --out killed "${ARGS[@]}" >/dev/null 2>&1 &
pid=$!
# Kill once step 23 is logged: the newest checkpoint is step 20, so steps 21-23 are lost and must be redone
# (and their logged lines dropped) by the resume.
wait_for_logged_steps killed 23
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
killed_at=$(grep -c '"loss"' killed/metrics.jsonl)
"$MUSE" pretrain --out killed "${ARGS[@]}" --resume >/dev/null 2>&1 || { echo "resume failed"; exit 1; }

# Compare the per-step training losses: every step 1..60 must be present once and equal.
extract() { grep '"loss"' "$1" | sed -E 's/.*"loss":([^,}]*).*"step":([0-9]+).*/\2 \1/' | sort -n; }
extract straight/metrics.jsonl >a.txt
extract killed/metrics.jsonl >b.txt
if [[ $(wc -l <a.txt) -ne 60 ]] || ! cmp -s a.txt b.txt; then
  echo "loss curves differ (killed after $killed_at logged steps):"
  diff a.txt b.txt | head -20
  echo "0 passed, 1 failed"
  exit 1
fi
echo "ok   killed after $killed_at logged steps; resumed curve identical to the uninterrupted one over 60 steps"

# Ctrl-C (SIGINT) loses nothing: the current step is finished and checkpointed, the exit status is 130, and
# the resumed run again matches the uninterrupted curve.
mkdir -p interrupted && cp straight/tokenizer.model interrupted/
"$MUSE" pretrain --out interrupted "${ARGS[@]}" >/dev/null 2>interrupted.err &
pid=$!
wait_for_logged_steps interrupted 13
kill -INT "$pid"
wait "$pid"
rc=$?
saved=$(sed -n 's/^step_0*\([0-9]*\)$/\1/p' interrupted/checkpoints/latest)
logged=$(grep -c '"loss"' interrupted/metrics.jsonl)
if [[ $rc -ne 130 ]] || ! grep -q "interrupted at step $saved/60" interrupted.err || [[ "$saved" -ne "$logged" ]]; then
  echo "FAIL SIGINT: exit $rc, checkpoint step '$saved', logged steps $logged, stderr: $(cat interrupted.err)"
  echo "1 passed, 1 failed"
  exit 1
fi
"$MUSE" pretrain --out interrupted "${ARGS[@]}" --resume >/dev/null 2>&1 || { echo "resume after SIGINT failed"; exit 1; }
extract interrupted/metrics.jsonl >c.txt
if ! cmp -s a.txt c.txt; then
  echo "FAIL SIGINT: resumed curve differs"
  diff a.txt c.txt | head -10
  echo "1 passed, 1 failed"
  exit 1
fi
echo "ok   SIGINT at step $saved: checkpointed that step, exit 130, resumed curve identical"
echo "2 passed, 0 failed"
