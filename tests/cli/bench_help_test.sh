#!/usr/bin/env bash
# The benchmark programs' command lines (bench/bench_cli.h): --help and -h print usage listing the options and
# exit 0 within seconds, running nothing (bench_decode alone would take ten minutes); an unknown flag or a bad
# value is refused with one error line and a non-zero exit, before any benchmarking.
# Usage: bench_help_test.sh PATH/TO/muse SOURCE_DIR   (the benchmarks live beside muse, in build/bin)
set -u

if [[ $# -lt 1 ]]; then
  echo "usage: $0 PATH/TO/muse [SOURCE_DIR]" >&2
  exit 2
fi
BIN=$(dirname "$(realpath "$1")")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_bench_help.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2

passed=0
failed=0
failures=()
CRASH='terminate called|Aborted|Segmentation|what\(\)|[Bb]acktrace|Exception raised from|frame #[0-9]'

record() {  # NAME PROBLEM...: passes when no problem is given
  local name=$1
  shift
  if [[ $# -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL $name: $(IFS=';'; echo "$*")"
    sed 's/^/     stdout| /' "$WORK/stdout" | head -5
    sed 's/^/     stderr| /' "$WORK/stderr" | head -5
  fi
}

# expect_help PROGRAM NEEDLE FLAG: usage on stdout naming PROGRAM and NEEDLE (one of its options), exit 0, fast.
expect_help() {
  local program=$1 needle=$2 flag=$3 rc=0 problems=()
  local start=$SECONDS
  timeout 20 "$BIN/$program" "$flag" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
  if [[ $rc -ne 0 ]]; then problems+=("exit status $rc"); fi
  if [[ $((SECONDS - start)) -gt 5 ]]; then problems+=("took $((SECONDS - start)) s: it ran something"); fi
  if ! grep -qi "usage" "$WORK/stdout"; then problems+=("no usage text on stdout"); fi
  if ! grep -qF -- "$program" "$WORK/stdout"; then problems+=("usage does not name $program"); fi
  if ! grep -qF -- "$needle" "$WORK/stdout"; then problems+=("usage does not list $needle"); fi
  if [[ -s $WORK/stderr ]]; then problems+=("stderr is not empty"); fi
  record "$program $flag" "${problems[@]}"
}

# expect_refused PROGRAM NEEDLE ARGS...: non-zero exit within seconds, one stderr line mentioning NEEDLE.
expect_refused() {
  local program=$1 needle=$2 rc=0 problems=()
  shift 2
  local start=$SECONDS
  timeout 20 "$BIN/$program" "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
  if [[ $rc -eq 0 ]]; then problems+=("exit status 0"); fi
  if [[ $rc -ge 124 ]]; then problems+=("exit status $rc (timeout or signal)"); fi
  if [[ $((SECONDS - start)) -gt 5 ]]; then problems+=("took $((SECONDS - start)) s: it ran something"); fi
  local lines
  lines=$(grep -c '' "$WORK/stderr")
  if [[ $lines -ne 1 ]]; then problems+=("$lines stderr lines, expected 1"); fi
  if ! grep -qF -- "$needle" "$WORK/stderr"; then problems+=("stderr does not mention '$needle'"); fi
  if grep -qE -- "$CRASH" "$WORK/stderr" "$WORK/stdout"; then problems+=("crash signature in output"); fi
  record "$program $*: refused" "${problems[@]}"
}

# Each benchmark (bench/CMakeLists.txt) with one option its usage must list.
declare -A OPTION=(
  [bench_decode]=--shapes [bench_engine]=--concurrency [bench_train]=--preset [bench_gemm]=--blas-threads
  [bench_data]=tokenizer [dump_logits]=--out [bench_serve]=--clients
)
present=0
for program in bench_decode bench_engine bench_train bench_gemm bench_data dump_logits bench_serve; do
  if [[ ! -x $BIN/$program ]]; then
    echo "skip $program: not built (MUSE_BUILD_BENCH=OFF?)"
    continue
  fi
  present=$((present + 1))
  expect_help "$program" "${OPTION[$program]}" --help
  expect_help "$program" "${OPTION[$program]}" -h
  expect_refused "$program" "--no-such-flag" --no-such-flag
done

if [[ -x $BIN/bench_gemm ]]; then
  expect_help bench_gemm "--benchmark_filter" --help  # Google Benchmark's own flags are listed too
  expect_refused bench_gemm "--benchmark_no_such_flag" --benchmark_no_such_flag=1
fi
[[ -x $BIN/bench_decode ]] && expect_refused bench_decode "2M" --shapes 1M,2M
[[ -x $BIN/bench_decode ]] && expect_refused bench_decode "--steps" --steps abc
[[ -x $BIN/bench_decode ]] && expect_refused bench_decode "context" --context 1000 --steps 100
[[ -x $BIN/bench_engine ]] && expect_refused bench_engine "--concurrency" --concurrency 1,0
[[ -x $BIN/bench_train ]] && expect_refused bench_train "--batch" --batch 0
[[ -x $BIN/bench_train ]] && expect_refused bench_train "--docs" --docs 100 --seq-len 16
[[ -x $BIN/dump_logits ]] && expect_refused dump_logits "--out" --preset tiny
[[ -x $BIN/bench_data ]] && expect_refused bench_data "no_such.model" no_such.model

echo
if [[ $present -eq 0 ]]; then
  echo "no benchmark binaries beside $BIN/muse: nothing to test"
  exit 0
fi
echo "$passed passed, $failed failed"
if [[ $failed -ne 0 ]]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
exit 0
