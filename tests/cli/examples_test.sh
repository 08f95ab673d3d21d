#!/usr/bin/env bash
# Every example a person is shown — each `muse generate` line of README.md, the prompts `muse chat` suggests in
# its banner, and the examples in `--help` — is answered correctly by the shipped default model. The examples
# are read from those places (not listed here), and each answer is checked against the problem itself:
# arithmetic is recomputed, a Countdown expression is evaluated exactly and its numbers checked, a table
# question is answered from the CSV, an image question from the answer file next to the image. A README line
# whose comment says "not reliable yet" is run and shown but not required (the README says the model misses it).
# Usage: examples_test.sh PATH/TO/muse SOURCE_DIR
set -u
MUSE=$(realpath "$1")
SOURCE=$(realpath "$2")
MODEL="$SOURCE/models/default"
cd "$SOURCE" || exit 1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_examples.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# One line per example: WHERE, PROMPT, IMAGE, TABLE split by \x1f (IMAGE and TABLE may be empty), from every
# `muse generate` command line of a text.
cat >"$WORK/commands.py" <<'EOF'
import shlex, sys
where, path = sys.argv[1], sys.argv[2]
for line in open(path, encoding="utf-8"):
    if "muse generate" not in line:
        continue
    command, _, comment = line.partition(" #")
    # A line marked "not reliable yet" is run and shown, not required: the README says the model misses it.
    known_miss = "not reliable yet" in comment
    args = shlex.split(command.strip().split("muse generate", 1)[1])
    prompt = image = table = ""
    mode = []  # how the example asks to be answered: --mode, --agents, --synthesis, --tools
    for i, a in enumerate(args[:-1]):
        if a in ("-p", "--prompt"): prompt = args[i + 1]
        if a == "--image": image = args[i + 1]
        if a == "--table": table = args[i + 1]
        if a in ("--mode", "--agents", "--synthesis", "--tools"): mode += [a, args[i + 1]]
    if prompt:
        print("%s\x1f%s\x1f%s\x1f%s\x1f%s" % (where + (" (not reliable yet)" if known_miss else ""), prompt, image, table,
                                       " ".join(mode)))
EOF
python3 "$WORK/commands.py" README.md "$SOURCE/README.md" >"$WORK/readme.tsv" || exit 1
banner=$("$MUSE" chat --model "$MODEL" </dev/null 2>&1 | head -3)
python3 - "$banner" >"$WORK/banner.tsv" <<'EOF' || exit 1
import re, sys
m = re.search(r"Try: (.*)", sys.argv[1])
if not m:
    sys.exit("the chat banner has no 'Try:' line: " + sys.argv[1])
for prompt in re.findall(r'"([^"]+)"', m.group(1)):
    print("chat banner\x1f%s\x1f\x1f\x1f" % prompt)
EOF
for command in "" generate chat; do
  "$MUSE" $command --help >"$WORK/help.txt" 2>&1
  python3 "$WORK/commands.py" "muse $command --help" "$WORK/help.txt" >>"$WORK/help.tsv" || exit 1
done
cat "$WORK/readme.tsv" "$WORK/banner.tsv" "$WORK/help.tsv" >"$WORK/all.tsv"
for part in readme banner help; do
  if [[ ! -s "$WORK/$part.tsv" ]]; then echo "FAIL no examples found in the $part"; exit 1; fi
done

passed=0
failed=0
while IFS=$'\x1f' read -r where prompt image table mode; do
  args=(-p "$prompt")
  # shellcheck disable=SC2206
  [[ -n "$mode" ]] && args+=($mode)
  [[ -n "$image" ]] && args+=(--image "$image")
  [[ -n "$table" ]] && args+=(--table "$table")
  answer=$("$MUSE" generate --model "$MODEL" "${args[@]}" --answer-only 2>&1)
  verdict=$(python3 - "$prompt" "$answer" "$image" "$table" <<'EOF'
import csv, re, sys
from fractions import Fraction
prompt, answer, image, table = sys.argv[1:5]
answer = answer.strip()

def countdown(prompt):
    nums = [int(n) for n in re.findall(r"\d+", prompt)]
    m = re.search(r"(?:target|make|reach|get)\s+(\d+)", prompt, re.I) or re.search(r"->\s*(\d+)", prompt)
    if not m:
        return None
    target = int(m.group(1))
    nums.remove(target)
    return target, nums

def exact(expression):
    # + - * / and parentheses over integers, evaluated in exact fractions (no eval of anything else).
    tokens = re.findall(r"\d+|[-+*/()]", expression)
    if "".join(tokens) != expression.replace(" ", ""):
        raise ValueError("not an expression")
    pos = 0
    def peek():
        return tokens[pos] if pos < len(tokens) else None
    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]
    def atom():
        t = take()
        if t == "(":
            v = expr()
            if take() != ")": raise ValueError("unbalanced")
            return v
        return Fraction(int(t))
    def term():
        v = atom()
        while peek() in ("*", "/"):
            v = v * atom() if take() == "*" else v / atom()
        return v
    def expr():
        v = term()
        while peek() in ("+", "-"):
            v = v + term() if take() == "+" else v - term()
        return v
    v = expr()
    if pos != len(tokens): raise ValueError("trailing input")
    return v

if image:
    expected = open(re.sub(r"\.png$", ".answer", image)).read().strip()
    print("ok" if answer.lower() == expected.lower() else "wrong (expected %s)" % expected)
elif table:
    rows = list(csv.DictReader(open(table)))
    key = list(rows[0].keys())[0]
    m = re.search(r"(\w+) of (\w+)", prompt)
    if "total" in prompt:
        column = re.search(r"total (\w+)", prompt).group(1)
        expected = str(sum(int(r[column]) for r in rows))
    elif m:
        expected = next(r[m.group(1)] for r in rows if r[key] == m.group(2))
    else:
        print("cannot check this table question"); sys.exit()
    print("ok" if answer == expected else "wrong (expected %s)" % expected)
elif countdown(prompt) and re.search(r"target|make|reach|->", prompt, re.I):
    target, nums = countdown(prompt)
    try:
        value = exact(answer)
    except (ValueError, ZeroDivisionError, IndexError):
        print("not an expression"); sys.exit()
    used = [int(n) for n in re.findall(r"\d+", answer)]
    left = list(nums)
    ok = value == target
    for n in used:
        if n in left: left.remove(n)
        else: ok = False
    print("ok" if ok else "wrong (%s = %s, target %d from %s)" % (answer, value, target, nums))
else:
    m = re.search(r"(\d+)\s*(?:([-+*x])|(plus|minus|times))\s*(\d+)", prompt)
    if not m:
        print("cannot check this prompt"); sys.exit()
    a, b = int(m.group(1)), int(m.group(4))
    op = m.group(2) or {"plus": "+", "minus": "-", "times": "*"}[m.group(3)]
    expected = a + b if op == "+" else a - b if op == "-" else a * b
    print("ok" if answer == str(expected) else "wrong (expected %d)" % expected)
EOF
)
  if [[ "$verdict" == ok ]]; then passed=$((passed + 1)); echo "ok   $where: $prompt -> $answer"
  elif [[ "$where" == *"(not reliable yet)"* ]]; then echo "miss $where: $prompt -> $answer: $verdict"
  else failed=$((failed + 1)); echo "FAIL $where: $prompt -> $answer: $verdict"; fi
done <"$WORK/all.tsv"  # fields split at \x1f: a tab would merge empty fields
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
