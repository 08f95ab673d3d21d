#!/usr/bin/env bash
# The shipped default model as a person meets it: `muse chat` and `muse generate` answer with reasoning and
# the right result. Usage: shipped_model_test.sh PATH/TO/muse SOURCE_DIR
set -u
MUSE=$(realpath "$1")
MODEL="$2/models/default"
passed=0
failed=0
check() {  # NAME EXPECTED_SUBSTRING OUTPUT
  if grep -qF -- "$2" <<<"$3"; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: expected '$2' in:"; echo "$3" | head -10; fi
}

out=$(printf '47+85\n305-278\n/quit\n' | "$MUSE" chat --model "$MODEL" 2>&1)
check "chat shows thinking" "thinking: 7+5+0=12|4+8+1=13|=132" "$out"
check "chat answers each message on its own" "3-2-1=0 b0|=27" "$out"
if grep -qxF "27" <<<"$out"; then passed=$((passed + 1)); echo "ok   chat prints the answer line"
else failed=$((failed + 1)); echo "FAIL chat prints the answer line"; fi
check "generate --answer-only" "943" "$("$MUSE" generate --model "$MODEL" -p "23*41" --answer-only 2>&1)"
check "seeded sampling is reproducible" "$("$MUSE" generate --model "$MODEL" -p "target 24 from 3 7 8 2" \
  --temperature 0.8 --top-p 0.9 --seed 5 2>&1)" \
  "$("$MUSE" generate --model "$MODEL" -p "target 24 from 3 7 8 2" --temperature 0.8 --top-p 0.9 --seed 5 2>&1)"
check "eval on held-out problems" "| add | 3 | 50 | 100.0% |" \
  "$("$MUSE" eval --model "$MODEL" --tasks add --difficulty 3 -n 50 2>&1)"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
