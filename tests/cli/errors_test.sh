#!/usr/bin/env bash
# Bad input at the CLI: every case must exit non-zero with exactly one stderr line that names the problem,
# and never crash (no uncaught exception, abort, segfault or torch backtrace).
# Usage: errors_test.sh PATH/TO/muse SOURCE_DIR
set -u

if [[ $# -lt 1 ]]; then
  echo "usage: $0 PATH/TO/muse [SOURCE_DIR]" >&2
  exit 2
fi
MUSE=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_cli_errors.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2

passed=0
failed=0
failures=()

# Crash signatures: uncaught exceptions, aborts, signals, torch/c10 backtraces, non-MuseError escapes.
CRASH='terminate called|Aborted|Segmentation|what\(\)|[Bb]acktrace|Exception raised from|frame #[0-9]|internal error'

# expect_error NAME NEEDLE ARGS...: runs `muse ARGS...`; NEEDLE must appear (literally) on the single stderr line.
# With EXPECT_STATUS=N set for the call, the exit status must be exactly N.
expect_error() {
  local name=$1 needle=$2
  shift 2
  local rc=0
  timeout 300 "$MUSE" "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
  local problems=()
  if [[ $rc -eq 0 ]]; then problems+=("exit status 0"); fi
  if [[ $rc -ge 124 ]]; then problems+=("exit status $rc (timeout or signal)"); fi
  if [[ -n ${EXPECT_STATUS:-} && $rc -ne $EXPECT_STATUS ]]; then problems+=("exit status $rc, expected $EXPECT_STATUS"); fi
  local lines
  lines=$(grep -c '' "$WORK/stderr")
  if [[ $lines -ne 1 ]]; then problems+=("$lines stderr lines, expected 1"); fi
  if ! grep -qF -- "$needle" "$WORK/stderr"; then problems+=("stderr does not mention '$needle'"); fi
  if grep -qE -- "$CRASH" "$WORK/stderr" "$WORK/stdout"; then problems+=("crash signature in output"); fi
  if [[ ${#problems[@]} -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL $name: $(IFS=';'; echo "${problems[*]}")"
    echo "     command: muse $*"
    sed 's/^/     stderr| /' "$WORK/stderr" | head -20
  fi
}

# expect_help NAME NEEDLE ARGS...: `muse ARGS...` (ending in --help or -h) prints usage with NEEDLE on stdout,
# nothing on stderr, exits 0 within seconds and runs nothing.
expect_help() {
  local name=$1 needle=$2
  shift 2
  local rc=0
  timeout 20 "$MUSE" "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
  local problems=()
  if [[ $rc -ne 0 ]]; then problems+=("exit status $rc"); fi
  if ! grep -q "^Usage: " "$WORK/stdout"; then problems+=("no 'Usage:' line on stdout"); fi
  if ! grep -qF -- "$needle" "$WORK/stdout"; then problems+=("stdout does not mention '$needle'"); fi
  if [[ -s $WORK/stderr ]]; then problems+=("stderr is not empty"); fi
  if [[ ${#problems[@]} -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL $name: $(IFS=';'; echo "${problems[*]}")"
    echo "     command: muse $*"
    sed 's/^/     stdout| /' "$WORK/stdout" | head -5
    sed 's/^/     stderr| /' "$WORK/stderr" | head -5
  fi
}

# --- commands and --help (no model needed) ------------------------------------------------------------------------
expect_error "unknown command" "unknown command 'nosuch'" nosuch
expect_error "unknown command with --help" "unknown command 'nosuch'" nosuch --help
expect_error "unknown command with -h after a flag" "unknown command 'nosuch'" --log-level warn nosuch -h
expect_error "unknown command before a real one" "unknown command 'nosuch'" nosuch generate --help
for group in data tokenizer; do
  expect_error "$group: unknown command" "unknown command '$group nosuch'" $group nosuch
  expect_error "$group: unknown command with --help" "unknown command '$group nosuch'" $group nosuch --help
done
expect_error "generate: stray argument with --help" "nosuch" generate nosuch --help
expect_error "unknown global flag" "--frobnicate" --frobnicate
expect_error "no command at all" "subcommand" --log-level warn

expect_help "muse --help" "--log-level" --help
expect_help "muse --help names MUSE_LOG" "MUSE_LOG" --help
expect_help "muse -h" "generate" -h
for command in tokenizer "tokenizer train" pretrain sft train generate chat eval data "data preview"; do
  # shellcheck disable=SC2086  # the group and its subcommand are two words
  expect_help "$command --help" "--log-level" $command --help
done
expect_help "generate -h" "--prompt" generate -h
expect_help "eval --help lists --chat" "--chat" eval --help
expect_help "--help wins over a missing required flag" "--out" pretrain --help

expect_error "--log-level: unknown level" "log level 'loud'" --log-level loud data preview --task add --out p0
expect_error "--log-level on a command: unknown level" "log level 'loud'" data preview --task add --out p0 --log-level loud

# Setup: one real (tiny, barely trained) model directory. Takes a few seconds.
setup() {
  "$MUSE" tokenizer train --out real --vocab 400 --documents 200 >/dev/null 2>"$WORK/setup.err" &&
    "$MUSE" pretrain --out real --preset tiny --steps 2 --batch-size 2 --seq-len 16 --eval-problems 1 \
      --checkpoint-every 1 >/dev/null 2>>"$WORK/setup.err"
}
if ! setup || [[ ! -f real/model.safetensors || ! -f real/checkpoints/latest ]]; then
  echo "FAIL setup: could not build a tiny model directory"
  cat "$WORK/setup.err"
  echo "0 passed, 1 failed"
  exit 1
fi
# The sane model really works, so the failures below are about the damage done to the copies.
if ! "$MUSE" generate --model real -p "1+1" --max-tokens 4 >/dev/null 2>&1; then
  echo "FAIL setup: generate on the intact model directory fails"
  exit 1
fi

# --- tools switches ---------------------------------------------------------------------------------------------
expect_error "generate: --tools not on/off" "--tools: maybe not in {on,off}" generate -p hi --tools maybe
expect_error "generate: --spawn not on/off" "--spawn: maybe not in {on,off}" generate -p hi --spawn maybe
echo '{"type":"string","pattern":"^a"}' > "$WORK/pattern.json"
echo '{"type":' > "$WORK/broken.json"
expect_error "generate: --json-schema unsupported keyword" "the keyword 'pattern' is not supported" \
  generate -p hi --json-schema "$WORK/pattern.json"
expect_error "generate: --json-schema not JSON" "not valid JSON" generate -p hi --json-schema "$WORK/broken.json"
expect_error "generate: --json-schema missing" "cannot read the file" generate -p hi --json-schema "$WORK/none.json"
expect_error "generate: --json with contemplating" "answer in standard mode" generate -p hi --json --mode contemplating
expect_error "eval: --tools not on/off/both" "--tools: yes not in {on,off,both}" eval --tools yes
expect_error "eval: --spawn not on/off/both" "--spawn: yes not in {on,off,both}" eval --spawn yes
expect_error "eval: negative --deadline" "--deadline" eval --deadline -1
expect_error "eval --chat with --tools" "--tools sets up the task sweep" eval --chat /dev/null --tools off

# --- contemplating ----------------------------------------------------------------------------------------------
expect_error "generate: unknown --mode" "--mode: deep not in {standard,contemplating}" generate -p hi --mode deep
expect_error "generate: unknown --synthesis" "--synthesis: majority not in {vote,confidence,online}" generate -p hi --mode contemplating --synthesis majority
expect_error "generate: --agents 0" "--agents: Value 0 not in range 1 to 64" generate -p hi --mode contemplating --agents 0
expect_error "generate: -n with contemplating" "choose one" generate --model real -p hi --mode contemplating -n 2 --temperature 0.5
expect_error "eval: unknown --synthesis" "--synthesis: expected vote, confidence or online, got \"best\"" eval --mode contemplating --synthesis vote,best

# --- generate: model directories -------------------------------------------------------------------------------
EXPECT_STATUS=1 expect_error "generate: no such model dir (exit 1)" "/nonexistent" generate --model /nonexistent -p hi
EXPECT_STATUS=1 expect_error "eval: no such model dir (exit 1)" "no_such_model_dir" eval --model no_such_model_dir
EXPECT_STATUS=1 expect_error "chat: no such model dir (exit 1)" "no_such_model_dir" chat --model no_such_model_dir

mkdir -p malformed && printf '{"model": {"vocab_size": 4\n' >malformed/config.json
expect_error "generate: malformed config.json" "malformed/config.json" generate --model malformed -p hi

mkdir -p empty_dir
expect_error "generate: dir without config.json" "empty_dir/config.json" generate --model empty_dir -p hi

mkdir -p only_config && cp real/config.json only_config/
expect_error "generate: missing tokenizer.model" "only_config/tokenizer.model" generate --model only_config -p hi

mkdir -p no_weights && cp real/config.json real/tokenizer.model no_weights/
expect_error "generate: missing model.safetensors" "no_weights/model.safetensors" generate --model no_weights -p hi

mkdir -p wrong_vocab && cp real/config.json real/tokenizer.model real/model.safetensors wrong_vocab/
sed -i 's/"vocab_size": *[0-9]*/"vocab_size": 99999/' wrong_vocab/config.json
expect_error "generate: config vocab_size mismatch" "vocab_size" generate --model wrong_vocab -p hi

mkdir -p missing_field && cp real/tokenizer.model real/model.safetensors missing_field/
grep -v '"d_model"' real/config.json >missing_field/config.json
expect_error "generate: config field missing" "d_model" generate --model missing_field -p hi

mkdir -p not_object && cp real/tokenizer.model real/model.safetensors not_object/ && echo '[1, 2]' >not_object/config.json
expect_error "generate: config.json not an object" "not_object/config.json" generate --model not_object -p hi

mkdir -p bad_tokenizer && cp real/config.json real/model.safetensors bad_tokenizer/
echo "this is not a sentencepiece model" >bad_tokenizer/tokenizer.model
expect_error "generate: garbage tokenizer.model" "bad_tokenizer/tokenizer.model" generate --model bad_tokenizer -p hi

mkdir -p truncated && cp real/config.json real/tokenizer.model truncated/
size=$(stat -c %s real/model.safetensors)
head -c $((size / 2)) real/model.safetensors >truncated/model.safetensors
expect_error "generate: truncated model.safetensors" "truncated/model.safetensors" generate --model truncated -p hi
head -c 5 real/model.safetensors >truncated/model.safetensors
expect_error "generate: 5-byte model.safetensors" "truncated/model.safetensors" generate --model truncated -p hi

expect_error "generate: negative temperature" "temperature" generate --model real -p hi --temperature -1
expect_error "generate: top_p 0" "top_p" generate --model real -p hi --top-p 0
expect_error "generate: unknown device" "bogus" generate --model real -p hi --device bogus

# --- logging: notes on stderr follow --log-level / MUSE_LOG; results stay on stdout ------------------------------
# expect_engine_note NAME present|absent [ENV=VALUE...] -- ARGS...: two engine samples; checks the "[engine]" note.
expect_engine_note() {
  local name=$1 want=$2
  shift 2
  local env=()
  while [[ $1 != -- ]]; do env+=("$1"); shift; done
  shift
  env "${env[@]}" "$MUSE" "$@" generate --model real -p "1+1" -n 2 --temperature 1 --max-tokens 2 \
    >"$WORK/stdout" 2>"$WORK/stderr"
  local rc=$? problems=()
  if [[ $rc -ne 0 ]]; then problems+=("exit status $rc"); fi
  if [[ $(grep -c -- "--- sample" "$WORK/stdout") -ne 2 ]]; then problems+=("stdout lacks the 2 samples"); fi
  if [[ $want == present ]] && ! grep -q '^\[engine\] 2 samples of a' "$WORK/stderr"; then
    problems+=("no [engine] note on stderr")
  fi
  if [[ $want == absent && -s $WORK/stderr ]]; then problems+=("stderr is not empty"); fi
  if [[ ${#problems[@]} -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL $name: $(IFS=';'; echo "${problems[*]}")"
    sed 's/^/     stderr| /' "$WORK/stderr" | head -5
  fi
}
expect_engine_note "log: info by default" present --
expect_engine_note "log: --log-level warn" absent -- --log-level warn
expect_engine_note "log: MUSE_LOG=off" absent MUSE_LOG=off --
expect_engine_note "log: --log-level beats MUSE_LOG" present MUSE_LOG=off -- --log-level info
expect_engine_note "log: MUSE_LOG typo falls back to info" present MUSE_LOG=loud --

# --- generate: attached images and tables ----------------------------------------------------------------------
"$MUSE" data preview --task count -n 1 --out preview >/dev/null 2>&1
good_png=preview/count_0_image0.png
if [[ ! -f $good_png ]]; then failed=$((failed + 1)); failures+=("data preview wrote no PNG"); echo "FAIL data preview"; fi
expect_error "generate: --image missing file" "nope.png" generate --model real -p hi --image nope.png
printf 'GIF89a\x01\x00\x01\x00' >fake.png
expect_error "generate: --image not PNG/JPEG" "fake.png: unsupported image format" generate --model real -p hi --image fake.png
head -c 60 "$good_png" >cut.png
expect_error "generate: --image truncated PNG" "cut.png" generate --model real -p hi --image cut.png
: >empty.jpg
expect_error "generate: --image empty file" "empty.jpg" generate --model real -p hi --image empty.jpg
# A PNG whose header claims 100000 x 100000 pixels: refused from the header, never decoded.
python3 - <<'PY'
import struct, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
open("bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
PY
expect_error "generate: --image decompression bomb" "bomb.png" generate --model real -p hi --image bomb.png
printf 'name,qty\napple,3\npear\n' >ragged.csv
expect_error "generate: --table ragged CSV" "ragged.csv: line 3" generate --model real -p hi --table ragged.csv
printf '[{"a": 1}, 7]' >records.json
expect_error "generate: --table JSON array with a non-object" "records.json" generate --model real -p hi --table records.json
printf 'a,b\n1,2\n' >table.txt
expect_error "generate: --table unknown extension" "table.txt" generate --model real -p hi --table table.txt
expect_error "data preview: unknown task" "nosuchtask" data preview --task nosuchtask --out p2
expect_error "data preview: difficulty out of range" "difficulty 9" data preview --task count --difficulty 9 --out p2

# --- rl and report ----------------------------------------------------------------------------------------------
expect_error "rl: a task without a verifier" "RL tasks need a verifier: 'text'" rl --model real --out rl1 --tasks text
expect_error "rl: unknown task" "nosuchtask" rl --model real --out rl1 --tasks nosuchtask:1
expect_error "rl: --out is --model" "--out must differ from --model" rl --model real --out real
expect_error "rl: unknown penalty" "--penalty: short not in {none,linear,group,cap}" rl --model real --out rl1 --penalty short
expect_error "rl: group of one" "--group: Value 1 not in range 2 to 256" rl --model real --out rl1 --group 1
expect_error "report: not an RL run" "has no RL steps" report real
mkdir -p empty_run
expect_error "report: no metrics" "metrics.jsonl: missing" report empty_run

# --- eval: what to sweep ----------------------------------------------------------------------------------------
expect_error "eval: unknown mode" "--mode: deep not in {standard,contemplating}" eval --model real --mode deep
expect_error "eval: budget not a number" "thinking budget 'x' is not a number" eval --model real --budgets 5,x
expect_error "eval: unknown task" "nosuch" eval --model real --tasks nosuch
printf '{"messages": [{"role": "user", "content": "2 g in mg?"}, {"role": "assistant", "content": "2000 mg"}]}\n{"messages": 5}\n' >chat_bad.jsonl
expect_error "eval: malformed --chat line" "chat_bad.jsonl:2" eval --model real --chat chat_bad.jsonl
printf '{"messages": [{"role": "user", "content": "2 g in mg?"}, {"role": "assistant", "content": "2000 mg"}]}\n' >chat_ok.jsonl
for flag in "--budgets 0,-1" "--style chat" "--tasks add" "--difficulty 2" "--blind-baseline" "-n 5" "--plot p.svg"; do
  # shellcheck disable=SC2086  # the flag and its value are two words
  expect_error "eval: --chat with ${flag%% *}" "${flag%% *}" eval --model real --chat chat_ok.jsonl $flag
done
expect_error "generate: several greedy samples" "pass --temperature > 0" generate --model real -p hi -n 3
expect_error "generate: samples of a raw continuation" "cannot be combined with --raw" \
  generate --model real -p hi -n 2 --temperature 1 --raw

# --- pretrain: settings and data ---------------------------------------------------------------------------------
mkdir -p fresh && cp real/tokenizer.model fresh/
expect_error "pretrain: unknown preset" "huge" pretrain --out fresh --preset huge --steps 1
expect_error "pretrain: unknown --ffn-activation" "--ffn-activation: gelu not in {swiglu,relu2}" pretrain --out fresh --ffn-activation gelu --steps 1
expect_error "pretrain: unknown mixture task" "nosuchtask" pretrain --out fresh --mixture nosuchtask --steps 1
expect_error "pretrain: bad mixture difficulty" "add:x" pretrain --out fresh --mixture add:x --steps 1
expect_error "pretrain: no tokenizer yet" "tokenizer.model" pretrain --out no_tokenizer_here --steps 1
expect_error "pretrain: unknown optimizer" "sgd not in {muon,adamw}" pretrain --out fresh --optimizer sgd --steps 1
expect_error "pretrain: Muon learning rate out of range" "--muon-lr" pretrain --out fresh --muon-lr 0 --steps 1
expect_error "pretrain: negative logit soft cap" "--logit-softcap" pretrain --out fresh --logit-softcap -1 --steps 1

printf '{"text": "a fine document"}\n{"text": oops}\n{"text": "another"}\n' >bad.jsonl
expect_error "pretrain: malformed --text line" "bad.jsonl:2" \
  pretrain --out fresh --mixture text --text bad.jsonl --steps 1 --batch-size 1 --seq-len 8

expect_error "pretrain: --steps abc" "--steps" pretrain --out fresh --steps abc
expect_error "pretrain: --steps 0" "steps" pretrain --out fresh --steps 0
expect_error "pretrain: unknown flag" "--frobnicate" pretrain --out fresh --frobnicate
EXPECT_STATUS=1 expect_error "pretrain: unknown flag (exit 1)" "--frobnicate" pretrain --out fresh --frobnicate
expect_error "tokenizer train: --vocab below range" "--vocab" tokenizer train --out tok --vocab 10

# --- train --recipe ----------------------------------------------------------------------------------------------
expect_error "train: unknown recipe" "nope" train --recipe nope --out recipe_out

# --- resuming ------------------------------------------------------------------------------------------------------
expect_error "pretrain: --resume without checkpoint" "no checkpoint" \
  pretrain --out fresh --steps 2 --batch-size 2 --seq-len 16 --resume

cp -r real changed
expect_error "pretrain: resume with another --batch-size" "different settings" \
  pretrain --out changed --preset tiny --steps 2 --batch-size 4 --seq-len 16 --eval-problems 1 --checkpoint-every 1 \
  --resume
expect_error "pretrain: existing run without --resume" "--resume" \
  pretrain --out changed --preset tiny --steps 2 --batch-size 2 --seq-len 16 --eval-problems 1 --checkpoint-every 1

printf '{"model": \n' >changed/config.json
expect_error "pretrain: resume with malformed config.json" "changed/config.json" \
  pretrain --out changed --preset tiny --steps 2 --batch-size 2 --seq-len 16 --eval-problems 1 --checkpoint-every 1 \
  --resume

echo
echo "$passed passed, $failed failed"
if [[ $failed -ne 0 ]]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
exit 0
