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
source "$SRC/tests/cli/serve_lib.sh"
start_server --model-name default --api-key sk-test --kv-mem 32
# Copied beside its node_modules, so that `import 'openai'` resolves there.
cp "$SRC/tests/cli/openai_client.mjs" "$NPM_DIR/openai_client.mjs"
node "$NPM_DIR/openai_client.mjs" "http://127.0.0.1:$port/v1" sk-test "$SRC/examples/images/chart.png"
