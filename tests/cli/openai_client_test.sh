#!/usr/bin/env bash
# The official OpenAI client library (npm `openai`) drives `muse serve` unchanged (tests/cli/openai_client.mjs).
# The package is installed from npm into the build folder the first time (the one test that needs the network,
# once); without node, or when npm cannot fetch it, the test is skipped (exit 77) and says why.
# Usage: openai_client_test.sh PATH/TO/muse SOURCE_DIR
set -u
MUSE=$(realpath "$1")
SRC=$(realpath "${2:-.}")
NPM_DIR="$(dirname "$MUSE")/../npm"
command -v node >/dev/null || { echo "SKIP: node is not installed (apt-get install nodejs)"; exit 77; }
if [ ! -f "$NPM_DIR/node_modules/openai/package.json" ]; then
  mkdir -p "$NPM_DIR"
  if ! (cd "$NPM_DIR" && timeout 180 npm install --no-audit --no-fund --silent openai@4 >npm.log 2>&1); then
    echo "SKIP: npm could not install the openai package: $(tail -n 3 "$NPM_DIR/npm.log" 2>/dev/null)"
    exit 77
  fi
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_openai.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MUSE" serve --model "$SRC/models/default" --model-name default --port "$port" --api-key sk-test --kv-mem 32 \
  >"$WORK/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: muse serve exited early"; cat "$WORK/log"; exit 1; }
  sleep 0.2
done
# Copied beside its node_modules, so that `import 'openai'` resolves there.
cp "$SRC/tests/cli/openai_client.mjs" "$NPM_DIR/openai_client.mjs"
node "$NPM_DIR/openai_client.mjs" "http://127.0.0.1:$port/v1" sk-test "$SRC/examples/images/chart.png"
